"""Benchmark: Svarfrist's deadline arithmetic side by side with the peers a user would pick.

Run with ``make bench``: it creates ``.bench-venv`` with Svarfrist and the peers (workclock,
businesstimedelta, pandas), so the peers never enter the project's dependencies. Run with
another interpreter, the peers it lacks are reported as not installed.

Workload: 100,000 seeded random received times (whole minutes) over 2024-2026, and two rules:
``reply`` (24 h on working_days, Mon-Fri 00:00-24:00) and a 48 h ``callback`` on office_hours
(Mon-Thu 08:00-15:30, Fri 08:00-13:00), both with the default Danish closed days, which every
peer is given as far as it can express them. Every library is timed in the same run, on
aware datetimes in and out; Svarfrist's epoch-microsecond path is timed separately. The
slow pure-Python peers are timed on the first 10,000 times. Each figure is the best of three
rounds, so that a neighbour's burst on a shared machine does not decide it.

Agreement: the first 2,000 cases of each rule are checked against a brute-force reference
that judges every real (UTC) minute by its local Copenhagen wall time, and every disagreement
is printed.
"""

from __future__ import annotations

import argparse
import array
import bisect
import importlib.metadata
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from functools import cache
from typing import Any

import holidays

from tracker.core.calendar import COPENHAGEN, BusinessCalendar, from_us, hours_to_us, to_us

SEED = 20261126
N = 100_000
SLOW_N = 10_000
SAMPLE = 2_000
ROUNDS = 3
FIRST = datetime(2024, 1, 1, tzinfo=COPENHAGEN)
END = datetime(2027, 1, 1, tzinfo=COPENHAGEN)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
EXTRA_CLOSED = ((6, 5), (12, 24), (12, 31))  # Grundlovsdag, Juleaftensdag, Nytårsaftensdag


@dataclass(frozen=True)
class Case:
    rule: str
    hours: int
    schedule: str
    # Wall-clock intervals per weekday (Monday first), minutes from midnight.
    week: tuple[tuple[tuple[int, int], ...], ...]


FULL = ((0, 1440),)
CASES = (
    Case("reply", 24, "working_days", (FULL,) * 5 + ((), ())),
    Case(
        "callback",
        48,
        "office_hours",
        (((480, 930),),) * 4 + (((480, 780),), (), ()),
    ),
)

Due = Callable[[datetime], datetime]
Batch = Callable[[list[datetime]], list[datetime]]


# -- the brute-force reference -------------------------------------------------------------
@cache
def closed_dates(year: int) -> frozenset[date]:
    """Danish public holidays (from `holidays`, not from Svarfrist) and the closing days."""
    public = holidays.country_holidays("DK", years=year, language="da", categories=("public",))
    return frozenset(public) | {date(year, m, d) for m, d in EXTRA_CLOSED}


def all_closed(years: range) -> list[date]:
    return sorted(d for y in years for d in closed_dates(y))


class Reference:
    """Every real minute from ``lo`` judged by its local wall time; a running count of the
    working ones. due(start, h) is where the count since ``start`` reaches h * 60."""

    def __init__(self, case: Case, lo: datetime, hi: datetime) -> None:
        self.base = (lo - EPOCH) // MINUTE
        last = (hi - EPOCH) // MINUTE
        offsets: dict[int, int] = {}
        days: dict[int, bytes] = {}
        epoch_ordinal = date(1970, 1, 1).toordinal()
        count = 0
        prefix = array.array("q", [0])
        for minute in range(self.base, last):
            hour = minute // 60
            offset = offsets.get(hour)
            if offset is None:
                local = (EPOCH + timedelta(hours=hour)).astimezone(COPENHAGEN)
                offset = offsets[hour] = local.utcoffset() // MINUTE  # type: ignore[operator]
            day_number, wall = divmod(minute + offset, 1440)
            flags = days.get(day_number)
            if flags is None:
                day = date.fromordinal(epoch_ordinal + day_number)
                flags = days[day_number] = self._flags(case, day)
            count += flags[wall]
            prefix.append(count)
        self.prefix = prefix

    @staticmethod
    def _flags(case: Case, day: date) -> bytes:
        flags = bytearray(1440)
        if day not in closed_dates(day.year):
            for a, b in case.week[day.weekday()]:
                flags[a:b] = b"\x01" * (b - a)
        return bytes(flags)

    def due_us(self, start: datetime, hours: int) -> int:
        first = (start - EPOCH) // MINUTE - self.base
        target = self.prefix[first] + hours * 60
        end = bisect.bisect_left(self.prefix, target, first)
        if end >= len(self.prefix):
            raise ValueError("the reference's range is too short")
        return (self.base + end) * 60_000_000


