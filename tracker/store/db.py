"""Engines and sessions: SQLite embedded by default (WAL, busy timeout, mode 0600), PostgreSQL
via psycopg 3 for several replicas. Thin: no business rules here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from tracker.errors import ConfigError, EnvironmentFailure

# Execution option marking a connection whose transactions only read (see read_only).
READ_ONLY = "svarfrist_read_only"
# How long a SQLite writer waits for another writer before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000
# The migrations, the upserts (upsert_insert) and the tests cover these two and no other.
SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for ``url``; a new SQLite file is created with mode 0600 (notes are private).
    Without ``create``, a SQLite file that does not exist is an EnvironmentFailure: a command
    that needs the register must not leave an empty file where a mistyped path points."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("database_url", f"not a database URL: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise ConfigError(
            "database_url", f"{backend!r} is not supported: use sqlite:/// or postgresql+psycopg://"
        )
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database)
            if not path.exists():
                if not create:
                    raise EnvironmentFailure(f"no database at {path}: `svarfrist init` creates it")
                _create_private_file(path)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def _create_private_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module so BEGIN IMMEDIATE below is honoured.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Writers take the lock at BEGIN, so two processes never deadlock upgrading a read lock;
    # the busy timeout then makes the second one wait instead of failing. A read-only unit of
    # work (a report, an export) begins deferred: in WAL mode it then never blocks a writer.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def read_only(engine: Engine) -> Engine:
    """The same engine for work that only reads: on SQLite it does not take the write lock."""
    return engine.execution_options(**{READ_ONLY: True})


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back (writing nothing) on any error."""
    with factory() as session, session.begin():
        yield session


def upsert_insert(session: Session) -> Any:
    """The session's dialect's INSERT, which has ``on_conflict_do_nothing``/``_do_update``."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
