"""The Danish business calendar: closed days, weekly schedules and working-time arithmetic.

Everything here is pure: the closed-day rules and schedules are frozen values given by the
caller, and no function reads the clock, the environment or the process locale.

Definitions (docs/deadlines.md):

* A *schedule* is a weekly pattern of wall-clock intervals in local time (Europe/Copenhagen)
  minus closed days (unless the schedule ignores them, as ``calendar_days`` does).
* *Working time* between instants a and b is the real elapsed time inside [a, b] that falls in
  working intervals. A DST day is 23 or 25 real hours long: the wall-clock intervals of a day
  are mapped to the real instants whose local wall time lies inside them.
* ``due_at(received, N)`` is the earliest instant t >= received at which the working time in
  [received, t] reaches N hours; counting that ends at the end of an interval gives that end.

Speed: working intervals are kept as sorted integer microseconds since the epoch with a
running total of working time, built a year at a time when first needed. A query is two
bisections, so its cost does not depend on how far apart the instants are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from tracker.core.intervals import WorkingIndex
from tracker.core.units import (
    EPOCH,
    EPOCH_ORDINAL,
    MINUTES_PER_DAY,
    ONE_US,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_MINUTE,
    US_PER_SECOND,
)
from tracker.errors import BadInputError, UnknownScheduleError

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
# A deadline search gives up after this many years without enough working time, so a
# schedule with no working intervals raises instead of looping forever.
MAX_SEARCH_YEARS = 50
# Years a date can be handled in at all (datetime covers 1-9999, and a local midnight
# needs a year's margin on each side to exist in UTC): report periods.
MIN_YEAR, MAX_YEAR = 2, 9998
# Years whose closed days are known: the holidays library's Danish data (1771-2100). Working
# time is built in these years only: past 2100 the library knows no holiday, and a deadline
# there would count Christmas Day as a working day.
FIRST_YEAR, LAST_YEAR = 1771, 2100
# Years a time may lie in (received, an action's time, "now"): a year inside the data on
# each side, so that a deadline or reminder after it still falls in a year with closed days.
FIRST_TIME_YEAR, LAST_TIME_YEAR = FIRST_YEAR + 1, LAST_YEAR - 1

WEEKDAY_NAMES_EN = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_NAMES_DA = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")
MONTH_NAMES_DA = (
    "januar",
    "februar",
    "marts",
    "april",
    "maj",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "december",
)
MONTH_NAMES_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

Interval = tuple[int, int]
"""A wall-clock interval of one day in minutes from midnight, [start, end), end <= 1440."""


class ClosedKind(StrEnum):
    PUBLIC = "public"
    MUNICIPAL_CLOSING = "municipal_closing"
    ONE_OFF = "one_off"


@dataclass(frozen=True, kw_only=True)
class ClosedDay:
    """A named closed (or half) day. ``closes_at`` is set for a half day."""

    day: date
    name_da: str
    name_en: str
    kind: ClosedKind
    closes_at: time | None = None


@dataclass(frozen=True, kw_only=True)
class Pause:
    """A period in which the clocks stop ("waiting for the citizen").

    ``end`` is None while still paused.
    """

    start: datetime
    end: datetime | None = None


# Names for the customary municipal closing days when `holidays` has none for the date.
_FALLBACK_NAMES = {
    (6, 5): ("Grundlovsdag", "Constitution Day"),
    (12, 24): ("Juleaftensdag", "Christmas Eve"),
    (12, 31): ("Nytårsaftensdag", "New Year's Eve"),
}


@dataclass(frozen=True, kw_only=True)
class ClosedDayRules:
    """Which days are closed: public holidays + customary closing days + one-off changes.

    * ``extra_closed``: (month, day) pairs closed every year (default 5 June, 24 and 31 Dec).
    * ``closed_dates``: one-off closed dates (a newly declared closing day).
    * ``half_days``: one-off dates that close early, mapped to the closing time; a half day
      is open until then even if it would otherwise be closed.
    * ``yearly_half_days``: (month, day) pairs that close early every year.
    * ``opened_dates``: dates that would be closed but are open (the weekly pattern applies).

    Holiday names always come from `holidays` with ``language`` given explicitly: its default
    depends on the process locale, a hidden global.
    """

    country: str = "DK"
    extra_closed: tuple[tuple[int, int], ...] = ((6, 5), (12, 24), (12, 31))
    closed_dates: frozenset[date] = frozenset()
    half_days: Mapping[date, time] = field(default_factory=dict)
    yearly_half_days: Mapping[tuple[int, int], time] = field(default_factory=dict)
    opened_dates: frozenset[date] = frozenset()
    _years: dict[int, dict[date, ClosedDay]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def closed_days(self, year: int) -> dict[date, ClosedDay]:
        """The closed and half days of a year (weekends not included), by date."""
        cached = self._years.get(year)
        if cached is None:
            cached = self._build_year(year)
            self._years[year] = cached
        return cached

    def day(self, d: date) -> ClosedDay | None:
        return self.closed_days(d.year).get(d)

    def _build_year(self, year: int) -> dict[date, ClosedDay]:
        public_da = holidays_lib.country_holidays(
            self.country, years=year, language="da", categories=("public",)
        )
        public_en = holidays_lib.country_holidays(
            self.country, years=year, language="en_US", categories=("public",)
        )
        # The customary closing days are only in the `optional` category; use it for names.
        optional_da = holidays_lib.country_holidays(
            self.country, years=year, language="da", categories=("optional",)
        )
        optional_en = holidays_lib.country_holidays(
            self.country, years=year, language="en_US", categories=("optional",)
        )
        days: dict[date, ClosedDay] = {}
        for d, name in public_da.items():
            days[d] = ClosedDay(
                day=d, name_da=name, name_en=public_en.get(d, name), kind=ClosedKind.PUBLIC
            )
        for month, dom in self.extra_closed:
            extra = _safe_date(year, month, dom)
            if extra is None or extra in days:
                continue
            da, en = _FALLBACK_NAMES.get((month, dom), ("Lukkedag", "Closing day"))
            days[extra] = ClosedDay(
                day=extra,
                name_da=optional_da.get(extra, da),
                name_en=optional_en.get(extra, en),
                kind=ClosedKind.MUNICIPAL_CLOSING,
            )
        for d in self.closed_dates:
            if d.year == year and d not in days:
                days[d] = ClosedDay(
                    day=d, name_da="Lukkedag", name_en="Closing day", kind=ClosedKind.ONE_OFF
                )
        half: dict[date, time] = {}
        for (month, dom), closes in self.yearly_half_days.items():
            yearly = _safe_date(year, month, dom)
            if yearly is not None:
                half[yearly] = closes
        half.update({d: t for d, t in self.half_days.items() if d.year == year})
        for d, closes in half.items():
            base = days.get(d)
            days[d] = ClosedDay(
                day=d,
                name_da=base.name_da if base else "Halv lukkedag",
                name_en=base.name_en if base else "Half day",
                kind=base.kind if base else ClosedKind.ONE_OFF,
                closes_at=closes,
            )
        for d in self.opened_dates:
            days.pop(d, None)
        return days


def _safe_date(year: int, month: int, dom: int) -> date | None:
    try:
        return date(year, month, dom)
    except ValueError:  # 29 February in a common year
        return None


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """A weekly pattern: for each weekday (Monday first) its wall-clock working intervals."""

    name: str
    week: tuple[tuple[Interval, ...], ...]
    observes_closed_days: bool = True

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise BadInputError(f"schedule {self.name!r}: needs 7 weekdays, got {len(self.week)}")
        for intervals in self.week:
            last_end = -1
            for start, end in intervals:
                if not 0 <= start < end <= MINUTES_PER_DAY or start < last_end:
                    raise BadInputError(
                        f"schedule {self.name!r}: bad or overlapping interval "
                        f"{format_minutes(start)}-{format_minutes(end)}"
                    )
                last_end = end


def parse_interval(text: str) -> Interval:
    """Parse "08:00-15:30" (24:00 allowed as an end) into minutes from midnight."""
    try:
        a, b = text.split("-")
        start, end = _parse_hhmm(a), _parse_hhmm(b)
    except ValueError:
        raise BadInputError(f"bad interval {text!r}: expected HH:MM-HH:MM") from None
    if not 0 <= start < end <= MINUTES_PER_DAY:
        raise BadInputError(f"bad interval {text!r}: start must be before end")
    return start, end


def _parse_hhmm(text: str) -> int:
    hh, mm = text.strip().split(":")
    h, m = int(hh), int(mm)
    if not (0 <= m < 60 and (0 <= h < 24 or (h == 24 and m == 0))):
        raise ValueError(text)
    return h * 60 + m


def format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


_FULL_DAY: tuple[Interval, ...] = ((0, MINUTES_PER_DAY),)
_OFFICE = ((8 * 60, 15 * 60 + 30),)
_OFFICE_FRIDAY = ((8 * 60, 13 * 60),)

BUILTIN_SCHEDULES: Mapping[str, Schedule] = {
    "working_days": Schedule(name="working_days", week=(_FULL_DAY,) * 5 + ((), ())),
    "office_hours": Schedule(name="office_hours", week=(_OFFICE,) * 4 + (_OFFICE_FRIDAY, (), ())),
    "calendar_days": Schedule(
        name="calendar_days", week=(_FULL_DAY,) * 7, observes_closed_days=False
    ),
}


def to_us(moment: datetime) -> int:
    """An aware datetime as exact integer microseconds since the epoch (no float rounding)."""
    try:
        # Floor division of two timedeltas is exact integer arithmetic in C. A naive datetime
        # (or one whose tzinfo gives no offset) cannot be subtracted from an aware one.
        return (moment - EPOCH) // ONE_US
    except TypeError:
        raise BadInputError(f"time {moment!r} has no time zone") from None


def from_us(us: int, tz: ZoneInfo = COPENHAGEN) -> datetime:
    """Epoch microseconds as an aware datetime in ``tz`` (exact; the fold of a repeated
    wall-clock hour is set by the zone, so the instant round-trips)."""
    # fromtimestamp with an integer is exact and lets the zone convert from UTC in C; it is
    # about twice as fast as adding a timedelta to the epoch and calling astimezone.
    seconds, micro = divmod(us, US_PER_SECOND)
    moment = datetime.fromtimestamp(seconds, tz)
    return moment.replace(microsecond=micro) if micro else moment


def hours_to_us(hours: float | timedelta) -> int:
    """Hours (a number or a timedelta) as integer microseconds; negative is refused."""
    try:
        amount = hours // ONE_US if isinstance(hours, timedelta) else round(hours * US_PER_HOUR)
    except (OverflowError, ValueError):  # infinite or NaN
        raise BadInputError(f"hours must be a finite number, got {hours}") from None
    if amount < 0:
        raise BadInputError(f"hours must not be negative, got {hours}")
    return amount


def _offset_us(us: int, tz: ZoneInfo) -> int:
    offset = from_us(us, tz).utcoffset()
    assert offset is not None  # a ZoneInfo always has an offset
    return offset // timedelta(microseconds=1)


def day_pieces(d: date, intervals: Sequence[Interval], tz: ZoneInfo) -> list[tuple[int, int]]:
    """Map a day's wall-clock intervals to real instants (epoch microseconds), DST-exact.

    An instant counts when its local wall time on date ``d`` lies inside an interval. On a DST
    day the day is split where the UTC offset changes and each part is mapped with its own
    offset, so 00:00-24:00 is 23 real hours in March and 25 in October.
    """
    if not intervals:
        return []
    wall0 = (d.toordinal() - EPOCH_ORDINAL) * US_PER_DAY  # local midnight as if it were UTC
    start_local = datetime(d.year, d.month, d.day, tzinfo=tz)
    nxt = d + timedelta(days=1)
    day_start = to_us(start_local)
    day_end = to_us(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz))
    off_a = wall0 - day_start
    off_b = wall0 + US_PER_DAY - day_end
    if off_a == off_b:
        segments = [(day_start, day_end, off_a)]
    else:
        switch = _find_offset_change(day_start, day_end, off_a, tz)
        segments = [(day_start, switch, off_a), (switch, day_end, off_b)]
    pieces: list[tuple[int, int]] = []
    for s_min, e_min in intervals:
        for seg_start, seg_end, off in segments:
            lo = max(seg_start, wall0 + s_min * US_PER_MINUTE - off)
            hi = min(seg_end, wall0 + e_min * US_PER_MINUTE - off)
            if lo >= hi:
                continue
            if pieces and pieces[-1][1] == lo:
                pieces[-1] = (pieces[-1][0], hi)
            else:
                pieces.append((lo, hi))
    pieces.sort()
    return pieces


def _find_offset_change(lo: int, hi: int, off_lo: int, tz: ZoneInfo) -> int:
    """The first instant in (lo, hi] whose UTC offset differs from ``off_lo`` (to the second)."""
    lo_s, hi_s = lo // US_PER_SECOND, -(-hi // US_PER_SECOND)
    while hi_s - lo_s > 1:  # bounded: about 17 halvings for one day
        mid = (lo_s + hi_s) // 2
        if _offset_us(mid * US_PER_SECOND, tz) == off_lo:
            lo_s = mid
        else:
            hi_s = mid
    return hi_s * US_PER_SECOND


class BusinessCalendar:
    """Closed-day rules + named schedules, with working-time arithmetic on aware datetimes.

    Results are pure functions of the rules, the schedules and the arguments; the per-schedule
    interval indexes are only a cache, built a year at a time on first use.
    """

    def __init__(
        self,
        rules: ClosedDayRules | None = None,
        schedules: Mapping[str, Schedule] | None = None,
        tz: ZoneInfo = COPENHAGEN,
    ) -> None:
        self.rules = rules if rules is not None else ClosedDayRules()
        self.schedules: Mapping[str, Schedule] = dict(
            BUILTIN_SCHEDULES if schedules is None else schedules
        )
        self.tz = tz
        self._indexes: dict[str, WorkingIndex] = {}

    def schedule(self, name: str) -> Schedule:
        try:
            return self.schedules[name]
        except KeyError:
            raise UnknownScheduleError(name) from None

    def index(self, schedule: str) -> WorkingIndex:
        found = self._indexes.get(schedule)
        if found is None:
            sched = self.schedule(schedule)
            found = WorkingIndex(
                schedule,
                lambda year: self._year_pieces(sched, year),
                MAX_SEARCH_YEARS,
                years=(FIRST_YEAR, LAST_YEAR),
            )
            self._indexes[schedule] = found
        return found

    def day_intervals(self, d: date, schedule: Schedule) -> tuple[Interval, ...]:
        """The wall-clock working intervals of a date: weekly pattern, closed and half days."""
        intervals = schedule.week[d.weekday()]
        if not schedule.observes_closed_days or not intervals:
            return intervals
        closed = self.rules.day(d)
        if closed is None:
            return intervals
        if closed.closes_at is None:
            return ()
        cutoff = closed.closes_at.hour * 60 + closed.closes_at.minute
        return tuple((s, min(e, cutoff)) for s, e in intervals if s < cutoff)

    def _year_pieces(self, schedule: Schedule, year: int) -> list[tuple[int, int]]:
        # The index builds the neighbouring year of an instant too: a year without closed
        # days is refused by name, not computed as if it had none.
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise BadInputError(
                f"year {year} is outside the years the calendar supports ({FIRST_YEAR}-{LAST_YEAR})"
            ).coded("range")
        pieces: list[tuple[int, int]] = []
        d = date(year, 1, 1)
        one = timedelta(days=1)
        while d.year == year:
            pieces.extend(day_pieces(d, self.day_intervals(d, schedule), self.tz))
            d += one
        return pieces

    # -- working-time arithmetic ------------------------------------------------------------
    def due_at(
        self,
        start: datetime,
        hours: float | timedelta,
        schedule: str,
        pauses: Iterable[Pause] = (),
    ) -> datetime | None:
        """The earliest instant t >= start at which working time in [start, t] reaches ``hours``.

        Received outside working time, the clock starts at the next working instant; counting
        that ends at an interval's end gives that end (Monday 24:00 prints as Tuesday 00:00,
        even if Tuesday is closed). Paused periods do not count. Returns None when a pause
        that has not ended yet stops the clock before the deadline is reached.
        """
        if type(pauses) is tuple and not pauses:
            # The hot path (a recompute or a report does thousands of these): to_us, due_us
            # and from_us inlined, saving their call overhead; same arithmetic as below.
            try:
                start_us = (start - EPOCH) // ONE_US
            except TypeError:
                start_us = to_us(start)  # raises the named error for a naive time
            index = self._indexes.get(schedule) or self.index(schedule)
            seconds, micro = divmod(index.advance(start_us, hours_to_us(hours)), US_PER_SECOND)
            moment = datetime.fromtimestamp(seconds, self.tz)
            return moment.replace(microsecond=micro) if micro else moment
        due = self.due_us(to_us(start), hours_to_us(hours), schedule, pauses)
        return None if due is None else from_us(due, self.tz)

    def due_many(
        self, starts: Sequence[datetime], hours: float | timedelta, schedule: str
    ) -> list[datetime]:
        """``due_at`` without pauses for many received times at once (same results, in order).

        Bulk work (import, recompute) converts every time anyway; one call saves the per-call
        overhead of ``due_at``.
        """
        amount = hours_to_us(hours)
        index = self._indexes.get(schedule) or self.index(schedule)
        epoch, one = EPOCH, ONE_US
        try:
            start_us = [(moment - epoch) // one for moment in starts]
        except TypeError:
            for moment in starts:
                to_us(moment)  # raises the named error for the first naive time
            raise
        stamp, tz = datetime.fromtimestamp, self.tz
        out: list[datetime] = []
        append = out.append
        for due in index.advance_many(start_us, amount):
            seconds, micro = divmod(due, US_PER_SECOND)
            moment = stamp(seconds, tz)
            append(moment.replace(microsecond=micro) if micro else moment)
        return out

    def due_us(
        self, start: int, amount: int, schedule: str, pauses: Iterable[Pause] = ()
    ) -> int | None:
        """``due_at`` on epoch microseconds, the form the benchmark and the register use."""
        index = self._indexes.get(schedule) or self.index(schedule)
        if type(pauses) is tuple and not pauses:
            return index.advance(start, amount)  # the common case: one pass, two bisections
        merged = merge_pauses(pauses, start)
        if merged and merged[-1][1] is None:
            # An open pause (always the last) stops the clock for good: unless the unpaused
            # working time before it reaches the amount, there is no deadline. Deciding that
            # first keeps the search below from looking for time the pause never gives back.
            open_start = merged[-1][0]
            worked = index.cumulative(open_start) - index.cumulative(start)
            for p_start, p_end in merged[:-1]:
                assert p_end is not None
                worked -= index.cumulative(p_end) - index.cumulative(p_start)
            if worked < amount:
                return None
        target = index.cumulative(start) + amount
        due = index.instant_reaching(target, start)
        for p_start, p_end in merged:
            if p_start >= due:
                break
            if p_end is None:
                return None
            # The pause covers working time before the deadline: push the target that far.
            target += index.cumulative(p_end) - index.cumulative(p_start)
            due = index.instant_reaching(target, start)
        return due

    def working_time(
        self, a: datetime, b: datetime, schedule: str, pauses: Iterable[Pause] = ()
    ) -> timedelta:
        """Real elapsed time inside [a, b] that is working time and not paused (0 if b <= a)."""
        return timedelta(microseconds=self.working_us(to_us(a), to_us(b), schedule, pauses))

    def working_us(self, lo: int, hi: int, schedule: str, pauses: Iterable[Pause] = ()) -> int:
        """:meth:`working_time` on epoch microseconds, for bulk work."""
        if hi <= lo:
            return 0
        index = self._indexes.get(schedule) or self.index(schedule)
        total = index.cumulative(hi) - index.cumulative(lo)
        if type(pauses) is tuple and not pauses:
            return total  # the common case: nothing to subtract
        return total - _paused_us(index, lo, hi, pauses)

    def working_us_many(
        self, spans: Sequence[tuple[int, int, Sequence[Pause]]], schedule: str
    ) -> list[int]:
        """:meth:`working_us` of many (lo, hi, pauses) spans of one schedule: the cumulative
        working time of all their ends looked up in one pass over the index (the import's
        response times), the paused time then subtracted span by span."""
        index = self._indexes.get(schedule) or self.index(schedule)
        worked = index.elapsed_many([s[0] for s in spans], [s[1] for s in spans])
        return [
            total - _paused_us(index, lo, hi, pauses) if pauses and hi > lo else total
            for total, (lo, hi, pauses) in zip(worked, spans, strict=True)
        ]

    def next_working_instant(self, moment: datetime, schedule: str) -> datetime:
        """The first instant >= moment inside a working interval (where a clock starts)."""
        return from_us(self.index(schedule).next_working_instant(to_us(moment)), self.tz)

    def closed_days(self, year: int) -> list[ClosedDay]:
        """Named closed and half days of a year in date order (weekends not listed)."""
        return sorted(self.rules.closed_days(year).values(), key=lambda c: c.day)


def _paused_us(index: WorkingIndex, lo: int, hi: int, pauses: Iterable[Pause]) -> int:
    """The working µs inside [lo, hi] (lo < hi) that ``pauses`` cover."""
    paused = 0
    for p_start, p_end in merge_pauses(pauses, lo):
        if p_start >= hi:
            break
        end = hi if p_end is None else min(p_end, hi)
        paused += index.cumulative(end) - index.cumulative(p_start)
    return paused


def merge_pauses(pauses: Iterable[Pause], not_before: int) -> list[tuple[int, int | None]]:
    """Pauses as sorted, disjoint epoch-µs intervals clipped to start at ``not_before``.

    An open pause (end None) sorts after a closed one with the same start: None cannot be
    compared with an integer, so the sort key says "open" explicitly.
    """
    spans = sorted(
        (
            (max(to_us(p.start), not_before), None if p.end is None else to_us(p.end))
            for p in pauses
            if p.end is None or to_us(p.end) > not_before
        ),
        key=lambda span: (span[0], span[1] is None, span[1] or 0),
    )
    merged: list[tuple[int, int | None]] = []
    for start, end in spans:
        if end is not None and end <= start:
            continue
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                break  # an open pause swallows everything after it
            if start <= last_end:
                merged[-1] = (last_start, None if end is None else max(end, last_end))
                continue
        merged.append((start, end))
    return merged
