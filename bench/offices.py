"""Benchmark of many offices on PostgreSQL (not a test): ``bench/offices.py``.

Run as ``PYTHONPATH=. .venv/bin/python bench/offices.py [--per-office N] [--offices K]``.

1. The daemon's sweep with nothing due, ``K`` offices (default 98, one per Danish
   municipality, ``o001``..``o098``, each with its own departments, closed days, opening
   hours, digest time and recipients) of ``N`` open inquiries each (default 10,000), against
   the same ``K x N`` inquiries in the one office of a configuration without ``[offices]``:
   the same rows but for the ``office`` column. Two moments, both on a working Monday after
   every office's digest time: an idle sweep once today's digests are done (what the daemon
   does every minute for the rest of the day: each office's digest pass only checks that it
   is done), and a sweep at digest time (today's digest states removed before each sweep, so
   each office's digest pass runs its query; nothing is due today, so none is made). Each
   case is timed alternately with its one-office yardstick (bench.common), medians printed,
   target <= 1.2x. ``--offices 1``: one configured office (beside the empty ``default``)
   against the plain configuration.
2. ``build_report`` for one office (``report --office o042``: the department report of the
   last 30 days, response times included) in the ``K``-office database against the same
   report in a database holding only that office's inquiries. So that the report has
   response times to count, every office also holds ``N / 2`` closed inquiries received
   over the month before ``now``, each with a met ``reply`` obligation (stored response
   minutes and outcome, some late); they are in every database, and have no next action,
   so the sweep does not read them.

The databases (``<name>_offices``, ``<name>_single``, ``<name>_one``, ``<name>`` from the
URL) are created, filled with one INSERT ... SELECT over generate_series per table (indexes
dropped during the load and rebuilt after), VACUUM ANALYZEd, and dropped at the end.
URL: ``--url``, else ``SVARFRIST_BENCH_POSTGRES_URL``, else the local server's
``bench_offices``. ``--keep`` leaves them for another run with ``--reuse``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import alternate_sweeps, timed
from tracker.config import DEFAULT_DEPARTMENTS, Settings
from tracker.config.offices import check_offices
from tracker.config.settings import (
    CalendarSettings,
    OfficeSettings,
    RemindersSettings,
    ScheduleSettings,
)
from tracker.core.calendar import COPENHAGEN
from tracker.core.response import local_month
from tracker.daemon.sweep import DIGEST_DONE, Services, build_services
from tracker.notify import Connection
from tracker.reports.build import build_report
from tracker.reports.queries import GroupBy, period_of
from tracker.store import schema
from tracker.store.db import make_engine, read_only, session_factory

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_offices"
# A working Monday at 09:00, after every office's digest time (07:00-08:30) and inside
# every sending window; the same moment as bench/sweep.py's.
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN)
RUNS = 30  # sweeps per case and side, as bench/sweep.py
REPORT_RUNS = 15
REPORTED = 42  # the office whose report is measured (o042)
DEPARTMENTS_PER_OFFICE = 6


# -- the configuration ----------------------------------------------------------------------
def office_key(index: int) -> str:
    """The key of office ``index`` (0-based): o001, o002, ..."""
    return f"o{index + 1:03d}"


def office_departments(index: int) -> list[str]:
    """Six of the default departments, a different six from office to office (the bulk
    SQL below picks an inquiry's department by the same rule)."""
    n = len(DEFAULT_DEPARTMENTS)
    return [DEFAULT_DEPARTMENTS[(index + d) % n] for d in range(DEPARTMENTS_PER_OFFICE)]


def office_settings(index: int) -> OfficeSettings:
    """A municipality's own values: closed days, opening hours, digest time, recipients."""
    opens = ("08:00", "08:30", "09:00")[index % 3]
    closes = ("15:00", "15:30")[index % 2]
    friday = ("12:00", "13:00", "14:00")[index % 3]
    closed = [date(2026, 5, 15)] if index % 2 else []  # the Friday after Ascension
    if index % 5 == 0:
        closed.append(date(2026, 12, 23))
    half_days = {"12-23": clock(12, 0)} if index % 5 != 0 else {}
    key = office_key(index)
    departments = office_departments(index)
    escalation: str | dict[str, str] | None = None
    if index % 4 == 1:
        escalation = f"leder@{key}.kommune.dk"
    elif index % 4 == 2:
        escalation = {d: f"leder{i}@{key}.kommune.dk" for i, d in enumerate(departments[:3])}
    hours = (None, 4.0, 8.0)[index % 3]
    if hours is None or escalation is None:  # half an escalation is refused: none at all
        hours, escalation = None, None
    return OfficeSettings(
        default_recipient=f"frister@{key}.kommune.dk",
        departments=departments,
        calendar=CalendarSettings(closed_dates=closed, half_days=half_days),
        schedules={
            "office_hours": ScheduleSettings(
                monday=[f"{opens}-{closes}"],
                tuesday=[f"{opens}-{closes}"],
                wednesday=[f"{opens}-{closes}"],
                thursday=[f"{opens}-17:00" if index % 2 else f"{opens}-{closes}"],
                friday=[f"{opens}-{friday}"],
            )
        },
        reminders=RemindersSettings(
            digest_time=(clock(7, 0), clock(7, 30), clock(8, 0), clock(8, 30))[index % 4],
            escalation_after_hours=hours,
            escalation_to=escalation,
        ),
    )


def settings_for(url: str, offices: int) -> Settings:
    """``offices`` configured offices (0: none, the plain configuration)."""
    settings = Settings(
        database_url=url,
        mail_from="svarfrist@kommune.dk",
        default_recipient="frister@kommune.dk",
        offices={office_key(i): office_settings(i) for i in range(offices)},
    )
    check_offices(settings)
    return settings


# -- the databases --------------------------------------------------------------------------
INQUIRIES = """
INSERT INTO inquiries (id, ref, channel, office, department, topic, advisor,
    callback_requested, answer_promised, received_at, created_at)
SELECT i, 'B-' || lpad(i::text, 8, '0'), 'email',
    CASE WHEN :keyed THEN 'o' || lpad((o + 1)::text, 3, '0') ELSE 'default' END,
    (CAST(:departments AS text[]))[(o + ((i - 1) / :k) % :per) % :n + 1],
    'Kontanthjælp',
    'vejleder' || ((i - 1) / :k % 40) || '@o' || lpad((o + 1)::text, 3, '0') || '.kommune.dk',
    false, true,
    :now - (i % 1440) * interval '1 minute', :now - (i % 1440) * interval '1 minute'
FROM (SELECT i, (i - 1) % :k AS o FROM generate_series(1, :total) AS i) AS s
WHERE CAST(:only AS integer) IS NULL OR o = CAST(:only AS integer)
"""
# One ``answer`` obligation each (10 working days, warned a day before): due in about two
# weeks, so nothing is due today and the next look (warn_at) is days away.
OBLIGATIONS = """
INSERT INTO obligations (id, inquiry_id, rule, schedule, hours, warn_at, due_at, state,
    next_action_at, received_month, department, office)
SELECT id, id, 'answer', 'working_days', 240, due - interval '1 day', due, 'pending',
    due - interval '1 day', :month, department, office
FROM (SELECT id, department, office, received_at + interval '14 days' AS due
      FROM inquiries) AS s
"""
# The month before ``now``: ``per / 2`` closed inquiries per office, received 2-28 days ago
# (all in ``now``'s month), replied 0-1,999 working minutes later; the reply obligation met
# with its stored response minutes and outcome (late past 1,440 minutes: code 4 * (m + 1) +
# late, tracker.core.outcome), no next action.
HISTORY = """
INSERT INTO inquiries (id, ref, channel, office, department, topic, advisor,
    callback_requested, answer_promised, received_at, replied_at, closed_at, created_at)
SELECT :total + i, 'H-' || lpad(i::text, 8, '0'), 'email',
    CASE WHEN :keyed THEN 'o' || lpad((o + 1)::text, 3, '0') ELSE 'default' END,
    (CAST(:departments AS text[]))[(o + ((i - 1) / :k) % :per) % :n + 1],
    'Kontanthjælp',
    'vejleder' || ((i - 1) / :k % 40) || '@o' || lpad((o + 1)::text, 3, '0') || '.kommune.dk',
    false, false, received, received + (i % 2000) * interval '1 minute',
    received + (i % 2000) * interval '1 minute', received
FROM (SELECT i, (i - 1) % :k AS o,
             :now - interval '2 days' - ((i * 37) % (26 * 1440)) * interval '1 minute' AS received
      FROM generate_series(1, :history) AS i) AS s
WHERE CAST(:only AS integer) IS NULL OR o = CAST(:only AS integer)
"""
MET = """
INSERT INTO obligations (id, inquiry_id, rule, schedule, hours, warn_at, due_at, met_at,
    response_minutes, outcome, state, next_action_at, received_month, department, office)
SELECT id, id, 'reply', 'office_hours', 24, received_at + interval '20 hours',
    received_at + interval '1 day', replied_at, m, 4 * (m + 1) + CAST(m > 1440 AS integer),
    'met', NULL, :month, department, office
FROM (SELECT id, received_at, replied_at, department, office, id % 2000 AS m
      FROM inquiries WHERE id > :total) AS s
"""


def database_url(base: str, suffix: str) -> str:
    url = make_url(base)
    return url.set(database=f"{url.database}_{suffix}").render_as_string(hide_password=False)


def _admin(base: str) -> Engine:
    url = make_url(base).set(database="postgres")
    return make_engine(url.render_as_string(hide_password=False)).execution_options(
        isolation_level="AUTOCOMMIT"
    )


def drop_database(base: str, url: str) -> None:
    admin = _admin(base)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def build_database(
    base: str, url: str, *, offices: int, per_office: int, keyed: bool, only: int | None = None
) -> None:
    """``offices x per_office`` open inquiries (office ``oNNN`` if ``keyed``, else
    ``default``), or only office ``only``'s, each with its obligation, and the month of
    closed ones before them (``HISTORY``)."""
    drop_database(base, url)
    admin = _admin(base)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{make_url(url).database}"'))
    admin.dispose()
    engine = make_engine(url)
    schema.upgrade(engine)

    month = local_month(NOW - timedelta(days=1))
    assert month == local_month(NOW), "received times straddle a month"
    with engine.begin() as conn:
        indexes = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
                " AND tablename IN ('inquiries', 'obligations')"
                " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
            )
        ).all()
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        values = {
            "keyed": keyed,
            "departments": list(DEFAULT_DEPARTMENTS),
            "k": offices,
            "per": DEPARTMENTS_PER_OFFICE,
            "n": len(DEFAULT_DEPARTMENTS),
            "now": NOW,
            "total": offices * per_office,
            "only": only,
        }
        conn.execute(text(INQUIRIES), values)
        conn.execute(text(OBLIGATIONS), {"month": month})
        conn.execute(text(HISTORY), {**values, "history": offices * (per_office // 2)})
        conn.execute(text(MET), {"month": month, "total": values["total"]})
        for _, sql in indexes:
            conn.execute(text(sql))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


# -- 1. the sweep -----------------------------------------------------------------------------
async def _no_smtp() -> Connection:
    raise AssertionError("an idle sweep has nothing to send")


def reset_digests(svc: Services) -> None:
    """Forget today's digests (untimed), so the next sweep runs every office's digest pass."""
    with svc.factory.begin() as session:
        session.execute(
            text("DELETE FROM daemon_state WHERE name = :done OR name LIKE :office"),
            {"done": DIGEST_DONE, "office": f"{DIGEST_DONE}:%"},
        )


def sweep_cases(
    offices_url: str, single_url: str, offices: int, runs: int
) -> list[tuple[str, float, float]]:
    """(case, median seconds with the offices, with one office) per case."""
    engines = [make_engine(offices_url), make_engine(single_url)]
    services = [
        build_services(settings_for(url, k), session_factory(engine), _no_smtp)
        for url, k, engine in zip((offices_url, single_url), (offices, 0), engines, strict=True)
    ]

    # As after the daemon's first sweep of the day: today's digests done (none to make).
    alternate_sweeps(services, 1, lambda i: NOW)
    idle = alternate_sweeps(services, runs, lambda i: NOW + timedelta(seconds=i + 1))
    at_digest = alternate_sweeps(
        services, runs, lambda i: NOW + timedelta(seconds=runs + i + 1), before=reset_digests
    )
    for engine in engines:
        engine.dispose()
    return [
        ("idle sweep, today's digests done", *map(statistics.median, idle)),
        ("sweep at digest time (every office's digest pass)", *map(statistics.median, at_digest)),
    ]


# -- 2. one office's report -------------------------------------------------------------------
def report_of(engine: Engine, office: str, first: date) -> Callable[[], Any]:
    """The department report from ``first`` to today, with response times, as ``svarfrist
    report --office`` prints it."""
    period = period_of(first, NOW.date()).of_offices(frozenset({office}))

    def run() -> Any:
        # As `svarfrist report` opens it: a read-only transaction.
        with session_factory(read_only(engine))() as session:
            return build_report(session, by=GroupBy.DEPARTMENT, period=period, now=NOW)

    return run


def report_times(offices_url: str, one_url: str, office: str, first: date) -> list[float]:
    """Median seconds of the report in the offices' database and in the office's alone."""
    engines = [make_engine(offices_url), make_engine(one_url)]
    try:
        reports = [report_of(engine, office, first) for engine in engines]
        first = [r() for r in reports]  # the same figures, or the comparison means nothing
        if first[0] != first[1]:
            fail(f"the report of {office} differs between the two databases")
        return alternate(reports, REPORT_RUNS)
    finally:
        for engine in engines:
            engine.dispose()


def alternate(fns: list[Callable[[], Any]], runs: int) -> list[float]:
    """Median seconds of each function, called in turn ``runs`` times after one warm-up."""
    times: list[list[float]] = [[] for _ in fns]
    for fn in fns:
        fn()
    for _ in range(runs):
        for which, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            times[which].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


# -- the run ----------------------------------------------------------------------------------
def fail(message: str) -> NoReturn:
    raise SystemExit(f"bench/offices.py: {message}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-office", type=int, default=10_000)
    parser.add_argument("--offices", type=int, default=98)
    parser.add_argument("--runs", type=int, default=RUNS, help="sweeps per case and side")
    parser.add_argument("--url", default=os.environ.get("SVARFRIST_BENCH_POSTGRES_URL"))
    parser.add_argument("--keep", action="store_true", help="leave the databases")
    parser.add_argument("--reuse", action="store_true", help="use the kept databases")
    args = parser.parse_args(argv)
    if not 1 <= args.offices <= 999 or args.per_office < 1:
        fail("--offices is 1-999 and --per-office at least 1")
    base = args.url or DEFAULT_URL
    if make_url(base).get_backend_name() != "postgresql":
        fail("this benchmark runs on PostgreSQL (postgresql+psycopg://...)")
    k, n = args.offices, args.per_office
    offices_url = database_url(base, "offices")
    single_url = database_url(base, "single")
    one_url = database_url(base, "one")
    reported = office_key(min(REPORTED, k) - 1)
    admin = _admin(base)
    with admin.connect() as conn:
        server = conn.execute(text("SHOW server_version")).scalar()
    admin.dispose()
    offices = f"{k} offices" if k > 1 else "one [offices] entry"
    print(f"bench/offices.py: PostgreSQL {server}, {offices} x {n:,} open inquiries")
    print(f"  (load average at start: {' / '.join(f'{x:.1f}' for x in os.getloadavg())})")
    try:
        if not args.reuse:
            total = f"{k * n:,}"
            timed(
                f"build {total} inquiries in {offices}",
                lambda: build_database(base, offices_url, offices=k, per_office=n, keyed=True),
            )
            timed(
                f"build {total} inquiries in one office",
                lambda: build_database(base, single_url, offices=k, per_office=n, keyed=False),
            )
            timed(
                f"build {reported}'s inquiries alone",
                lambda: build_database(
                    base, one_url, offices=k, per_office=n, keyed=True, only=int(reported[1:]) - 1
                ),
            )
        rows: list[tuple[str, float, float, str]] = []
        for case, many, one in sweep_cases(offices_url, single_url, k, args.runs):
            rows.append((f"{case}: {offices} / one office", many, one, "<= 1.2x"))
        # The last 30 days (a partial month: the obligations joined to the inquiries) and this
        # month (whole months: the obligations' stored keys alone).
        for name, first in (
            ("last 30 days", NOW.date() - timedelta(days=30)),
            ("this month", NOW.date().replace(day=1)),
        ):
            many, one = report_times(offices_url, one_url, reported, first)
            case = f"report --office {reported}, {name}: {offices} / it alone"
            rows.append((case, many, one, "<= 1.2x"))
        print("\n| case | median ms | yardstick ms | ratio | target |")
        print("| --- | ---: | ---: | ---: | --- |")
        for case, many, one, target in rows:
            print(f"| {case} | {many * 1e3:.2f} | {one * 1e3:.2f} | {many / one:.2f}x | {target} |")
        print(
            f"\n(median of {args.runs} sweeps each, alternated; load average at end: "
            f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())})"
        )
    finally:
        if not args.keep:
            for url in (offices_url, single_url, one_url):
                drop_database(base, url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
