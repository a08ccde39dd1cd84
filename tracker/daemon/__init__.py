"""The daemon's sweep and its systemd integration (the scheduler and notifier sit above)."""

from __future__ import annotations
