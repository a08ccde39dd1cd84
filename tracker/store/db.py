"""Engines and sessions: SQLite embedded by default (WAL, busy timeout, secure_delete, a file
of mode 0600 in folders of 0700), PostgreSQL via psycopg 3 for several replicas. Thin: no
business rules here."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

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
# Each connection's page cache (KiB); see _sqlite_pragmas.
SQLITE_CACHE_KIB = 512
# The migrations, the upserts (upsert_insert) and the tests cover these two, each with the
# one driver installed for it (the standard library's sqlite3, psycopg 3), and no other.
SUPPORTED_BACKENDS = {"sqlite": "pysqlite", "postgresql": "psycopg"}


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for ``url``; a new SQLite file is created with mode 0600 (notes are private).
    Without ``create``, a SQLite file that does not exist is an EnvironmentFailure: a command
    that needs the register must not leave an empty file where a mistyped path points."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("database_url", f"not a database URL: {url!r}") from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if SUPPORTED_BACKENDS.get(backend) != driver:
        unsupported = driver if backend in SUPPORTED_BACKENDS else backend
        raise ConfigError(
            "database_url",
            f"{unsupported!r} is not supported: use sqlite:/// or postgresql+psycopg://",
        )
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None and not path.exists():
            if not create:
                raise EnvironmentFailure(f"no database at {path}: `svarfrist init` creates it")
            _create_private_file(path)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def sqlite_path(url: str) -> Path | None:
    """The file a SQLite URL names, plain (``sqlite:///x.db``) or as a URI
    (``sqlite:///file:x.db?uri=true``); None for another backend or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database.startswith("file:"):
        # SQLAlchemy hands the URL's query (mode=..., uri=true) on to the driver apart.
        uri = urlsplit(database)
        query = dict(p.partition("=")[::2] for p in uri.query.split("&") if p)
        mode = parsed.query.get("mode") or query.get("mode")
        database = "" if mode == "memory" else unquote(uri.path)
    if not database or database == ":memory:":
        return None
    return Path(database)


def database_files(url: str) -> list[Path]:
    """The files a SQLite database lives in (the database, -wal, -shm, -journal), symlinks
    resolved; empty for PostgreSQL. What a command must never overwrite with its output."""
    path = sqlite_path(url)
    if path is None:
        return []
    found: list[Path] = []
    # SQLite opens the target of a symlinked database and keeps its -wal beside the target;
    # the link's own siblings are listed too, in case another SQLite build does not.
    for main in dict.fromkeys((path.absolute(), path.resolve())):
        for name in (main, *(main.with_name(main.name + s) for s in SQLITE_SIDE_FILES)):
            found.append(name.resolve())
    return list(dict.fromkeys(found))


SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _create_private_file(path: Path) -> None:
    # Created 0700/0600 whatever the umask: the notes are private. mkdir(parents=True)
    # would give the missing parents the umask's mode (0777 under umask 000).
    missing = [p for p in reversed(path.absolute().parents) if not p.exists()]
    for folder in missing:
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask; this is not
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def checkpoint(engine: Engine) -> bool:
    """Copy SQLite's write-ahead log into the database file and truncate it to zero bytes,
    so that what a transaction erased (purge) survives in no old log frame; the erased
    cells of the file itself are zeroed by secure_delete. True when the log was emptied
    (always on PostgreSQL, which has no such file); False when a reader still uses it."""
    if engine.dialect.name != "sqlite":
        return True
    # The DB-API connection, outside any transaction: a checkpoint cannot run inside one
    # (SQLAlchemy's begin hook would open BEGIN IMMEDIATE first).
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        busy, _log_frames, _copied = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.close()
    finally:
        raw.close()
    return bool(busy == 0)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module so BEGIN IMMEDIATE below is honoured.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A small page cache per connection (SQLite's default is 2 MiB): every pooled connection
    # keeps its own, so the web server's memory grew with the file (bench/web.py: +36 %
    # from 1,000 to 1,000,000 inquiries); the OS page cache holds the file once for all.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    # Deleted content is overwritten with zeros, in the page and in free pages alike: a
    # purged note must not linger in the file (upstream SQLite's default is OFF).
    cursor.execute("PRAGMA secure_delete=ON")
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


def per_dialect(build: Callable[[Any], Any]) -> Callable[[Session], Any]:
    """An upsert built once for each dialect (``build`` takes :func:`upsert_insert`'s
    INSERT), for a statement run once per inquiry: built on the table (Core) and run with
    its values as parameters, where a statement built anew on every call and run through
    the ORM's bulk path costs several times the statement itself. The result gives the
    session's dialect's statement."""
    built = {insert: build(insert) for insert in (sqlite.insert, postgresql.insert)}
    return lambda session: built[upsert_insert(session)]
