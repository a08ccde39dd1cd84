"""Hypothesis strategies for the business calendar (layout after python-attrs/attrs).

A ``CalendarCase`` is everything a deadline depends on, as plain values in whole minutes: a
random weekly schedule, closed-day changes, pauses and a start instant near a DST change or a
holiday. The brute-force reference that judges these cases lives in tests/test_calendar.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import strategies as st

from tracker.core.calendar import (
    COPENHAGEN,
    MINUTES_PER_DAY,
    BusinessCalendar,
    ClosedDayRules,
    Pause,
    Schedule,
)

MINUTE = timedelta(minutes=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SCHEDULE = "random"


def epoch_minute(moment: datetime) -> int:
    return (moment - EPOCH) // MINUTE


def instant(minute: int) -> datetime:
    """An epoch minute as an aware Copenhagen datetime."""
    return (EPOCH + minute * MINUTE).astimezone(COPENHAGEN)


def _local(*args: int) -> int:
    return epoch_minute(datetime(*args, tzinfo=COPENHAGEN))


# Starts cluster around the instants where deadlines go wrong: the DST changes of 2026 and
# 2027 (01:00 UTC on the last Sunday of March and October), Easter (2027's Easter Sunday is
# also its DST day), Grundlovsdag, Christmas and New Year.
ANCHORS = (
    epoch_minute(datetime(2026, 3, 29, 1, tzinfo=UTC)),
    epoch_minute(datetime(2026, 10, 25, 1, tzinfo=UTC)),
    epoch_minute(datetime(2027, 3, 28, 1, tzinfo=UTC)),
    epoch_minute(datetime(2027, 10, 31, 1, tzinfo=UTC)),
    _local(2026, 4, 1, 12),
    _local(2026, 6, 4, 12),
    _local(2026, 12, 23, 14),
    _local(2026, 12, 31, 9),
    _local(2027, 3, 24, 16),
)

# Interval ends that touch the edges of the day and the hour that DST skips or repeats.
SPECIAL_MINUTES = (0, 60, 120, 150, 180, 480, 780, 930, 1380, 1439, MINUTES_PER_DAY)


@dataclass(frozen=True, kw_only=True)
class CalendarCase:
    week: tuple[tuple[tuple[int, int], ...], ...]
    observes_closed_days: bool
    extra_closed: tuple[tuple[int, int], ...]
    closed_dates: frozenset[date]
    half_days: dict[date, time]
    opened_dates: frozenset[date]
    start: int  # epoch minute
    pauses: tuple[tuple[int, int | None], ...]  # epoch minutes, end None = still paused

    def calendar(self) -> BusinessCalendar:
        rules = ClosedDayRules(
            extra_closed=self.extra_closed,
            closed_dates=self.closed_dates,
            half_days=self.half_days,
            opened_dates=self.opened_dates,
        )
        schedule = Schedule(
            name=SCHEDULE, week=self.week, observes_closed_days=self.observes_closed_days
        )
        return BusinessCalendar(rules=rules, schedules={SCHEDULE: schedule})

    def start_at(self) -> datetime:
        return instant(self.start)

    def pause_values(self) -> tuple[Pause, ...]:
        return tuple(
            Pause(start=instant(a), end=None if b is None else instant(b)) for a, b in self.pauses
        )


minute_points = st.one_of(
    st.sampled_from(SPECIAL_MINUTES), st.integers(min_value=0, max_value=MINUTES_PER_DAY)
)


@st.composite
def day_intervals(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    """0-3 sorted, disjoint wall-clock intervals of one day (24:00 allowed as an end)."""
    points = sorted(draw(st.lists(minute_points, max_size=6, unique=True)))
    if len(points) % 2:
        points.pop()
    return tuple(zip(points[::2], points[1::2], strict=True))


weeks = st.tuples(*[day_intervals() for _ in range(7)])

closing_times = st.one_of(
    st.sampled_from([time(0, 0), time(2, 30), time(12, 0), time(13, 0)]),
    st.builds(time, st.integers(0, 23), st.integers(0, 59)),
)


@st.composite
def calendar_cases(draw: st.DrawFn, *, with_pauses: bool = True) -> CalendarCase:
    start = draw(st.sampled_from(ANCHORS)) + draw(st.integers(-3 * 1440, 3 * 1440))
    first = instant(start).date()
    nearby = st.builds(lambda n: first + timedelta(days=n), st.integers(-1, 8))
    half_days = draw(st.dictionaries(nearby, closing_times, max_size=2))
    opened = draw(st.frozensets(nearby, max_size=2))
    pauses: list[tuple[int, int | None]] = []
    if with_pauses:
        for _ in range(draw(st.integers(0, 2))):
            p_start = start + draw(st.integers(-600, 5 * 1440))
            length = draw(st.one_of(st.none(), st.integers(1, 2 * 1440)))
            # An open pause is rarer: it stops the clock for good.
            if length is None and draw(st.integers(0, 3)):
                length = 60
            pauses.append((p_start, None if length is None else p_start + length))
    return CalendarCase(
        week=draw(weeks),
        observes_closed_days=draw(st.booleans()),
        extra_closed=tuple(
            draw(st.lists(st.sampled_from([(6, 5), (12, 24), (12, 31), (3, 30)]), unique=True))
        ),
        closed_dates=draw(st.frozensets(nearby, max_size=2)),
        half_days=half_days,
        opened_dates=opened,
        start=start,
        pauses=tuple(pauses),
    )
