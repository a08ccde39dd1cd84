"""Register benchmark (not a test): import speed, and query costs with 1,000 vs 1,000,000
open inquiries, on SQLite files in a temporary directory.

    .venv/bin/python bench/register.py [--rows 100000] [--big 1000000] [--small 1000]
                                       [--repeat 5]

1. Import: a generated CSV of ``--rows`` rows (mixed channels, replies, closings, call-back
   requests), timed end to end through the console script (process start, validation,
   deadline computation, insert, commit, exit; the median of ``--repeat`` runs, each into a
   new file, since one run on a shared machine can be far off) and in-process, with the
   reader process where it pays and in one process. Peers measured in the same run on the
   same schema: bare ``sqlite3`` executemany and SQLAlchemy Core ``insert`` of the same
   number of inquiry rows.
2. Queries: two databases, ``--small`` and ``--big`` inquiries, all open, built directly
   with executemany (synthetic times: 10% overdue, 20% with next_action_at <= now, the rest
   due within 30 days; one ``reply`` obligation each). Timed in-process (the fastest of
   many runs): ``show``, ``list --state overdue`` (every row, counted) and the sweep's
   query (next_action_at <= now ORDER BY next_action_at LIMIT 100); ``show`` and ``list``
   also through the console script (best of three).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from tracker.config import Settings, build_calendar, build_rules
from tracker.core.response import local_month
from tracker.store import queries, schema
from tracker.store.bulk import INQUIRY_COLUMNS, InquiryRow
from tracker.store.db import make_engine, session_factory, transaction
from tracker.store.models import Inquiry
from tracker.store.register import Context
from tracker.transfer.importer import import_csv

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
INSERT_INQUIRY = (
    f"INSERT INTO inquiries ({', '.join(INQUIRY_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(INQUIRY_COLUMNS))})"
)
SVARFRIST = str(Path(sys.executable).with_name("svarfrist"))
CHANNELS = ["phone", "sms", "email", "letter", "digital_post", "in_person"]
DEPARTMENTS = ["Diverse", "Teknik og Miljø", "Pleje og Omsorg", "Børn og Unge"]


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(7)
    start = NOW - timedelta(days=400)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["received_at", "channel", "department", "topic", "advisor",
                    "callback_requested", "replied_at", "closed_at"])  # fmt: skip
        for i in range(rows):
            received = (start + timedelta(minutes=5 * i)).astimezone(NOW.tzinfo)
            replied = received + timedelta(hours=rng.randint(1, 60)) if i % 2 else None
            # Closed after the reply (at most 60 h), as `close` and the import require.
            closed = received + timedelta(days=rng.randint(3, 20)) if i % 3 else None
            w.writerow([
                received.isoformat(), CHANNELS[i % 6], DEPARTMENTS[i % 4], "Kontanthjælp",
                f"advisor{i % 17}@fredericia.dk", "true" if i % 4 == 0 else "false",
                replied.isoformat() if replied else "", closed.isoformat() if closed else "",
            ])  # fmt: skip


def fresh(directory: Path, name: str) -> str:
    url = f"sqlite:///{directory / name}"
    engine = make_engine(url)
    schema.upgrade(engine)
    engine.dispose()
    return url


def bench_import(directory: Path, rows: int, repeat: int) -> None:
    path = directory / "import.csv"
    write_csv(path, rows)
    size = path.stat().st_size / 1e6
    runs = sorted(import_through_cli(directory, path, i) for i in range(repeat))
    (cli, cli_cpu), (fastest, _) = runs[len(runs) // 2], runs[0]
    print(f"import {rows:,} rows ({size:.1f} MB CSV)")
    print("  (wall clock, and CPU time of the process and its reader process, if any)")
    print(f"  end to end, console script:  {cli:6.2f} s  {rows / cli:10,.0f} rows/s"
          f"   CPU {cli_cpu:5.2f} s  {rows / cli_cpu:10,.0f} rows/CPU-s"
          f"\n  {'':28s} median of {repeat} runs; the fastest {fastest:.2f} s,"
          f" {rows / fastest:,.0f} rows/s")  # fmt: skip
    for label, reader in (("in-process import_csv:", None), ("  the same in one process:", False)):
        inproc, inproc_cpu = import_in_process(directory, path, reader)
        print(f"  {label:28s} {inproc:6.2f} s  {rows / inproc:10,.0f} rows/s"
              f"   CPU {inproc_cpu:5.2f} s  {rows / inproc_cpu:10,.0f} rows/CPU-s")  # fmt: skip
    peers(directory, rows)


def import_through_cli(directory: Path, path: Path, run: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``svarfrist import`` into a new file: what a user waits for."""
    env = {**os.environ, "SVARFRIST_DATABASE_URL": fresh(directory, f"cli-{run}.db"),
           "SVARFRIST_DEFAULT_RECIPIENT": "vejleder@fredericia.dk"}  # fmt: skip
    t0, c0 = time.perf_counter(), children_cpu()
    subprocess.run([SVARFRIST, "import", str(path)], env=env, check=True, capture_output=True)
    return time.perf_counter() - t0, children_cpu() - c0


