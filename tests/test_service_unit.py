"""config/svarfrist.service: the keys operations rely on, and ``systemd-analyze verify``."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "config" / "svarfrist.service"
WEB_UNIT = UNIT.with_name("svarfrist-web.service")
WEB_EXEC = "/opt/svarfrist/.venv/bin/svarfrist web --host 127.0.0.1 --port 8080"


def unit_lines(unit: Path = UNIT) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for raw in unit.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "[")):
            continue
        key, _, value = line.partition("=")
        values.setdefault(key, []).append(value)
    return values


def test_the_unit_is_a_hardened_notify_service_running_the_venv_binary() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT, encoding="utf-8")
    assert parser.has_section("Service") and parser.has_section("Install")
    v = unit_lines()
    assert v["Type"] == ["notify"] and v["NotifyAccess"] == ["main"]
    assert v["ExecStart"] == ["/opt/svarfrist/.venv/bin/svarfrist run"]
    assert "uv run" not in UNIT.read_text(encoding="utf-8").split("ExecStart=")[1].splitlines()[0]
    assert v["Restart"] == ["on-failure"] and v["WatchdogSec"]
    assert v["DynamicUser"] == ["yes"] and v["StateDirectory"] == ["svarfrist"]
    assert v["LoadCredential"] == ["smtp__password:/etc/svarfrist/smtp_password"]
    assert v["ProtectSystem"] == ["strict"] and v["NoNewPrivileges"] == ["yes"]
    assert v["CapabilityBoundingSet"] == [""]
    assert int(v["TimeoutStopSec"][0]) >= 10


def test_the_web_unit_is_hardened_like_the_daemons_and_shares_its_user() -> None:
    daemon, web = unit_lines(UNIT), unit_lines(WEB_UNIT)
    assert web["ExecStart"] == [WEB_EXEC]
    assert web["Type"] == ["exec"] and web["Restart"] == ["on-failure"]
    # One dynamic user for both units: the web app opens the daemon's SQLite file.
    assert web["DynamicUser"] == ["yes"] and web["User"] == ["svarfrist"]
    assert web["StateDirectory"] == daemon["StateDirectory"]
    assert web["LoadCredential"] == ["web__secret_key:/etc/svarfrist/web_secret_key"]
    for key in ("Environment", "WorkingDirectory", "UMask", "TimeoutStopSec", "KillMode"):
        if key == "Environment":
            assert set(daemon[key]) <= set(web[key])
        else:
            assert web[key] == daemon[key], key
    hardening = [k for k in daemon if k.startswith(("Protect", "Restrict", "Private"))]
    hardening += ["NoNewPrivileges", "MemoryDenyWriteExecute", "SystemCallFilter",
                  "SystemCallArchitectures", "CapabilityBoundingSet", "AmbientCapabilities",
                  "LockPersonality", "RemoveIPC", "ProcSubset"]  # fmt: skip
    for key in hardening:
        assert web[key] == daemon[key], key


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
@pytest.mark.parametrize(
    ("unit", "exec_start"),
    [(UNIT, "/opt/svarfrist/.venv/bin/svarfrist run"), (WEB_UNIT, WEB_EXEC)],
    ids=["daemon", "web"],
)
def test_systemd_analyze_verify_reports_nothing(
    tmp_path: Path, unit: Path, exec_start: str
) -> None:
    # The real ExecStart binary does not exist on a build machine: verify a copy whose
    # ExecStart points at an existing program. Unknown keys only warn (exit 0), so any
    # output on stderr fails the test.
    copy = tmp_path / unit.name
    text = unit.read_text(encoding="utf-8").replace(exec_start, f"{sys.executable} -c pass")
    copy.write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


MAILDIR_LINES = ("#ReadWritePaths=", "#SupplementaryGroups=", "#UMask=")


def maildir_drop_in(unit: Path, maildir: Path) -> str:
    """The unit with its commented lines for a Maildir intake taken, as an office's drop-in
    would: the Maildir writable in the sandbox, by a group, with files the group can use."""
    lines = []
    for line in unit.read_text(encoding="utf-8").splitlines():
        taken = line[1:] if line.startswith(MAILDIR_LINES) else line
        if taken.startswith("ReadWritePaths="):
            taken = f"ReadWritePaths={maildir}"
        lines.append(taken)
    return "\n".join(lines) + "\n"


def test_the_daemon_unit_says_how_to_open_a_maildir_to_intake() -> None:
    """ProtectSystem=strict makes every path read-only: an office reading a local Maildir
    (intake moves mail to cur/ and its folders) found every move failing, with no word in
    the unit or the docs on what to add."""
    text = UNIT.read_text(encoding="utf-8")
    for start in MAILDIR_LINES:
        assert any(line.startswith(start) for line in text.splitlines()), start
    assert "maildir" in text.lower()
    docs = (UNIT.parents[1] / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "ReadWritePaths=" in docs and "SupplementaryGroups=" in docs


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_the_daemon_unit_with_its_maildir_lines_taken_still_verifies(tmp_path: Path) -> None:
    (tmp_path / "Maildir").mkdir()
    copy = tmp_path / UNIT.name
    text = maildir_drop_in(UNIT, tmp_path / "Maildir")
    assert f"\nReadWritePaths={tmp_path / 'Maildir'}\n" in text
    copy.write_text(
        text.replace("/opt/svarfrist/.venv/bin/svarfrist run", f"{sys.executable} -c pass"),
        encoding="utf-8",
    )
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
