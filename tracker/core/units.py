"""Units of time as exact integers: the engine counts in microseconds since the Unix epoch.

Integer microseconds keep every sum exact (a float of seconds would round), and one definition
here keeps the calendar, the import and the reports on the same scale.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR
MINUTES_PER_DAY = 24 * 60
