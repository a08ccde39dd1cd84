"""Time units as the integer arithmetic uses them: instants are epoch microseconds (UTC).

One definition for every layer (the calendar's index, the stored response times, the import,
the reports), so a conversion cannot drift between two copies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The instant an epoch-µs value counts from."""
EPOCH_ORDINAL = EPOCH.date().toordinal()
"""The epoch's day as ``date.toordinal()``: days since it times US_PER_DAY are µs."""
ONE_US = timedelta(microseconds=1)
US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR
SECONDS_PER_HOUR = 3600
MINUTES_PER_HOUR = 60
MINUTES_PER_DAY = 24 * MINUTES_PER_HOUR
