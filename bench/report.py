"""Benchmark: report timing and memory on SQLite over 100,000 and 1,000,000 inquiries.

Not a test. For each size it builds a SQLite database through the real schema (Alembic),
fills it fast with executemany (indexes dropped during the load and recreated after), then
measures in the same run:

* ``bare``: the bare SQLite ``SELECT department, count(*) FROM inquiries GROUP BY department``
  over the same rows (the yardstick of the target: each report within 2x of it);
* ``bare join``: the same GROUP BY over obligations joined to their inquiries (the rows a
  compliance figure is made from);
* the department report and the monthly report, each as the compliance report (counts,
  open/closed, on time/late/overdue, compliance) and in full (plus median/p90 working hours).

Seconds are the best of ``--repeat`` runs. Peak memory is measured in a separate run of
each report under tracemalloc (Python allocations; tracemalloc slows the run, so it is not
timed), plus the process's maximum RSS at the end. Usage::

    .venv/bin/python bench/report.py                 # 100,000 and 1,000,000
    .venv/bin/python bench/report.py --sizes 100000  # quicker
"""

from __future__ import annotations

import argparse
import random
import resource
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tracker.config import DEFAULT_DEPARTMENTS, DEFAULT_TOPICS
from tracker.core.calendar import BusinessCalendar, to_us
from tracker.core.response import local_month_us, packed_outcome
from tracker.core.units import EPOCH, US_PER_HOUR, US_PER_MINUTE
from tracker.reports.build import build_report
from tracker.reports.queries import GroupBy, period_of
from tracker.store import schema
from tracker.store.db import make_engine, read_only, session_factory

CHANNELS = ["phone"] * 45 + ["email"] * 25 + ["in_person"] * 15 + ["digital_post"] * 8
CHANNELS += ["letter"] * 4 + ["sms"] * 3
WRITTEN = {"sms", "email", "letter", "digital_post"}
ADVISORS = [f"vejleder{i:02d}@fredericia.dk" for i in range(40)]
FIRST, LAST = date(2024, 1, 1), date(2025, 12, 31)
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
BATCH = 50_000

INQUIRY_SQL = (
    "INSERT INTO inquiries (id, ref, channel, department, topic, advisor, callback_requested,"
    " received_at, replied_at, called_back_at, closed_at, note, purged_at, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, NULL, NULL, ?)"
)
OBLIGATION_SQL = (
    "INSERT INTO obligations (id, inquiry_id, rule, schedule, hours, warn_at, due_at, met_at,"
    " response_minutes, received_month, department, outcome, state, next_action_at)"
    " VALUES (?, ?, ?, 'working_days', ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"
)


