"""Bad input is refused with exit 2, one ``error:`` line, no traceback and nothing written;
an unreachable database is exit 1; concurrent writers lose nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_env
from register_support import (
    assert_refused,
    cli_env,
    context,
    dump,
    engine_for,
    session_on,
    settings_for,
    utc,
    write_config,
)
from sqlalchemy import func, select

from tracker.store import register
from tracker.store.models import Inquiry
from tracker.store.register import NewInquiry

ADD = ("add", "--channel", "email", "--department", "Diverse")


def seed(database_url: str) -> None:
    """2026-000001 open, 2026-000002 closed, 2026-000003 paused, 2026-000004 paused 12-14,
    2026-000005 replied to at 11:30."""
    settings = settings_for(database_url)
    ctx = context(settings, now=utc("2026-11-26T12:00+01:00"))
    with engine_for(database_url) as engine, session_on(engine) as session:
        for day in ("25", "25", "25", "25", "25"):
            new = NewInquiry(
                channel="email", department="Diverse", received_at=utc(f"2026-11-{day}T10:00+01:00")
            )
            register.add(session, ctx, new)
        register.close(session, ctx, "2026-000002", utc("2026-11-25T12:00+01:00"))
        register.pause(session, ctx, "2026-000003", utc("2026-11-25T12:00+01:00"))
        register.pause(session, ctx, "2026-000004", utc("2026-11-25T12:00+01:00"))
        register.resume(session, ctx, "2026-000004", utc("2026-11-25T14:00+01:00"))
        register.reply(session, ctx, "2026-000005", utc("2026-11-25T11:30+01:00"))


BAD_INPUTS: list[tuple[str, tuple[str, ...], str]] = [
    ("unknown channel", ("add", "--channel", "fax", "--department", "Diverse"), "channel"),
    ("unknown department", ("add", "--channel", "email", "--department", "Nope"), "department"),
    ("unknown topic", (*ADD, "--topic", "Hundeluftning"), "unknown topic"),
    ("malformed time", (*ADD, "--received", "yesterday"), "not an ISO 8601 time"),
    ("impossible date", (*ADD, "--received", "2026-02-30T10:00"), "not an ISO 8601 time"),
    # Python's fromisoformat takes any character between date and time: 25 Nov at 10:00
    ("a digit for the T", (*ADD, "--received", "2026-11-25510:00"), "not an ISO 8601 time"),
    ("a slash for the T", ("reply", "2026-000001", "--at", "2026-11-25/11:00"), "ISO 8601"),
    ("time skipped by DST", (*ADD, "--received", "2026-03-29T02:30"), "does not exist"),
    ("time outside the range", (*ADD, "--received", "0001-01-01T00:00"), "outside the supported"),
    ("duplicate ref", (*ADD, "--ref", "2026-000001"), "duplicate ref"),
    ("malformed ref", (*ADD, "--ref", "two words"), "ref"),
    ("note too long", (*ADD, "--note", "x" * 11), "note_max_length"),
    ("advisor not an address", (*ADD, "--advisor", "Jens Hansen"), "advisor"),
    ("actor is free text", (*ADD, "--actor", "Jens; the tall one"), "actor"),
    ("missing channel", ("add", "--department", "Diverse"), "--channel"),
    ("unknown ref", ("reply", "2026-999999"), "unknown ref"),
    ("reply before receipt", ("reply", "2026-000001", "--at", "2026-11-24T10:00"), "before"),
    ("callback before receipt", ("callback", "2026-000001", "--at", "2026-11-25T09:59"), "before"),
    ("close twice", ("close", "2026-000002"), "already closed"),
    ("reply to a closed inquiry", ("reply", "2026-000002"), "closed"),
    ("pause while paused", ("pause", "2026-000003"), "already paused"),
    ("resume when not paused", ("resume", "2026-000001"), "not paused"),
    ("resume before the pause", ("resume", "2026-000003", "--at", "2026-11-25T11:00"), "before"),
    ("close before the pause", ("close", "2026-000003", "--at", "2026-11-25T11:00"), "before"),
    # Closing fulfils what is pending then: before the reply it would make the reply on time.
    (
        "close before the recorded reply",
        ("close", "2026-000005", "--at", "2026-11-25T11:00"),
        "is before the recorded reply (2026-11-25T11:30:00+01:00)",
    ),
    (
        "close inside an ended pause",
        ("close", "2026-000004", "--at", "2026-11-25T13:00"),
        "before the last pause ended",
    ),
    ("show unknown ref", ("show", "nope"), "unknown ref"),
    ("unknown list state", ("list", "--state", "late"), "invalid choice"),
    ("import a missing file", ("import", "missing.csv"), "cannot read"),
]


@pytest.mark.parametrize(("name", "args", "fragment"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_refused_and_nothing_is_written(
    run_cli: Any, database_url: str, tmp_path: Path, name: str, args: tuple[str, ...], fragment: str
) -> None:
    seed(database_url)
    config = write_config(tmp_path / "svarfrist.toml", note_max_length=10)
    before = dump(database_url)
    result = run_cli(*args, env=cli_env(database_url, config))
    assert_refused(result, fragment=fragment)
    assert dump(database_url) == before


def test_add_without_advisor_or_default_recipient_is_refused(
    run_cli: Any, database_url: str, tmp_path: Path
) -> None:
    seed(database_url)
    config = write_config(tmp_path / "svarfrist.toml", default_recipient=None)
    before = dump(database_url)
    result = run_cli(*ADD, env=cli_env(database_url, config))
    assert_refused(result, fragment="default_recipient")
    assert dump(database_url) == before
    with_advisor = run_cli(*ADD, "--advisor", "a@b.dk", env=cli_env(database_url, config))
    assert with_advisor.returncode == 0, with_advisor.stderr


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:1/svarfrist",
        "sqlite:////proc/no-such-dir/svarfrist.db",
    ],
    ids=["postgres-port-closed", "sqlite-unwritable-dir"],
)
def test_an_unreachable_database_is_exit_1_with_one_error_line(
    run_cli: Any, tmp_path: Path, url: str
) -> None:
    config = write_config(tmp_path / "svarfrist.toml")
    for args in (("init",), ADD, ("list",)):
        result = run_cli(*args, env=cli_env(url, config))
        assert result.returncode == 1, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert "Traceback" not in result.stderr


def test_a_command_on_a_missing_sqlite_file_creates_nothing(run_cli: Any, tmp_path: Path) -> None:
    """A mistyped path must not leave an empty database behind; only `init` creates one."""
    missing = tmp_path / "typo" / "svarfrist.db"
    env = cli_env(f"sqlite:///{missing}", write_config(tmp_path / "svarfrist.toml"))
    for args in (ADD, ("list",), ("status",), ("export",), ("tick",)):
        result = run_cli(*args, env=env)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr == f"error: no database at {missing}: `svarfrist init` creates it\n"
    assert not missing.parent.exists()
    assert run_cli("init", env=env).returncode == 0
    assert missing.exists()


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("not a url", "not a database URL"),
        ("mysql://root@127.0.0.1:1/test", "'mysql' is not supported"),
        # SQLAlchemy names other drivers of a supported database: not installed, and the
        # operator saw "ModuleNotFoundError: No module named 'asyncpg'" with exit 1
        ("postgresql+asyncpg://svarfrist:hunter2@127.0.0.1:1/test", "postgresql+psycopg://"),
        ("postgresql+psycopg2://svarfrist@127.0.0.1:1/test", "'psycopg2' is not supported"),
        ("sqlite+foo:///svarfrist.db", "'foo' is not supported"),
    ],
    ids=["malformed", "unsupported-backend", "asyncpg", "psycopg2", "unknown-sqlite-driver"],
)
def test_a_database_url_svarfrist_cannot_use_is_a_config_error(
    run_cli: Any, tmp_path: Path, url: str, fragment: str
) -> None:
    config = write_config(tmp_path / "svarfrist.toml")
    for args in (("init",), ("list",)):
        result = run_cli(*args, env=cli_env(url, config))
        assert_refused(result, fragment=fragment)
        assert "hunter2" not in result.stderr
    assert not (tmp_path / "svarfrist.db").exists()


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    sys.path.insert(0, sys.argv[3])
    from register_support import context, engine_for, session_on, settings_for
    from tracker.store import register
    from tracker.store.register import NewInquiry

    url, count = sys.argv[1], int(sys.argv[2])
    ctx = context(settings_for(url), actor="writer")
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    with engine_for(url, init=False) as engine:
        for i in range(count):
            with session_on(engine) as session:  # one transaction per inquiry
                new = NewInquiry(channel="email", department="Diverse",
                                 received_at=start + timedelta(seconds=i))
                register.add(session, ctx, new)
    """
)


def test_two_concurrent_writers_lose_nothing_and_refs_stay_unique(
    database_url: str, tmp_path: Path
) -> None:
    with engine_for(database_url):
        pass
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    tests_dir = str(Path(__file__).parent)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), database_url, "500", tests_dir],
            env=clean_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    with engine_for(database_url, init=False) as engine, engine.connect() as conn:
        refs = list(conn.scalars(select(Inquiry.ref).order_by(Inquiry.ref)))
        count = conn.scalar(select(func.count()).select_from(Inquiry))
    assert count == 1000
    assert refs == [f"2026-{n:06d}" for n in range(1, 1001)]
