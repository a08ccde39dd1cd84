"""What every register operation needs besides its arguments.

Its own module so that both the register and the obligation writer (which the register
uses) can name it without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from tracker.config import Settings
from tracker.core.calendar import BusinessCalendar
from tracker.sla import Rule
from tracker.store.scope import EVERYTHING, Scope


@dataclass(frozen=True, kw_only=True)
class Context:
    """Settings, calendar and rules of one command; ``now`` is read once by the shell."""

    settings: Settings
    calendar: BusinessCalendar
    rules: Mapping[str, Rule]
    actor: str
    now: datetime
    recorded_at: datetime | None = None
    """The real clock, read once by the shell: what the audit trail records as the time of
    recording, however ``now`` was given. None: ``now`` is the clock."""
    os_user: str | None = None
    """The operating-system user running the command, recorded beside ``actor``."""
    scope: Scope = EVERYTHING
    """The departments the actor may act in (tracker.store.scope); the web app narrows it."""

    @property
    def clock_skew(self) -> timedelta:
        """How far past ``now`` an event may say it happened (clocks that disagree a little)."""
        return timedelta(minutes=self.settings.clock_skew_minutes)
