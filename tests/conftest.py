"""Shared fixtures: the real console script, isolated databases (SQLite file, PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get("SVARFRIST_TEST_POSTGRES_URL")
SVARFRIST = shutil.which("svarfrist", path=str(Path(sys.executable).parent)) or "svarfrist"


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a CLI run: no SVARFRIST_* leaks from the developer's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SVARFRIST_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@pytest.fixture
def run_cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the real ``svarfrist`` console script in a subprocess; returns a Result."""

    def run(*args: str, env: Mapping[str, str] | None = None, stdin: str | None = None) -> Result:
        proc = subprocess.run(
            [SVARFRIST, *args],
            capture_output=True,
            text=True,
            env=clean_env(env),
            cwd=tmp_path,
            input=stdin,
            timeout=120,
            check=False,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards.

    Skips with a reason when SVARFRIST_TEST_POSTGRES_URL is unset; CI sets it, so there the
    PostgreSQL tests run and fail if the server is unreachable.
    """
    if not POSTGRES_URL:
        pytest.skip("SVARFRIST_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    with fresh_postgres_database(POSTGRES_URL) as url:
        yield url


@contextmanager
def fresh_postgres_database(server_url: str, prefix: str = "svarfrist_t") -> Iterator[str]:
    """Create an empty database on the server of ``server_url``; drop it afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs twice: against a SQLite file and against PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'svarfrist.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
