"""Response-time histograms: per group, how many met obligations took each whole minute.

The minutes are the stored response times (``obligations.response_minutes``, written when an
obligation is met: tracker.core.response); nothing here measures working time. Memory stays
flat: one histogram per group, keyed by whole working minutes, so its size depends on the
spread of response times, never on the number of rows. The median and 90th percentile are
then exact to the minute.
"""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from fractions import Fraction

from tracker.core.units import MINUTES_PER_HOUR


def rounded(exact: Fraction, places: int, *, round_down: bool = False) -> float:
    """An exact figure to ``places`` decimals, half up (59.25 -> 59.3; 1.45 hours -> 1.5),
    or truncated with ``round_down``: every rounded figure of the reports, so a tie rounds
    the same way in a share and in hours, whatever its binary float would say."""
    value = Decimal(exact.numerator) / Decimal(exact.denominator)
    mode = ROUND_DOWN if round_down else ROUND_HALF_UP
    return float(value.quantize(Decimal(1).scaleb(-places), rounding=mode))


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
        exact = self._quantile(q)
        return None if exact is None else float(exact)

    def _quantile(self, q: float) -> Fraction | None:
        """:meth:`quantile`, exact: the rank (n - 1) x q and the interpolation in fractions
        (0.9 is nine tenths, not the float below it)."""
        n = self.n
        if n == 0:
            return None
        rank = (n - 1) * Fraction(str(q))
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
        """The q-quantile in working hours, one decimal, rounded half up (:func:`rounded`)."""
        minutes = self._quantile(q)
        return None if minutes is None else rounded(minutes / MINUTES_PER_HOUR, 1)
