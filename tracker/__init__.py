"""Svarfrist: response-deadline tracking and reminders for Danish municipalities."""

from __future__ import annotations

__version__ = "0.1.0"
