"""Purge leaves no copy of a note on disk: not in the database file, its -wal or its -shm,
while the daemon runs against the same SQLite file (its connections keep the log alive)."""

from __future__ import annotations

import signal
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

from conftest import SVARFRIST, clean_env
from daemon_world import World
from register_support import cli_env, write_config
from smtp_sink import Sink

COPIES = 5


def _copies(folder: Path, needle: bytes) -> dict[str, int]:
    """How often ``needle`` occurs in the raw bytes of each file of the database."""
    return {p.name: p.read_bytes().count(needle) for p in sorted(folder.glob("p.db*"))}


def _start_daemon(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [SVARFRIST, "run"], env=clean_env(env), cwd=cwd, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    line = "-"
    while line and "daemon started" not in line:
        line = proc.stderr.readline()
    assert "daemon started" in line, proc.poll()
    # Drain its log from here on, so a full pipe never blocks it inside a transaction.
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    return proc


def test_purge_leaves_no_copy_of_a_note_in_any_database_file_while_the_daemon_runs(
    run_cli: Any, tmp_path: Path
) -> None:
    note = f"Borgeren Jens Hansen {uuid.uuid4().hex}"
    sink = Sink().start()
    world = World(f"sqlite:///{tmp_path / 'p.db'}", sink.port)
    env = cli_env(world.settings.database_url, write_config(tmp_path / "svarfrist.toml"))
    env |= sink.env() | {"SVARFRIST_DAEMON__SWEEP_INTERVAL_SECONDS": "1"}
    daemon = _start_daemon(env, tmp_path)
    try:
        for day in range(1, COPIES + 1):
            added = run_cli(
                "add", "--channel", "email", "--department", "Diverse", "--note", note,
                "--received", f"2026-09-{day:02d}T10:00", env=env,
            )  # fmt: skip
            assert added.returncode == 0, added.stderr
            ref = added.stdout.strip()
            closed = run_cli("close", ref, "--at", f"2026-09-{day:02d}T11:00", env=env)
            assert closed.returncode == 0, closed.stderr
        assert sum(_copies(tmp_path, note.encode()).values()) >= COPIES  # the search sees them
        purged = run_cli("purge", env=env)  # closed long before the real clock's 30 days
        assert purged.returncode == 0, purged.stderr
        assert f"purged the notes of {COPIES} inquiries" in purged.stdout
        assert purged.stderr == ""  # no warning: the log was emptied
        found = _copies(tmp_path, note.encode())
        assert found and all(n == 0 for n in found.values()), found
        assert daemon.poll() is None, "the daemon ran throughout"
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        sink.stop()
        world.close()
