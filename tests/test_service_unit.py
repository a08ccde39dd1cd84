"""config/svarfrist.service: the keys operations rely on, and ``systemd-analyze verify``."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "config" / "svarfrist.service"


def unit_lines() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
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


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verify_reports_nothing(tmp_path: Path) -> None:
    # The real ExecStart binary does not exist on a build machine: verify a copy whose
    # ExecStart points at an existing program. Unknown keys only warn (exit 0), so any
    # output on stderr fails the test.
    copy = tmp_path / "svarfrist.service"
    text = UNIT.read_text(encoding="utf-8").replace(
        "/opt/svarfrist/.venv/bin/svarfrist run", f"{sys.executable} -c pass"
    )
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