def stored(us: int) -> str:
    """An instant as UTCDateTime stores it on SQLite (naive UTC text, microseconds)."""
    return (EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%d %H:%M:%S.%f")


def build(path: Path, n: int, seed: int = 2026) -> float:
    """A database of ``n`` inquiries over 2024-2025 with real working-day deadlines."""
    started = time.perf_counter()
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()
    rnd = random.Random(seed)
    index = BusinessCalendar().index("working_days")
    start = to_us(datetime(2023, 12, 31, 23, 0, tzinfo=UTC))
    span = to_us(datetime(2025, 12, 31, 23, 0, tzinfo=UTC)) - start
    con = sqlite3.connect(path)
    indexes = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND tbl_name IN ('inquiries', 'obligations')"
    ).fetchall()
    for name, _ in indexes:
        con.execute(f'DROP INDEX "{name}"')
    inquiries: list[tuple[Any, ...]] = []
    obligations: list[tuple[Any, ...]] = []
    oid = 0
    for i in range(1, n + 1):
        received = start + rnd.randrange(span // US_PER_MINUTE) * US_PER_MINUTE
        channel = rnd.choice(CHANNELS)
        callback = rnd.random() < 0.25
        closed = None if rnd.random() < 0.12 else received + rnd.randrange(1, 900) * US_PER_HOUR
        department = rnd.choice(DEFAULT_DEPARTMENTS)
        inquiries.append(
            (
                i,
                f"BV-{i:07d}",
                channel,
                department,
                rnd.choice(DEFAULT_TOPICS),
                rnd.choice(ADVISORS),
                callback,
                stored(received),
                stored(closed) if closed else None,
                stored(received),
            )
        )
        rules = [r for r in (("reply", 24), ("callback", 48)) if _has(r[0], channel, callback)]
        for rule, hours in rules:
            oid += 1
            obligations.append(_obligation(rnd, index, oid, i, rule, hours, received, department))
        if len(inquiries) >= BATCH:
            _flush(con, inquiries, obligations)
    _flush(con, inquiries, obligations)
    for _, sql in indexes:
        con.execute(sql)
    con.commit()
    con.execute("VACUUM")
    con.close()
    return time.perf_counter() - started


def _has(rule: str, channel: str, callback: bool) -> bool:
    """Whether an inquiry carries ``rule``: a reply for written channels, a callback asked."""
    return channel in WRITTEN if rule == "reply" else callback


def _obligation(
    rnd: random.Random,
    index: Any,
    oid: int,
    inquiry: int,
    rule: str,
    hours: int,
    received: int,
    department: str,
) -> tuple[Any, ...]:
    """One obligation row with a real deadline, met 95 % of the time, with the stored
    response time and outcome as the register and the import write them."""
    due = index.instant_reaching(index.cumulative(received) + hours * US_PER_HOUR, received)
    met = minutes = code = None
    if rnd.random() < 0.95:
        met = received + rnd.randrange(1, int(hours * 2.2 * 60)) * US_PER_MINUTE
        minutes = (index.cumulative(met) - index.cumulative(received)) // US_PER_MINUTE
        code = packed_outcome(met > due, minutes)
    state = "pending" if met is None else ("met_on_time" if met <= due else "met_late")
    return (
        oid,
        inquiry,
        rule,
        hours,
        stored(due - 4 * US_PER_HOUR),
        stored(due),
        stored(met) if met else None,
        minutes,
        local_month_us(received),
        department,
        code,
        state,
    )


def _flush(con: sqlite3.Connection, inq: list[Any], obl: list[Any]) -> None:
    con.executemany(INQUIRY_SQL, inq)
    con.executemany(OBLIGATION_SQL, obl)
    inq.clear()
    obl.clear()


def bare(path: Path, join: bool) -> Callable[[], Any]:
    if join:
        sql = (
            "SELECT i.department, count(*) FROM obligations o JOIN inquiries i"
            " ON i.id = o.inquiry_id GROUP BY i.department"
        )
    else:
        sql = "SELECT department, count(*) FROM inquiries GROUP BY department"

    def run() -> Any:
        con = sqlite3.connect(path)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    return run


def report(path: Path, by: GroupBy, response_times: bool) -> Callable[[], Any]:
    period = period_of(FIRST, LAST)

    def run() -> Any:
        engine = make_engine(f"sqlite:///{path}")
        try:
            # As `svarfrist report` opens it: a deferred (read-only) transaction.
            with session_factory(read_only(engine))() as session:
                return build_report(
                    session, by=by, period=period, now=NOW, response_times=response_times
                )
        finally:
            engine.dispose()

    return run


def seconds(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def peak_mib(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="keep the databases here")
    args = parser.parse_args(argv)
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="svarfrist-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, now {NOW:%Y-%m-%d}")
    print("| inquiries | what | seconds | x bare | peak MiB (tracemalloc) |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for n in args.sizes:
        path = workdir / f"report-{n}.db"
        if not path.exists():
            took = build(path, n)
            print(f"<!-- built {n:,} inquiries in {took:.1f} s -->", file=sys.stderr)
        cases: list[tuple[str, Callable[[], Any]]] = [
            ("bare GROUP BY department", bare(path, join=False)),
            ("bare GROUP BY over obligations ⋈ inquiries", bare(path, join=True)),
            ("department compliance report", report(path, GroupBy.DEPARTMENT, False)),
            ("department report + median/p90", report(path, GroupBy.DEPARTMENT, True)),
            ("monthly compliance report", report(path, GroupBy.MONTH, False)),
            ("monthly report + median/p90", report(path, GroupBy.MONTH, True)),
        ]
        bare(path, join=False)()  # warm the page cache once for everyone
        base = None
        for name, fn in cases:
            took = seconds(fn, args.repeat)
            base = base or took
            peak = peak_mib(fn)
            print(f"| {n:,} | {name} | {took:.2f} | {took / base:.1f} | {peak:.1f} |", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nmax RSS of the whole run: {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
