from __future__ import annotations

from tracker.cli import run

run()
