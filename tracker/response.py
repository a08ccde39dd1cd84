"""The stored response time of a met obligation: working minutes from received to met.

Written wherever ``met_at`` is written (the register's add/reply/callback/close/recompute,
the bulk import, the 0002 migration's backfill), so reports read a plain integer column
and group by it in SQL instead of doing calendar arithmetic per row.

Definition: the working time of the obligation's schedule between ``received_at`` and
``met_at`` minus the working time covered by the inquiry's pauses (the same clock the
deadline runs on, so a response within the rule's hours is on time), in whole minutes,
rounded down; 0 when met at or before receipt. None while unmet, and None when the
schedule is not configured (it cannot be measured). A response time is fixed when the
obligation is met: a later calendar change moves no stored figure (``recompute`` leaves
met obligations alone, as it leaves their deadlines).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from tracker.calendar import BusinessCalendar, Pause

US_PER_MINUTE = 60_000_000
BACKFILL_ATTRIBUTE = "svarfrist_response_minutes"
"""The Alembic config attribute carrying :func:`backfill_function` to the migration."""
BackfillFunction = Callable[
    [str, datetime, datetime, Sequence[tuple[datetime, datetime | None]]], int | None
]
_MINUTE = timedelta(minutes=1)


def response_minutes(
    calendar: BusinessCalendar,
    schedule: str,
    received_at: datetime,
    met_at: datetime | None,
    pauses: Iterable[Pause] = (),
) -> int | None:
    """Working minutes from ``received_at`` to ``met_at``, paused working time excluded."""
    if met_at is None or schedule not in calendar.schedules:
        return None
    return calendar.working_time(received_at, met_at, schedule, pauses) // _MINUTE


def backfill_function(calendar: BusinessCalendar) -> BackfillFunction:
    """What the 0002 migration calls per met obligation (it may not import tracker itself):
    (schedule, received_at, met_at, [(pause start, pause end or None)]) -> minutes."""

    def minutes(
        schedule: str,
        received_at: datetime,
        met_at: datetime,
        pauses: Sequence[tuple[datetime, datetime | None]],
    ) -> int | None:
        spans = [Pause(start=start, end=end) for start, end in pauses]
        return response_minutes(calendar, schedule, received_at, met_at, spans)

    return minutes