def import_in_process(directory: Path, path: Path, reader: bool | None) -> tuple[float, float]:
    """Wall and CPU seconds of ``import_csv`` into a new file; ``reader`` as import_csv takes
    it (None: the reader process where it pays, False: never). The CPU of a reader process
    is counted with the importing one's."""
    url = fresh(directory, f"inproc-{reader}.db")
    settings = Settings(database_url=url, default_recipient="vejleder@fredericia.dk")
    ctx = Context(settings=settings, calendar=build_calendar(settings),
                  rules=build_rules(settings), actor="bench", now=NOW)  # fmt: skip
    engine = make_engine(url)
    t0, c0 = time.perf_counter(), time.process_time() + children_cpu()
    with transaction(session_factory(engine)) as session:
        import_csv(session, ctx, path, reader=reader)
    wall, cpu = time.perf_counter() - t0, time.process_time() + children_cpu() - c0
    engine.dispose()
    return wall, cpu


def inquiry_tuples(count: int) -> list[tuple[object, ...]]:
    received = "2026-11-20 10:00:00.000000"
    return [tuple(InquiryRow(i + 1, f"2026-{i + 1:07d}", "email", "Diverse", None, None, False,
                             received, None, None, None, None, received))
            for i in range(count)]  # fmt: skip


def peers(directory: Path, rows: int) -> None:
    """The same inquiry rows inserted with bare sqlite3 and with SQLAlchemy Core."""
    data = inquiry_tuples(rows)
    url = fresh(directory, "peer-sqlite3.db")
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    t0, c0 = time.perf_counter(), time.process_time()
    with conn:
        conn.executemany(INSERT_INQUIRY, data)
    bare, bare_cpu = time.perf_counter() - t0, time.process_time() - c0
    conn.close()
    moment = datetime(2026, 11, 20, 9, tzinfo=UTC)
    dicts = [InquiryRow(*t[:7], moment, None, None, None, None, moment)._asdict()
             for t in data]  # fmt: skip
    engine = make_engine(fresh(directory, "peer-core.db"))
    t0, c0 = time.perf_counter(), time.process_time()
    with engine.begin() as c:
        c.execute(insert(Inquiry.__table__), dicts)
    core, core_cpu = time.perf_counter() - t0, time.process_time() - c0
    engine.dispose()
    print(f"  peer: bare sqlite3 executemany {rows / bare:10,.0f} rows/s"
          f"   {rows / bare_cpu:10,.0f} rows/CPU-s (inquiry rows only)")  # fmt: skip
    print(f"  peer: SQLAlchemy Core insert   {rows / core:10,.0f} rows/s"
          f"   {rows / core_cpu:10,.0f} rows/CPU-s (inquiry rows only)")  # fmt: skip


