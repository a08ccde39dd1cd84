"""``make demo`` runs the first-run demo: mail saved, a summary printed, in well under a minute."""

from __future__ import annotations

import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

from conftest import clean_env


def test_the_demo_simulates_a_week_and_saves_every_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tracker.cli.demo"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    mail = sorted((tmp_path / "demo" / "mail").glob("*.eml"))
    assert mail, result.stdout
    assert "messages:" in result.stdout and f"total {len(mail)}" in result.stdout
    kinds = {
        message_from_bytes(p.read_bytes(), policy=policy.default)["X-Svarfrist-Kind"] for p in mail
    }
    assert {"due_soon", "overdue", "digest"} <= kinds
    assert (tmp_path / "demo" / "svarfrist.db").exists()
