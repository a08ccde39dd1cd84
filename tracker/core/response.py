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

from tracker.core.calendar import COPENHAGEN, BusinessCalendar, Pause, to_us
from tracker.core.outcome import Outcome, encode
from tracker.core.units import SECONDS_PER_HOUR, US_PER_HOUR, US_PER_MINUTE

__all__ = [
    "BACKFILL_ATTRIBUTE",
    "US_PER_MINUTE",  # the import's unit of response time (tracker.transfer.prepare)
    "BackfillFunction",
    "backfill_function",
    "local_month",
    "local_month_us",
    "outcome",
    "packed_outcome",
    "response_minutes",
    "response_minutes_many",
    "response_minutes_us",
]

BACKFILL_ATTRIBUTE = "svarfrist_response_minutes"
"""The Alembic config attribute carrying :func:`backfill_function` to the migration."""
BackfillFunction = Callable[
    [str, datetime, datetime, Sequence[tuple[datetime, datetime | None]]], int | None
]
_MINUTE = timedelta(minutes=1)
# Copenhagen's offsets are whole hours, so a local month starts on a whole UTC hour: the
# month of an epoch-µs instant is cached per UTC hour (the import converts each hour once).
_MONTH_OF_HOUR: dict[int, int] = {}
_MONTH_CACHE_LIMIT = 100_000


def response_minutes(
    calendar: BusinessCalendar,
    schedule: str,
    received_at: datetime,
    met_at: datetime | None,
    pauses: Iterable[Pause] = (),
) -> int | None:
    """Working minutes from ``received_at`` to ``met_at``, paused working time excluded."""
    if met_at is None:
        return None
    return response_minutes_us(calendar, schedule, to_us(received_at), to_us(met_at), pauses)


def response_minutes_us(
    calendar: BusinessCalendar,
    schedule: str,
    received_us: int,
    met_us: int,
    pauses: Iterable[Pause] = (),
) -> int | None:
    """:func:`response_minutes` of a met obligation on epoch microseconds."""
    (minutes,) = response_minutes_many(calendar, schedule, [(received_us, met_us, tuple(pauses))])
    return minutes


def response_minutes_many(
    calendar: BusinessCalendar, schedule: str, spans: Sequence[tuple[int, int, Sequence[Pause]]]
) -> list[int | None]:
    """:func:`response_minutes_us` of many (received µs, met µs, pauses) of one schedule at
    once (BusinessCalendar.working_us_many), for bulk work."""
    if schedule not in calendar.schedules:
        return [None] * len(spans)
    return [us // US_PER_MINUTE for us in calendar.working_us_many(spans, schedule)]


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


def outcome(met_at: datetime | None, due_at: datetime | None, minutes: int | None) -> int | None:
    """``obligations.outcome``: a met obligation's on-time/late and response time as one
    code of tracker.core.outcome (late when met after due_at; on time without a deadline),
    None while unmet. The reports group by it (tracker.reports.obligations)."""
    if met_at is None:
        return None
    return packed_outcome(due_at is not None and met_at > due_at, minutes)


def packed_outcome(late: bool, minutes: int | None) -> int:
    """The stored outcome of a met obligation, for writers that already know ``late``."""
    return encode(Outcome.LATE if late else Outcome.ON_TIME, minutes)


def local_month(moment: datetime) -> int:
    """``obligations.received_month``: the Copenhagen calendar month of ``moment`` as yyyymm
    (reports count by local months, DST-exact)."""
    local = moment.astimezone(COPENHAGEN)
    return local.year * 100 + local.month


def local_month_us(us: int) -> int:
    """:func:`local_month` of an epoch-µs instant, for the import's loops."""
    hour = us // US_PER_HOUR
    month = _MONTH_OF_HOUR.get(hour)
    if month is None:
        if len(_MONTH_OF_HOUR) > _MONTH_CACHE_LIMIT:
            _MONTH_OF_HOUR.clear()
        moment = datetime.fromtimestamp(hour * SECONDS_PER_HOUR, COPENHAGEN)
        month = _MONTH_OF_HOUR[hour] = moment.year * 100 + moment.month
    return month