def build(directory: Path, name: str, count: int) -> str:
    """``count`` open inquiries with one reply obligation each, via executemany."""
    url = fresh(directory, name)
    rng = random.Random(count)
    fmt = lambda d: d.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")  # noqa: E731
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    with conn:
        inquiries, obligations = [], []
        for i in range(count):
            received = NOW - timedelta(minutes=rng.randint(60, 400 * 24 * 60))
            roll = rng.random()
            if roll < 0.10:  # overdue: no next action until an event
                due, nxt = NOW - timedelta(hours=rng.randint(1, 500)), None
            elif roll < 0.30:  # warned, not yet due: the sweep has a reminder to send
                due = NOW + timedelta(hours=rng.randint(1, 4))
                nxt = NOW - timedelta(minutes=rng.randint(1, 240))
            else:
                due = NOW + timedelta(hours=rng.randint(5, 30 * 24))
                nxt = due - timedelta(hours=4)
            warn = due - timedelta(hours=4)
            inquiries.append(tuple(InquiryRow(i + 1, f"2026-{i + 1:07d}", CHANNELS[1 + i % 4],
                                              DEPARTMENTS[i % 4], None, f"a{i % 50}@b.dk", False,
                                              fmt(received), None, None, None, None,
                                              fmt(NOW))))  # fmt: skip
            obligations.append((i + 1, "reply", "working_days", 24.0, fmt(warn), fmt(due),
                                None, "pending", None if nxt is None else fmt(nxt),
                                local_month(received), DEPARTMENTS[i % 4]))  # fmt: skip
        conn.executemany(INSERT_INQUIRY, inquiries)
        conn.executemany(
            "INSERT INTO obligations (inquiry_id, rule, schedule, hours, warn_at, due_at,"
            " met_at, state, next_action_at, received_month, department)"
            f" VALUES ({', '.join('?' * 11)})",
            obligations,
        )
    conn.execute("ANALYZE")
    conn.close()
    return url


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs: on a shared machine the minimum is the least disturbed."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(url: str, count: int) -> dict[str, float]:
    engine = make_engine(url)
    factory = session_factory(engine)
    ref = f"2026-{count // 2:07d}"
    results: dict[str, float] = {}
    with factory() as session:
        results["show"] = best_time(lambda: queries.show(session, ref, NOW), 200)
        overdue = lambda: sum(  # noqa: E731
            1 for _ in queries.list_inquiries(session, queries.ListState.OVERDUE, NOW)
        )
        results["overdue_rows"] = overdue()
        results["list overdue"] = best_time(overdue, 3 if count > 10_000 else 50)
        results["next actions"] = best_time(lambda: queries.next_actions(session, NOW, 100), 500)
        results["next_rows"] = len(queries.next_actions(session, NOW, 100))
    engine.dispose()
    env = {**os.environ, "SVARFRIST_DATABASE_URL": url}
    for label, args in (("show (cli)", ["show", ref]),
                        ("list overdue (cli)", ["list", "--state", "overdue"])):  # fmt: skip
        run = lambda args=args: subprocess.run(  # noqa: E731
            [SVARFRIST, *args, "--now", NOW.isoformat()], env=env, check=True, capture_output=True
        )
        results[label] = best_time(run, 3)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="console-script imports to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="svarfrist-bench-") as tmp:
        directory = Path(tmp)
        bench_import(directory, args.rows, args.repeat)
        t0 = time.perf_counter()
        small = build(directory, "small.db", args.small)
        big = build(directory, "big.db", args.big)
        print(f"built {args.small:,} + {args.big:,} open inquiries with executemany "
              f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip
        a, b = measure(small, args.small), measure(big, args.big)
        print(f"{'':24}{args.small:>14,}{args.big:>14,}   ratio")
        for key in ("show", "list overdue", "next actions", "show (cli)", "list overdue (cli)"):
            unit, scale = ("ms", 1e3)
            print(f"  {key:22}{a[key] * scale:11.3f} {unit}{b[key] * scale:11.3f} {unit}"
                  f"  {b[key] / a[key]:6.2f}x")  # fmt: skip
        print(f"  overdue rows listed: {a['overdue_rows']:,.0f} / {b['overdue_rows']:,.0f}; "
              f"next-action rows: {a['next_rows']:.0f} / {b['next_rows']:.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
