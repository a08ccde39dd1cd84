"""Helpers for the register tests: per-test config files, in-process seeding, database dumps.

Seeding happens in-process (fast); the behaviour under test always runs through the real
console script. A dump of every table before and after a refused command proves that
nothing was written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, select

from tracker.config import Settings, build_calendar, build_rules
from tracker.sla import Rule
from tracker.store import schema
from tracker.store.db import make_engine, session_factory, transaction
from tracker.store.register import Context

DEPARTMENTS = ["Diverse", "Teknik og Miljø", "Børn og Unge"]
TOPICS = ["Kontanthjælp", "Boligindskudslån", 'Råd; "hjælp", og ærinder']
RECIPIENT = "borgervejleder@fredericia.dk"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def toml_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return (
            "{"
            + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
            + "}"
        )
    return json.dumps(value, ensure_ascii=False)


def write_config(path: Path, **settings: Any) -> Path:
    """A TOML config; defaults: the test departments and topics and a default recipient."""
    values: dict[str, Any] = {
        "departments": DEPARTMENTS,
        "topics": TOPICS,
        "default_recipient": RECIPIENT,
    }
    values.update(settings)
    lines = [f"{key} = {toml_value(value)}" for key, value in values.items() if value is not None]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli_env(database_url: str, config: Path, **extra: str) -> dict[str, str]:
    return {
        "SVARFRIST_DATABASE_URL": database_url,
        "SVARFRIST_CONFIG": str(config),
        "USER": "tester",
        **extra,
    }


def sqlite_and_postgres(
    run_cli: Any, tmp_path: Path, postgres_url: str
) -> tuple[dict[str, str], dict[str, str]]:
    """CLI environments of a new SQLite file and the test's PostgreSQL database, one config,
    both initialised (``svarfrist init``): for moving a register from one to the other."""
    config = write_config(tmp_path / "svarfrist.toml")
    envs = cli_env(f"sqlite:///{tmp_path / 'lite.db'}", config), cli_env(postgres_url, config)
    for env in envs:
        result = run_cli("init", env=env)
        assert result.returncode == 0, result.stderr
    return envs


def settings_for(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "departments": DEPARTMENTS,
        "topics": TOPICS,
        "default_recipient": RECIPIENT,
    }
    values.update(overrides)
    return Settings(**values)


def context(settings: Settings, now: datetime = NOW, actor: str = "seed") -> Context:
    rules: dict[str, Rule] = build_rules(settings)
    return Context(
        settings=settings, calendar=build_calendar(settings), rules=rules, actor=actor, now=now
    )


@contextmanager
def engine_for(database_url: str, *, init: bool = True) -> Iterator[Engine]:
    engine = make_engine(database_url)
    try:
        if init:
            schema.upgrade(engine)
        yield engine
    finally:
        engine.dispose()


@contextmanager
def session_on(engine: Engine) -> Iterator[Any]:
    with transaction(session_factory(engine)) as session:
        yield session


def dump(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order (to compare before/after)."""
    engine = make_engine(database_url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return {
                name: [
                    tuple(r)
                    for r in conn.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for name, table in sorted(meta.tables.items())
            }
    finally:
        engine.dispose()


def assert_refused(result: Any, *, fragment: str | None = None) -> None:
    """Exit 2, exactly one ``error:`` line on stderr, no traceback, nothing on stdout."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    if fragment is not None:
        assert fragment in lines[0], lines[0]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
