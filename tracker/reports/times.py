"""Working-hours response times for reports: a fast clock and per-group minute histograms.

Met obligations carry their response time (``obligations.response_minutes``, written with
met_at: tracker.core.response), which the reports group by in SQL. SQL cannot count working hours
on the Danish calendar, so the clock here measures only met rows without a stored time (rows
written outside Svarfrist); everything is folded into the same histograms. Memory stays flat: one
histogram per group, keyed by whole working minutes, so its size depends on the spread of
response times (bounded by the period's length in minutes), never on the number of rows.
The median and 90th percentile are then exact to the minute.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta

from tracker.core.calendar import BusinessCalendar, day_pieces, to_us
from tracker.core.units import US_PER_SECOND

_SECONDS_PER_MINUTE = 60


class ResponseHistogram:
    """Response times in whole working minutes -> how often; percentiles by interpolation."""

    def __init__(self) -> None:
        self.minutes: Counter[int] = Counter()

    @property
    def n(self) -> int:
        return self.minutes.total()

    def add(self, minutes: int) -> None:
        self.minutes[minutes] += 1

    def quantile(self, q: float) -> float | None:
        """The q-quantile in minutes, linear between the closest ranks (numpy's default)."""
        n = self.n
        if n == 0:
            return None
        rank = (n - 1) * q
        lo_rank, frac = int(rank), rank - int(rank)
        hi_rank = lo_rank + 1 if frac else lo_rank
        lo = hi = None
        seen = 0
        for value in sorted(self.minutes):
            seen += self.minutes[value]
            if lo is None and seen > lo_rank:
                lo = value
            if seen > hi_rank:
                hi = value
                break
        assert lo is not None and hi is not None  # hi_rank <= n - 1
        return lo + (hi - lo) * frac

    def hours(self, q: float) -> float | None:
        minutes = self.quantile(q)
        return None if minutes is None else round(minutes / 60, 1)


def seconds_clock(
    calendar: BusinessCalendar, schedule: str, first: date, last: date
) -> tuple[int, int, Callable[[int], int]]:
    """(lo, hi, C): C(t) = working seconds of ``schedule`` from ``lo`` up to epoch second t,
    valid for lo <= t < hi, i.e. the local days first..last.

    The same arithmetic as the calendar's own index, but on plain lists of seconds for one
    bounded range, so the per-row cost is one bisection and no method dispatch.
    """
    sched = calendar.schedule(schedule)
    starts: list[int] = []
    ends: list[int] = []
    cum: list[int] = []
    total = 0
    day = first
    while day <= last:
        for a_us, b_us in day_pieces(day, calendar.day_intervals(day, sched), calendar.tz):
            a, b = a_us // US_PER_SECOND, b_us // US_PER_SECOND
            total += b - a
            if ends and ends[-1] == a:  # a working interval running on past midnight
                ends[-1], cum[-1] = b, total
            else:
                starts.append(a)
                ends.append(b)
                cum.append(total)
        day += timedelta(days=1)
    lo = _midnight_seconds(calendar, first)
    hi = _midnight_seconds(calendar, last + timedelta(days=1))

    def at(t: int) -> int:
        i = bisect_right(starts, t) - 1
        if i < 0:
            return 0
        end = ends[i]
        return cum[i] - (end - t) if t < end else cum[i]

    return lo, hi, at


def _midnight_seconds(calendar: BusinessCalendar, day: date) -> int:
    return to_us(datetime.combine(day, time(0), tzinfo=calendar.tz)) // US_PER_SECOND


class WorkingMinutes:
    """``(schedule, received, met)`` epoch seconds -> whole working minutes between them.

    A response time is the working time from received to met on the obligation's schedule.
    Pauses are not subtracted here (this fallback does not read them); the stored times
    (tracker.core.response) subtract them, which only rows written outside Svarfrist lack.
    ``first``..``last`` (local dates) is the range expected to hold every instant; an
    instant outside it is still counted exactly, through the calendar's own index.
    """

    def __init__(self, calendar: BusinessCalendar, first: date, last: date) -> None:
        self._calendar = calendar
        self._first = first
        self._last = last
        self._clocks: dict[str, tuple[int, int, Callable[[int], int]]] = {}

    def __call__(self, schedule: str, received: int, met: int) -> int | None:
        """Working minutes, or None when ``schedule`` is no longer configured (an obligation
        created under a schedule since removed: it cannot be measured, so it is left out)."""
        clock = self._clocks.get(schedule)
        if clock is None:
            if schedule not in self._calendar.schedules:
                return None
            clock = seconds_clock(self._calendar, schedule, self._first, self._last)
            self._clocks[schedule] = clock
        lo, hi, at = clock
        rec, done = int(received), int(met)
        if lo <= rec < hi and lo <= done < hi:
            working = at(done) - at(rec)
        else:
            index = self._calendar.index(schedule)
            us = index.cumulative(done * US_PER_SECOND) - index.cumulative(rec * US_PER_SECOND)
            working = us // US_PER_SECOND
        return max(working, 0) // _SECONDS_PER_MINUTE


def response_histograms(
    rows: Iterable[tuple[str | None, int | None, int]],
) -> dict[str | None, ResponseHistogram]:
    """Fold (key, working minutes, how many) into one histogram per key (None: not counted)."""
    found: dict[str | None, ResponseHistogram] = {}
    for key, minutes, count in rows:
        if minutes is None:
            continue
        hist = found.get(key)
        if hist is None:
            hist = found[key] = ResponseHistogram()
        hist.minutes[minutes] += count
    return found
