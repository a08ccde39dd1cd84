"""The reports' stored keys (obligations.received_month, .department and .outcome): written by
the register, the import and the 0004 migration as tracker.core.response derives them, and the
reports exact at any ``now`` whether the columns are filled or NULL (rows written outside
Svarfrist)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from register_support import cli_env, engine_for, write_config
from report_data import CHANNELS, NOW, database, expected, generated
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tracker.core.calendar import BusinessCalendar, to_us
from tracker.core.outcome import STATE_BITS, STATE_MASK, Outcome, decode, encode
from tracker.core.response import local_month, local_month_us, outcome
from tracker.reports.build import build_report
from tracker.reports.format import report_json
from tracker.reports.obligations import obligation_counts
from tracker.reports.queries import GroupBy, period_of
from tracker.store.models import Inquiry, Obligation

CAL = BusinessCalendar()


@pytest.mark.parametrize(
    ("moment", "month"),
    [
        (datetime(2025, 12, 31, 22, 59, tzinfo=UTC), 202512),  # 23:59 local, winter time
        (datetime(2025, 12, 31, 23, 0, tzinfo=UTC), 202601),  # local New Year
        (datetime(2026, 3, 31, 21, 59, tzinfo=UTC), 202603),  # 23:59 summer time
        (datetime(2026, 3, 31, 22, 0, tzinfo=UTC), 202604),  # 1 April 00:00 CEST
        (datetime(2026, 10, 31, 22, 59, tzinfo=UTC), 202610),  # 23:59 CET, after the change
        (datetime(2026, 10, 31, 23, 0, tzinfo=UTC), 202611),
    ],
)
def test_the_stored_month_is_the_copenhagen_calendar_month(moment: datetime, month: int) -> None:
    assert local_month(moment) == month
    assert local_month_us(to_us(moment)) == month


def test_the_outcome_packs_lateness_and_minutes_and_is_none_while_unmet() -> None:
    due = datetime(2026, 3, 3, 8, tzinfo=UTC)
    assert outcome(None, due, None) is None
    assert outcome(due, due, 90) == 4 * 91  # met exactly at the deadline: on time
    assert outcome(datetime(2026, 3, 3, 9, tzinfo=UTC), due, 90) == 4 * 91 + 1
    assert outcome(due, None, None) == 0  # no deadline: on time; no measurable time


@pytest.mark.parametrize(
    ("state", "minutes", "code"),
    [
        # The stored values (migration 0004 wrote them with 4 * (minutes + 1) + late):
        # pinned, because changing them needs a migration.
        (Outcome.ON_TIME, None, 0),
        (Outcome.LATE, None, 1),
        (Outcome.ON_TIME, 0, 4),
        (Outcome.ON_TIME, 90, 364),
        (Outcome.LATE, 90, 365),
        # Only a report's codes: unmet at its now, never with minutes.
        (Outcome.OVERDUE, None, 2),
        (Outcome.PENDING, None, 3),
    ],
)
def test_the_codec_keeps_the_stored_codes(state: Outcome, minutes: int | None, code: int) -> None:
    assert encode(state, minutes) == code
    assert decode(code) == (state, minutes)


@given(
    state=st.sampled_from([Outcome.ON_TIME, Outcome.LATE]),
    minutes=st.none() | st.integers(min_value=0, max_value=10**9),
)
def test_every_met_outcome_decodes_to_what_was_encoded(state: Outcome, minutes: int | None) -> None:
    code = encode(state, minutes)
    assert decode(code) == (state, minutes)
    # The bit layout the reports' hot loop reads (tracker.reports.build) says the same.
    plus_one = 0 if minutes is None else minutes + 1
    assert (code >> STATE_BITS, code & STATE_MASK) == (plus_one, state)


def test_the_codec_refuses_what_would_read_back_as_something_else() -> None:
    with pytest.raises(ValueError, match="negative"):
        encode(Outcome.ON_TIME, -1)  # would read back as "not measured"
    with pytest.raises(ValueError, match="OVERDUE"):
        encode(Outcome.OVERDUE, 5)  # would read back as met
    with pytest.raises(ValueError, match="not an outcome code"):
        decode(-3)


def assert_stored_keys_agree(url: str) -> int:
    """Every obligation's received_month and outcome as derived from its row; returns how
    many obligations were met."""
    with engine_for(url, init=False) as engine, engine.connect() as conn:
        rows = conn.execute(
            select(
                Inquiry.received_at,
                Inquiry.department,
                Obligation.department,
                Obligation.due_at,
                Obligation.met_at,
                Obligation.response_minutes,
                Obligation.received_month,
                Obligation.outcome,
            ).join(Inquiry, Inquiry.id == Obligation.inquiry_id)
        ).all()
    assert rows
    for received, department, copy, due, met, minutes, month, code in rows:
        assert month == local_month(received)
        assert copy == department
        assert code == outcome(met, due, minutes)
    return sum(met is not None for _, _, _, _, met, *_ in rows)


def test_the_register_writes_them_through_every_operation(
    run_cli: Any, database_url: str, tmp_path: Path
) -> None:
    env = cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))

    def cli(*args: str) -> None:
        result = run_cli(*args, env=env)
        assert result.returncode == 0, result.stderr

    cli("init")
    # Received 31 March 23:30 local: April in UTC terms, March on the municipality's calendar.
    common = ("--department", "Diverse", "--now", "2026-04-01T09:00")
    cli("add", "--channel", "email", "--received", "2026-03-31T23:30", "--ref", "A-1", *common)
    cli(
        "add",
        "--channel",
        "phone",
        "--callback",
        "--received",
        "2026-04-01T08:00",
        "--ref",
        "B-1",
        *common,
    )
    cli("add", "--channel", "sms", "--received", "2026-04-01T08:30", "--ref", "C-1", *common)
    cli("pause", "A-1", "--at", "2026-04-01T10:00", "--now", "2026-04-01T10:00")
    cli("resume", "A-1", "--at", "2026-04-01T10:30", "--now", "2026-04-01T10:30")
    cli("reply", "A-1", "--at", "2026-04-01T11:30", "--now", "2026-04-01T11:30")
    cli("close", "B-1", "--at", "2026-04-20T12:00", "--now", "2026-04-20T12:00")  # late
    assert assert_stored_keys_agree(database_url) == 2
    with engine_for(database_url, init=False) as engine, engine.connect() as conn:
        months = set(conn.execute(select(Obligation.received_month)).scalars())
    assert months == {202603, 202604}


def test_the_migration_fills_them_for_existing_rows(database_url: str) -> None:
    with database(database_url, generated(120, seed=3)):  # 0001 rows, upgraded to head
        assert assert_stored_keys_agree(database_url) > 0


NOWS = [
    NOW,  # after everything: every met obligation met by now
    datetime(2026, 3, 1, 12, tzinfo=UTC),  # inside the data: met, closed and due after now
    datetime(2026, 1, 10, 12, tzinfo=UTC),  # early: most inquiries still open at now
    datetime(2025, 12, 1, tzinfo=UTC),  # before every row
]


@pytest.mark.parametrize("by", [GroupBy.DEPARTMENT, GroupBy.MONTH, GroupBy.RULE])
@pytest.mark.parametrize("stored", ["all", "half", "none"])
def test_reports_are_exact_at_any_now_with_or_without_the_stored_keys(
    database_url: str, by: GroupBy, stored: str
) -> None:
    world = generated(220, seed=17)
    periods = [(None, None), (date(2026, 2, 1), date(2026, 3, 31)), (date(2026, 2, 10), None)]
    with database(database_url, world) as engine:
        untimed: set[int] = set()
        if stored != "all":  # as rows written outside Svarfrist would be
            some = Obligation.id % 2 == 0 if stored == "half" else Obligation.id > 0
            lacking = {"received_month": None, "department": None, "outcome": None}
            if stored == "none":  # no response time either: counted, not timed
                lacking["response_minutes"] = None
                untimed = {o["id"] for o in world.obligations}
            with engine.begin() as conn:
                conn.execute(update(Obligation).where(some).values(**lacking))
        with Session(engine) as session:
            for now in NOWS:
                for first, last in periods:
                    for times in (True, False):
                        report = build_report(
                            session,
                            by=by,
                            period=period_of(first, last),
                            now=now,
                            response_times=times,
                        )
                        want = expected(world, by.value, now, first, last, untimed=untimed)
                        if not times:
                            for row in want["rows"]:
                                row["median_hours"] = row["p90_hours"] = None
                        assert report_json(report) == want, (now, first, last, times)


def test_an_obligation_key_the_inquiry_pass_did_not_see_is_an_error_not_a_wrong_figure(
    tmp_path: Path,
) -> None:
    # SQLite groups obligations by the key's position among the inquiry pass's keys.
    with (
        database(f"sqlite:///{tmp_path / 'keys.db'}", generated(40, seed=2)) as engine,
        Session(engine) as session,
    ):
        whole = period_of(None, None)
        counts = obligation_counts(session, GroupBy.CHANNEL, whole, NOW, CHANNELS)
        assert sum(c.obligations for c in counts) > 0
        with pytest.raises(LookupError, match="channel"):
            obligation_counts(session, GroupBy.CHANNEL, whole, NOW, ["email"])


def test_upgrading_an_old_database_keeps_every_row(database_url: str) -> None:
    """No migration may copy and drop a table that others reference: on SQLite dropping
    ``inquiries`` deleted every obligation through ON DELETE CASCADE (0009 in batch mode)."""
    world = generated(60, seed=5)
    with database(database_url, world) as engine, engine.connect() as conn:
        inquiries = conn.execute(select(func.count()).select_from(Inquiry)).scalar_one()
        obligations = conn.execute(select(func.count()).select_from(Obligation)).scalar_one()
    assert (inquiries, obligations) == (len(world.inquiries), len(world.obligations))
