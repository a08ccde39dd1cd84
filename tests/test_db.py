"""The SQLite engine: private file, WAL, writers take the lock at BEGIN, readers never do."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from tracker.store.db import make_engine, read_only


def _other_writer(path: Path) -> sqlite3.Connection:
    # A second process's writer that gives up at once instead of waiting for the lock.
    conn = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_a_new_database_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_read_only_transaction_does_not_block_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with read_only(engine).begin() as reader:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 1
        writer = _other_writer(path)  # would raise "database is locked" under BEGIN IMMEDIATE
        writer.execute("INSERT INTO t VALUES (2)")
        writer.execute("COMMIT")
        writer.close()
    engine.dispose()


def test_a_write_transaction_takes_the_lock_at_begin(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    with engine.begin() as conn:
        conn.execute(text("SELECT 1"))  # nothing written yet, the lock is already held
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _other_writer(path)
    engine.dispose()