# -- the contenders ------------------------------------------------------------------------
@dataclass
class Peer:
    name: str
    version: str
    make: Callable[[Case], Due] | None  # one call per deadline; None with batch or missing
    note: str
    slow: bool = False
    batch: Callable[[Case], Batch] | None = None  # one call for all deadlines
    rates: dict[str, float] = field(default_factory=dict)
    disagreements: list[str] | None = None

    @property
    def installed(self) -> bool:
        return self.make is not None or self.batch is not None


def version_of(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def svarfrist_peer(calendar: BusinessCalendar) -> Peer:
    def make(case: Case) -> Due:
        def due(moment: datetime) -> datetime:
            result = calendar.due_at(moment, case.hours, case.schedule)
            assert result is not None
            return result

        return due

    return Peer("svarfrist (due_at)", version_of("svarfrist"), make, "exact")


def svarfrist_batch_peer(calendar: BusinessCalendar) -> Peer:
    def make_batch(case: Case) -> Batch:
        def due_many(batch: list[datetime]) -> list[datetime]:
            return calendar.due_many(batch, case.hours, case.schedule)

        return due_many

    return Peer(
        "svarfrist (due_many, batch)",
        version_of("svarfrist"),
        None,
        "exact; one call per batch",
        batch=make_batch,
    )


def by_interval(case: Case) -> dict[tuple[int, int], list[int]]:
    """The weekdays of each distinct wall-clock interval (rules are per interval)."""
    found: dict[tuple[int, int], list[int]] = {}
    for weekday, intervals in enumerate(case.week):
        for interval in intervals:
            found.setdefault(interval, []).append(weekday)
    return found


def workclock_schedule(case: Case, dates: list[date]) -> Any:
    import workclock

    rules: list[object] = [workclock.Holidays(dates)]
    for (a, b), weekdays in by_interval(case).items():
        # start == end is a 24-hour shift, so 00:00-24:00 is expressible.
        end = clock(0) if b == 1440 else clock(b // 60, b % 60)
        rules.append(workclock.WorkDay(clock(a // 60, a % 60), end, weekdays))
    return workclock.Schedule(rules, time_zone="Europe/Copenhagen")


def workclock_peers(dates: list[date]) -> list[Peer]:
    try:
        import workclock  # noqa: F401
    except ImportError:
        return [Peer("workclock", "-", None, "not installed here (run `make bench`)")]

    def make(case: Case) -> Due:
        sched = workclock_schedule(case, dates)
        hours = case.hours

        def due(moment: datetime) -> datetime:
            result: datetime = sched.add(moment, hours=hours)
            return result

        return due

    def make_batch(case: Case) -> Batch:
        sched = workclock_schedule(case, dates)
        delta = timedelta(hours=case.hours)

        def due_many(batch: list[datetime]) -> list[datetime]:
            result: list[datetime] = sched.add_many(batch, delta)
            return result

        return due_many

    version = version_of("workclock")
    return [
        Peer("workclock (add)", version, make, "exact: 24-h shift, own Friday rule"),
        Peer("workclock (add_many, batch)", version, None, "one call per batch", batch=make_batch),
    ]


def businesstimedelta_peer(dates: list[date]) -> Peer:
    try:
        import businesstimedelta as btd
        import pytz
    except ImportError:
        return Peer("businesstimedelta", "-", None, "not installed here (run `make bench`)")
    tz = pytz.timezone("Europe/Copenhagen")
    holiday_set = set(dates)

    def make(case: Case) -> Due:
        rules: list[object] = [btd.HolidayRule(holiday_set, tz=tz)]
        for (a, b), weekdays in by_interval(case).items():
            # No 24:00: end == start is an empty day, so the day ends 1 µs early.
            end = clock(23, 59, 59, 999_999) if b == 1440 else clock(b // 60, b % 60)
            rules.append(btd.WorkDayRule(clock(a // 60, a % 60), end, weekdays, tz=tz))
        delta = btd.BusinessTimeDelta(btd.Rules(rules), hours=case.hours)

        def due(moment: datetime) -> datetime:
            result: datetime = moment + delta
            return result

        return due

    return Peer(
        "businesstimedelta",
        version_of("businesstimedelta"),
        make,
        "no 24:00 (day ends 23:59:59.999999)",
        slow=True,
    )


def pandas_peer(dates: list[date]) -> Peer:
    try:
        import pandas as pd
    except ImportError:
        return Peer("pandas CustomBusinessHour", "-", None, "not installed here")

    def make(case: Case) -> Due:
        (a, b), *_ = case.week[0]
        # One opening time for every weekday (no short Friday), and no 24:00: start == end is
        # refused, so a full day is 00:00-23:59.
        end = "23:59" if b == 1440 else f"{b // 60:02d}:{b % 60:02d}"
        offset = pd.offsets.CustomBusinessHour(
            n=case.hours,
            start=f"{a // 60:02d}:{a % 60:02d}",
            end=end,
            holidays=dates,
            weekmask="Mon Tue Wed Thu Fri",
        )

        def due(moment: datetime) -> datetime:
            result: datetime = pd.Timestamp(moment) + offset
            return result

        return due

    return Peer(
        "pandas CustomBusinessHour",
        version_of("pandas"),
        make,
        "no 24:00 (23:59), no short Friday",
        slow=True,
    )


# -- measuring -----------------------------------------------------------------------------
def received_times(n: int) -> list[datetime]:
    rng = random.Random(SEED)
    lo, hi = (FIRST - EPOCH) // MINUTE, (END - EPOCH) // MINUTE
    return [(EPOCH + rng.randrange(lo, hi) * MINUTE).astimezone(COPENHAGEN) for _ in range(n)]


def best_rate(run: Callable[[], object], count: int) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return count / best


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def fmt_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:,.0f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=N, help="received times (default 100,000)")
    args = parser.parse_args(argv)
    times = received_times(args.n)
    slow_times, sample = times[:SLOW_N], times[:SAMPLE]
    dates = all_closed(range(2023, 2029))
    calendar = BusinessCalendar()
    started = time.perf_counter()
    for case in CASES:  # the index is a cache built a year at a time on first use
        calendar.due_at(FIRST, case.hours, case.schedule)
        calendar.due_at(END, case.hours, case.schedule)
    index_ms = (time.perf_counter() - started) * 1000

    print(f"Machine: {machine()}")
    print(f"Received times: {args.n:,} (seed {SEED}), 2024-01-01 to 2026-12-31, whole minutes")
    print(f"Svarfrist's index of 2024-2027 for both schedules, built once: {index_ms:.0f} ms")
    print()

    peers = [
        svarfrist_peer(calendar),
        svarfrist_batch_peer(calendar),
        *workclock_peers(dates),
        businesstimedelta_peer(dates),
        pandas_peer(dates),
    ]
    us_rates: dict[str, float] = {}
    for case in CASES:
        amount = hours_to_us(case.hours)
        us = [to_us(t) for t in times]
        us_rates[case.rule] = best_rate(
            lambda us=us, amount=amount, case=case: [
                calendar.due_us(u, amount, case.schedule) for u in us
            ],
            len(us),
        )
        for peer in peers:
            batch = slow_times if peer.slow else times
            if peer.make is not None:
                due = peer.make(case)
                due(batch[0])  # warm up
                peer.rates[case.rule] = best_rate(
                    lambda due=due, batch=batch: [due(t) for t in batch], len(batch)
                )
            elif peer.batch is not None:
                many = peer.batch(case)
                peer.rates[case.rule] = best_rate(lambda many=many: many(times), len(times))

    # -- agreement with the reference -----------------------------------------------------
    lo, hi = FIRST - timedelta(days=1), END + timedelta(days=120)
    references = {case.rule: Reference(case, lo, hi) for case in CASES}
    for peer in peers:
        if not peer.installed:
            continue
        peer.disagreements = []
        for case in CASES:
            ref = references[case.rule]
            if peer.make is not None:
                due = peer.make(case)
                results = [due(t) for t in sample]
            else:
                assert peer.batch is not None
                results = peer.batch(case)(sample)
            for t, got in zip(sample, results, strict=True):
                expected = ref.due_us(t, case.hours)
                if to_us(got) != expected:
                    peer.disagreements.append(
                        f"{case.rule} received {t.isoformat()}: reference "
                        f"{from_us(expected).isoformat()}, got "
                        f"{got.astimezone(COPENHAGEN).isoformat()}"
                    )

    # Every disagreement first, then the table, so the table is what stays on the screen.
    for peer in peers:
        if peer.disagreements is None:
            continue
        print(f"Disagreements with the reference, {peer.name}: {len(peer.disagreements)}")
        for line in peer.disagreements:
            print("  " + line)
    print()
    print(
        "| library | version | reply 24 h working_days, ops/s | callback 48 h office_hours, "
        "ops/s | svarfrist is x times as fast, like for like (reply / callback) "
        f"| disagreements (reply / callback, of {len(sample):,} each) | note |"
    )
    print("|" + " --- |" * 7)
    # Like for like: one-call-per-deadline peers against due_at, batch peers against due_many.
    base, batch_base = peers[0].rates, peers[1].rates
    batched = {peer.name for peer in peers if peer.batch is not None}
    rows: list[tuple[str, str, dict[str, float], list[str] | None, str]] = []
    for peer in peers:
        if not peer.installed:
            rows.append((peer.name, peer.version, {}, None, peer.note))
            continue
        note = peer.note + (f"; timed on the first {len(slow_times):,}" if peer.slow else "")
        rows.append((peer.name, peer.version, peer.rates, peer.disagreements, note))
        if peer is peers[0]:
            us_note = "epoch µs in and out, no datetime conversion"
            rows.append(("svarfrist (due_us)", peer.version, us_rates, None, us_note))
    for name, version, rates, wrong, note in rows:
        if rates and not name.startswith("svarfrist"):
            ref = batch_base if name in batched else base
            ratio = " / ".join(f"{ref[c.rule] / rates[c.rule]:.1f}" for c in CASES)
        else:
            ratio = "-"
        if wrong is None:
            counts = "-"
        else:
            counts = " / ".join(
                str(sum(line.startswith(c.rule + " ") for line in wrong)) for c in CASES
            )
        print(
            f"| {name} | {version} | {fmt_rate(rates.get('reply'))} "
            f"| {fmt_rate(rates.get('callback'))} | {ratio} | {counts} | {note} |"
        )
    print()
    print("Svarfrist is timed on BusinessCalendar.due_at and, against batch peers, on due_many")
    print("(aware datetimes in and out, like the peers); the")
    print("disagreements of businesstimedelta and pandas come from what they cannot express.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
