"""Reports narrowed to one office, against figures counted independently over that office's
rows alone, on SQLite and PostgreSQL: every grouping, the annual view, the monthly chart and
the breach list, through every way a period is read (the shortcuts "the period holds every
stored row" included: it holds every office's rows, and one office's still need the filter).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from report_data import NOW, World, database, expected, generated, in_period, state
from sqlalchemy import update
from sqlalchemy.orm import Session

from tracker.core.calendar import COPENHAGEN, BusinessCalendar
from tracker.reports.build import breach_rows, build_annual, build_report, monthly_compliance
from tracker.reports.format import report_json
from tracker.reports.queries import GroupBy, Period, period_of
from tracker.store.models import Obligation

CAL = BusinessCalendar()
OFFICES = ("default", "nord")
PERIODS: list[tuple[date | None, date | None]] = [
    (None, None),  # unbounded
    (date(2025, 1, 1), date(2027, 12, 31)),  # covers every stored row, in whole months
    (date(2025, 12, 15), date(2026, 5, 10)),  # covers every stored row, not in whole months
    (date(2026, 1, 20), date(2026, 4, 30)),  # most of the span: SQLite scans the table
    (date(2026, 2, 1), date(2026, 3, 31)),  # whole months inside the data
    (date(2026, 2, 10), date(2026, 2, 16)),  # a week: the received_at index
    (date(2026, 3, 29), None),  # open-ended, across the DST change
]
NOWS = [
    NOW,  # after everything: every met obligation met by now (the stored-key passes)
    datetime(2026, 3, 1, 12, tzinfo=UTC),  # inside the data: met, closed and due after now
]


def nearly_all_closed(world: World) -> datetime:
    """A ``now`` after which only two inquiries close, one of each office: few enough
    (1 %) for the pass that counts the closed ones less those closed after now."""
    last = {}
    for i in sorted(world.inquiries, key=lambda i: i["closed_at"] or NOW):
        if i["closed_at"] is not None:
            last[i.get("office")] = i["closed_at"]
    return min(last.values()) - timedelta(minutes=1)


def office_period(first: date | None, last: date | None, office: str | None) -> Period:
    return period_of(first, last).of_offices(None if office is None else frozenset({office}))


def two_offices(n: int = 240, seed: int = 29) -> World:
    world = generated(n, seed=seed, offices=OFFICES)
    placed = {i.get("office") for i in world.inquiries}
    assert placed == set(OFFICES)  # both offices hold rows
    return world


def monthly_want(world: World, now: datetime, first: Any, last: Any, office: str) -> list[Any]:
    rows = expected(world, "month", now, first, last, office=office)["rows"]
    figures = ("key", "obligations", "on_time", "late", "overdue", "compliance")
    return sorted(tuple(r[f] for f in figures) for r in rows if r["obligations"])


def breaches_want(world: World, now: datetime, first: Any, last: Any, office: str) -> list[Any]:
    inquiries = {i["id"]: i for i in world.inquiries if in_period(i, first, last, office)}
    found = [
        (inquiries[o["inquiry_id"]]["received_at"], inquiries[o["inquiry_id"]]["ref"], o["rule"])
        for o in world.obligations
        if o["inquiry_id"] in inquiries and state(o, now) in {"late", "overdue"}
    ]
    return [(ref, rule) for _, ref, rule in sorted(found)]


@pytest.mark.parametrize("by", list(GroupBy))
def test_every_grouping_of_one_office_counts_that_office_alone(
    database_url: str, by: GroupBy
) -> None:
    world = two_offices()
    with database(database_url, world) as engine, Session(engine) as session:
        for office in OFFICES:
            for now in [*NOWS, nearly_all_closed(world)]:
                for first, last in PERIODS:
                    period = office_period(first, last, office)
                    got = report_json(build_report(session, by=by, period=period, now=now))
                    want = expected(world, by.value, now, first, last, office=office)
                    assert got == want, (office, now, first, last)
                    bare = build_report(
                        session, by=by, period=period, now=now, response_times=False
                    )
                    assert [(r.key, r.on_time, r.late, r.overdue) for r in bare.rows] == [
                        (r["key"], r["on_time"], r["late"], r["overdue"]) for r in want["rows"]
                    ]
        # without an office: every office, as before
        assert report_json(build_report(session, by=by, period=period_of(None, None), now=NOW)) == (
            expected(world, by.value, NOW)
        )


def test_the_annual_view_the_monthly_chart_and_the_breaches_of_one_office(
    database_url: str,
) -> None:
    world = two_offices(seed=31)
    with database(database_url, world) as engine, Session(engine) as session:
        for office in OFFICES:
            for now in NOWS:
                for first, last in PERIODS:
                    where = (office, now, first, last)
                    period = office_period(first, last, office)
                    annual = build_annual(session, period=period, now=now, population=40368)
                    for field, by in (
                        ("departments", "department"),
                        ("channels", "channel"),
                        ("topics", "topic"),
                    ):
                        rows = expected(world, by, now, first, last, office=office)["rows"]
                        want = [(r["key"], r["count"], r["share"], r["open"]) for r in rows]
                        if by == "topic":
                            want = [w for w in want if w[0] is not None][:8]
                        got = [(r.key, r.count, r.share, r.open) for r in getattr(annual, field)]
                        assert got == want, (field, *where)
                    total = expected(world, "channel", now, first, last, office=office)
                    assert (annual.total, annual.open) == (total["total"], total["open"]), where
                    months = [
                        (r.key, r.obligations, r.on_time, r.late, r.overdue, r.compliance)
                        for r in annual.months
                    ]
                    assert months == monthly_want(world, now, first, last, office), where
                    chart = monthly_compliance(session, period, now)
                    assert chart == annual.months
                    listed = list(breach_rows(session, {"default": CAL}, period=period, now=now))
                    assert all(b.office == office for b in listed), where
                    got_breaches = [(b.ref, b.rule) for b in listed]
                    assert got_breaches == breaches_want(world, now, first, last, office), where


@pytest.mark.parametrize("by", [GroupBy.DEPARTMENT, GroupBy.MONTH, GroupBy.RULE])
def test_rows_without_stored_keys_are_corrected_within_the_office(
    database_url: str, by: GroupBy
) -> None:
    """Obligations written outside Svarfrist (no stored month, department or outcome) are
    re-counted by the correction pass: within the office too."""
    world = two_offices(220, seed=37)
    with database(database_url, world) as engine:
        lacking = {"received_month": None, "department": None, "outcome": None}
        with engine.begin() as conn:
            conn.execute(update(Obligation).where(Obligation.id % 2 == 0).values(**lacking))
        with Session(engine) as session:
            for office in OFFICES:
                for first, last in PERIODS[:3]:
                    period = office_period(first, last, office)
                    got = report_json(build_report(session, by=by, period=period, now=NOW))
                    want = expected(world, by.value, NOW, first, last, office=office)
                    assert got == want, (office, first, last)


def test_an_office_without_rows_reports_nothing(database_url: str) -> None:
    world = two_offices(60, seed=41)
    with database(database_url, world) as engine, Session(engine) as session:
        for by in GroupBy:
            got = build_report(session, by=by, period=office_period(None, None, "syd"), now=NOW)
            assert (got.total, got.rows) == (0, ()), by
        nothing = period_of(None, None).of_offices(frozenset())  # a scope of no office
        assert build_report(session, by=GroupBy.MONTH, period=nothing, now=NOW).total == 0
        assert list(breach_rows(session, {"default": CAL}, period=nothing, now=NOW)) == []


def test_the_months_of_an_office_are_its_own_local_months(database_url: str) -> None:
    world = World()
    for moment, office in (
        (datetime(2026, 3, 31, 21, 30, tzinfo=UTC), "nord"),  # 23:30 local: March
        (datetime(2026, 3, 31, 22, 30, tzinfo=UTC), "default"),  # 00:30 local: April
        (datetime(2026, 5, 2, 9, 0, tzinfo=UTC), "default"),
    ):
        world.add(received_at=moment, channel="phone", department="Diverse", office=office)
    after = datetime(2026, 6, 1, tzinfo=UTC)  # every one received by then
    with database(database_url, world) as engine, Session(engine) as session:
        nord = build_report(
            session, by=GroupBy.MONTH, period=office_period(None, None, "nord"), now=after
        )
        assert [(r.key, r.count) for r in nord.rows] == [("2026-03", 1)]
        default = build_report(
            session, by=GroupBy.MONTH, period=office_period(None, None, "default"), now=after
        )
        assert sorted((r.key, r.count) for r in default.rows) == [("2026-04", 1), ("2026-05", 1)]
    assert world.inquiries[0]["received_at"].astimezone(COPENHAGEN).month == 3
