"""The SQLite engine: private file, WAL, writers take the lock at BEGIN, readers never do."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import SVARFRIST, clean_env
from sqlalchemy import text

from tracker.store.db import checkpoint, database_files, make_engine, read_only, sqlite_path


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


def test_every_connection_overwrites_deleted_content(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    engine.dispose()


def test_checkpoint_empties_the_write_ahead_log(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
        conn.execute(text("INSERT INTO t VALUES ('canary-in-the-log')"))
    assert b"canary-in-the-log" in path.with_name("c.db-wal").read_bytes()
    assert checkpoint(engine) is True
    assert path.with_name("c.db-wal").stat().st_size == 0
    engine.dispose()


def test_database_files_are_the_file_and_its_side_files_with_symlinks_resolved(
    tmp_path: Path,
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link.db").symlink_to(tmp_path / "real" / "r.db")
    files = database_files(f"sqlite:///{tmp_path / 'link.db'}")
    for name in ("r.db", "r.db-wal", "r.db-shm", "r.db-journal"):
        assert tmp_path / "real" / name in files
    assert database_files("postgresql+psycopg://u@h/db") == []
    assert sqlite_path(f"sqlite:///file:{tmp_path / 'u.db'}?uri=true") == tmp_path / "u.db"
    assert sqlite_path("sqlite:///file:mem?mode=memory&uri=true") is None
    assert sqlite_path("sqlite://") is None


def _init_under_umask_000(url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", f'umask 000 && exec "{SVARFRIST}" init'],
        env=clean_env({"SVARFRIST_DATABASE_URL": url}),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("uri", [False, True], ids=["path", "uri"])
def test_init_under_umask_000_creates_private_folders_and_a_private_file(
    tmp_path: Path, uri: bool
) -> None:
    path = tmp_path / "state" / "svarfrist" / "register.db"
    url = f"sqlite:///file:{path}?uri=true" if uri else f"sqlite:///{path}"
    result = _init_under_umask_000(url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    for folder in (tmp_path / "state", tmp_path / "state" / "svarfrist"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for file in path.parent.iterdir():  # the database and any -wal/-shm SQLite made
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def test_init_warns_when_the_database_or_a_config_with_a_password_is_readable_by_others(
    tmp_path: Path,
) -> None:
    path = tmp_path / "open.db"
    config = tmp_path / "svarfrist.toml"
    config.write_text('[smtp]\nhost = "mail"\npassword = "hemmeligt"\n', encoding="utf-8")
    config.chmod(0o600)
    env = clean_env(
        {"SVARFRIST_DATABASE_URL": f"sqlite:///{path}", "SVARFRIST_CONFIG": str(config)}
    )
    first = subprocess.run(
        [SVARFRIST, "init"], env=env, capture_output=True, text=True, check=False
    )
    assert first.returncode == 0 and first.stderr == "", first.stderr  # 0600, 0600: quiet
    path.chmod(0o644)
    config.chmod(0o640)
    again = subprocess.run(
        [SVARFRIST, "init"], env=env, capture_output=True, text=True, check=False
    )
    assert again.returncode == 0, again.stderr
    lines = again.stderr.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["warning:", "warning:"], lines
    assert f"the database {path} is readable by other users (mode 0644)" in lines[0]
    assert f"the config file, which holds a password, {config}" in lines[1]
    assert "hemmeligt" not in again.stderr
