"""How the console script ends: all of its output delivered, even though it skips the
interpreter's teardown, and quietly when the reader of its output goes away."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import SVARFRIST, clean_env
from register_support import cli_env, write_config

ROWS = 3_000  # an export of some 300 kB: many times the size of stdout's buffer


def buffered(extra: dict[str, str]) -> dict[str, str]:
    """clean_env without the suite's PYTHONUNBUFFERED: stdout buffered, as a user has it."""
    env = clean_env(extra)
    del env["PYTHONUNBUFFERED"]
    return env


@pytest.fixture
def filled(tmp_path: Path) -> dict[str, str]:
    """The environment (buffered) of a SQLite register holding ROWS inquiries."""
    env = buffered(
        cli_env(f"sqlite:///{tmp_path / 'register.db'}", write_config(tmp_path / "c.toml"))
    )
    lines = ["received_at,channel,department,advisor"]
    lines += [f"2026-11-2{i % 5}T10:00:00+01:00,phone,Diverse,a@b.dk" for i in range(ROWS)]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for args in (["init"], ["import", "rows.csv"]):
        subprocess.run([SVARFRIST, *args], env=env, cwd=tmp_path, check=True, capture_output=True)
    return env


def test_buffered_output_is_delivered_in_full(filled: dict[str, str], tmp_path: Path) -> None:
    proc = subprocess.run(
        [SVARFRIST, "export"], env=filled, cwd=tmp_path, capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode("utf-8").splitlines()
    assert len(lines) == ROWS + 1
    assert lines[-1].startswith(f"2026-{ROWS:06d},")
    assert proc.stdout.endswith(b"\r\n")


def test_a_reader_that_stops_reading_ends_the_command_quietly(
    filled: dict[str, str], tmp_path: Path
) -> None:
    """``svarfrist export | head -1``: no error message, and a status that is not success."""
    proc = subprocess.Popen(
        [SVARFRIST, "export"], env=filled, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"ref,")
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 1
    assert stderr == b""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_output_that_cannot_be_written_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    """A full disk (/dev/full) when the output is flushed at the end: exit 1, one line."""
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [SVARFRIST, "calendar", "--year", "2026"], env=buffered({}), cwd=tmp_path,
            stdout=full, stderr=subprocess.PIPE, check=False, timeout=120,
        )  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stderr.decode().splitlines()
    assert lines == ["error: the output could not be written: No space left on device"]
