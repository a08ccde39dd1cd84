"""A lazily extended index of one schedule's working intervals, for O(log n) queries.

Working intervals are stored as parallel sorted lists of epoch microseconds with the running
total of working time at each interval's end. The cumulative working time C(x) up to an
instant and its inverse (the earliest instant at which C reaches a value) are each one
bisection. Years are added on first use, in either direction, so any year `holidays`
supports works without building a huge table up front.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from datetime import date, timedelta

from tracker.core.units import EPOCH, EPOCH_ORDINAL, US_PER_DAY
from tracker.errors import BadInputError, NoWorkingTimeError

YearBuilder = Callable[[int], list[tuple[int, int]]]
"""Returns the sorted, disjoint working intervals (epoch µs) of the local dates of a year."""


class WorkingIndex:
    """Cumulative working time of one schedule on one calendar. Not thread-safe to extend."""

    def __init__(
        self,
        name: str,
        build_year: YearBuilder,
        max_search_years: int,
        *,
        years: tuple[int, int] | None = None,
    ) -> None:
        """``years``: the first and last year ``build_year`` can build, if it is limited.

        An instant outside them is refused before anything is built: the index is one
        contiguous range, so reaching a far year would otherwise build every year between.
        """
        self._name = name
        self._years = years
        self._bounds = (
            None
            if years is None
            else (_day_us(date(years[0], 1, 1)), _day_us(date(years[1], 12, 31)))
        )
        self._build_year = build_year
        self._max_years = max_search_years
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._cum_end: list[int] = []  # working µs from the index origin to each interval's end
        self._first_year = 0
        self._last_year = -1  # empty range
        self._covered = (0, 0)  # [lo, hi) in epoch µs for which intervals are complete

    # -- coverage -------------------------------------------------------------------------
    def _cover(self, us: int) -> None:
        lo, hi = self._covered
        if lo <= us < hi:
            return
        if self._bounds is not None and not self._bounds[0] <= us < self._bounds[1]:
            first, last = self._years or (0, 0)
            raise BadInputError(
                f"{_describe(us)} is outside the years the calendar supports ({first}-{last})"
            )
        year = (EPOCH + timedelta(microseconds=us)).year
        # Each year is built before any state changes, so a year that cannot be built (out of
        # range) raises and leaves the index as it was, usable for other instants.
        if self._last_year < self._first_year:
            pieces = self._build_year(year)
            self._first_year = self._last_year = year
            self._append(pieces)
            self._update_coverage()
        while us < self._covered[0]:
            pieces = self._build_year(self._first_year - 1)
            self._first_year -= 1
            self._prepend(pieces)
            self._update_coverage()
        while us >= self._covered[1]:
            self._extend_forward()

    def _extend_forward(self) -> None:
        pieces = self._build_year(self._last_year + 1)
        self._last_year += 1
        self._append(pieces)
        self._update_coverage()

    def _update_coverage(self) -> None:
        first = date(self._first_year, 1, 1)
        after = date(self._last_year + 1, 1, 1)
        # Local midnights are within a day of UTC midnights: shrink by a day to stay exact.
        lo = _day_us(first) + US_PER_DAY
        hi = _day_us(after) - US_PER_DAY
        self._covered = (lo, hi)

    def _append(self, pieces: list[tuple[int, int]]) -> None:
        total = self._cum_end[-1] if self._cum_end else 0
        for start, end in pieces:
            total += end - start
            self._starts.append(start)
            self._ends.append(end)
            self._cum_end.append(total)

    def _prepend(self, pieces: list[tuple[int, int]]) -> None:
        origin = self._cum_end[0] - (self._ends[0] - self._starts[0]) if self._starts else 0
        block = sum(end - start for start, end in pieces)
        total = origin - block
        cum: list[int] = []
        for start, end in pieces:
            total += end - start
            cum.append(total)
        self._starts[:0] = [s for s, _ in pieces]
        self._ends[:0] = [e for _, e in pieces]
        self._cum_end[:0] = cum

    # -- queries --------------------------------------------------------------------------
    def cumulative(self, us: int) -> int:
        """C(us): working µs from the index origin up to the instant (may be negative)."""
        self._cover(us)
        i = bisect.bisect_right(self._starts, us) - 1
        if i < 0:
            return self._cum_end[0] - (self._ends[0] - self._starts[0]) if self._starts else 0
        end = self._ends[i]
        return self._cum_end[i] - (end - min(us, end))

    def instant_reaching(self, target: int, not_before: int) -> int:
        """The earliest instant >= ``not_before`` at which C reaches ``target``."""
        self._cover(not_before)
        if target <= self.cumulative(not_before):
            return not_before
        limit = 0
        while not self._cum_end or self._cum_end[-1] < target:
            if not limit:  # the search's bound: max_years after the year it starts in
                limit = (EPOCH + timedelta(microseconds=not_before)).year + self._max_years
            if self._last_year >= limit:
                raise NoWorkingTimeError(self._name, self._max_years)
            self._extend_forward()
        i = bisect.bisect_left(self._cum_end, target)
        end = self._ends[i]
        return end - (self._cum_end[i] - target)

    def advance(self, us: int, amount: int) -> int:
        """``instant_reaching(cumulative(us) + amount, us)`` in one pass: the deadline query.

        ``amount`` must not be negative. Zero gives ``us`` itself (the clock has not run).
        """
        lo, hi = self._covered
        if not lo <= us < hi:
            self._cover(us)
        i = bisect.bisect_right(self._starts, us) - 1
        if i < 0 or amount <= 0:
            return self.instant_reaching(self.cumulative(us) + amount, us)
        cum = self._cum_end
        end = self._ends[i]
        target = cum[i] - (end - us if us < end else 0) + amount
        if target > cum[-1]:
            return self.instant_reaching(target, us)  # extends the index forward
        # C(us) <= cum[i] < target only for j >= i, so the search can start at i.
        j = bisect.bisect_left(cum, target, i)
        return self._ends[j] - (cum[j] - target)

    def advance_many(self, starts: Sequence[int], amount: int) -> list[int]:
        """``advance`` for many instants at once: the same arithmetic with the lookups hoisted
        out of the loop, for bulk work (import, recompute, the benchmark's batch row)."""
        if not starts:
            return []
        self._cover(min(starts))
        self._cover(max(starts))
        lo, hi = self._covered
        begins, ends, cum = self._starts, self._ends, self._cum_end
        last = cum[-1] if cum else -1
        right, left = bisect.bisect_right, bisect.bisect_left
        advance = self.advance
        out: list[int] = []
        append = out.append
        for us in starts:
            i = right(begins, us) - 1
            if i < 0 or amount <= 0 or not lo <= us < hi:
                append(advance(us, amount))
                continue
            end = ends[i]
            target = cum[i] - (end - us if us < end else 0) + amount
            if target > last:
                append(advance(us, amount))  # extends the index; refresh the hoisted lists
                begins, ends, cum = self._starts, self._ends, self._cum_end
                last = cum[-1]
                lo, hi = self._covered
                continue
            j = left(cum, target, i)
            append(ends[j] - (cum[j] - target))
        return out

    def elapsed_many(self, starts: Sequence[int], ends: Sequence[int]) -> list[int]:
        """``max(cumulative(end) - cumulative(start), 0)`` for many pairs, the lookups hoisted
        out of the loop (the import's stored response times)."""
        if not starts:
            return []
        self._cover(min(*starts, *ends))
        self._cover(max(*starts, *ends))
        begins, finish, cum = self._starts, self._ends, self._cum_end
        right, cumulative = bisect.bisect_right, self.cumulative
        out: list[int] = []
        append = out.append
        # cumulative() of each end of each pair, written out twice rather than called
        # (two calls per met obligation were most of the import's response times).
        for a, b in zip(starts, ends, strict=True):
            i = right(begins, a) - 1
            if i < 0:
                at_a = cumulative(a)
            else:
                end = finish[i]
                at_a = cum[i] - (end - a) if a < end else cum[i]
            i = right(begins, b) - 1
            if i < 0:
                at_b = cumulative(b)
            else:
                end = finish[i]
                at_b = cum[i] - (end - b) if b < end else cum[i]
            append(at_b - at_a if at_b > at_a else 0)
        return out

    def next_working_instant(self, us: int) -> int:
        """The first instant >= us that lies inside a working interval."""
        return self.instant_reaching(self.cumulative(us) + 1, us) - 1


def _day_us(d: date) -> int:
    return (d.toordinal() - EPOCH_ORDINAL) * US_PER_DAY


def _describe(us: int) -> str:
    try:
        return (EPOCH + timedelta(microseconds=us)).isoformat()
    except OverflowError:
        return f"{us} µs since 1970"
