"""Response-time histograms: per group, how many met obligations took each whole minute.

The minutes are the stored response times (``obligations.response_minutes``, written when an
obligation is met: tracker.core.response); nothing here measures working time. Memory stays
flat: one histogram per group, keyed by whole working minutes, so its size depends on the
spread of response times, never on the number of rows. The median and 90th percentile are
then exact to the minute.
"""

from __future__ import annotations

from collections import Counter

from tracker.core.units import MINUTES_PER_HOUR


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
        return None if minutes is None else round(minutes / MINUTES_PER_HOUR, 1)
