"""What every register operation needs besides its arguments.

Its own module so that both the register and the obligation writer (which the register
uses) can name it without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tracker.config import DEFAULT_OFFICE, Office, Settings, build_offices
from tracker.config.offices import unknown_office
from tracker.core.calendar import BusinessCalendar
from tracker.sla import Rule
from tracker.store.scope import EVERYTHING, Scope


@dataclass(frozen=True, kw_only=True)
class Context:
    """Settings, calendar and rules of one command; ``now`` is read once by the shell.

    ``settings``, ``calendar`` and ``rules`` are those of the office ``office_key`` (the
    top level, ``default``, unless :meth:`office` chose another)."""

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
    offices: Mapping[str, Office] | None = None
    """Every configured office (tracker.config.build_offices), built once by the shell;
    None: built when an office other than this one is asked for."""
    office_key: str = DEFAULT_OFFICE
    """The office whose settings, calendar and rules these are."""

    def office(self, key: str) -> Context:
        """This context with office ``key``'s settings, calendar and rules: the one place an
        inquiry's deadlines get its office's. An unknown key is BadInputError (exit 2)."""
        if key == self.office_key:
            return self
        offices = self.offices
        if offices is None:
            offices = build_offices(self.settings)
        chosen = offices.get(key)
        if chosen is None:
            raise unknown_office(self.settings, key)
        return replace(
            self,
            settings=chosen.settings,
            calendar=chosen.calendar,
            rules=chosen.rules,
            offices=offices,
            office_key=key,
        )

    @property
    def clock_skew(self) -> timedelta:
        """How far past ``now`` an event may say it happened (clocks that disagree a little)."""
        return timedelta(minutes=self.settings.clock_skew_minutes)
