"""The stored response time (obligations.response_minutes): written with met_at by the
register, the import and the 0002 migration, NULL while unmet, read by the reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from register_support import cli_env, engine_for, write_config
from report_data import NOW, World, database, expected, insert_world, local
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from tracker.core.calendar import BusinessCalendar
from tracker.reports.build import build_report
from tracker.reports.format import report_json, report_text
from tracker.reports.labels import labels_for
from tracker.reports.queries import GroupBy, period_of
from tracker.store import schema
from tracker.store.db import make_engine
from tracker.store.models import Inquiry, Obligation, Pause

CAL = BusinessCalendar()


def ok(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return result


def stored_minutes(url: str) -> dict[tuple[str, str], int | None]:
    """(ref, rule) -> response_minutes of every obligation."""
    with engine_for(url, init=False) as engine, engine.connect() as conn:
        rows = conn.execute(
            select(Inquiry.ref, Obligation.rule, Obligation.response_minutes).join(
                Inquiry, Inquiry.id == Obligation.inquiry_id
            )
        )
        return {(ref, rule): minutes for ref, rule, minutes in rows}


def test_reply_callback_and_close_store_working_minutes_pauses_excluded(
    run_cli: Any, database_url: str, tmp_path: Path
) -> None:
    env = cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))

    def cli(*args: str) -> Any:
        return ok(run_cli(*args, env=env))

    cli("init")
    # Mon 2 March 2026, 09:00 local; working_days counts whole working days.
    common = ("--department", "Diverse", "--now", "2026-03-02T09:00")
    cli("add", "--channel", "email", "--received", "2026-03-02T09:00", "--ref", "A-1", *common)
    cli(
        "add",
        *("--channel", "phone", "--callback", "--received", "2026-03-06T22:00"),
        *("--ref", "B-1", "--department", "Diverse", "--now", "2026-03-06T22:00"),
    )
    assert stored_minutes(database_url) == {("A-1", "reply"): None, ("B-1", "callback"): None}
    # Paused 10:00-10:30, replied 11:30: 150 working minutes less the 30 paused.
    cli("pause", "A-1", "--at", "2026-03-02T10:00", "--now", "2026-03-02T10:00")
    cli("resume", "A-1", "--at", "2026-03-02T10:30", "--now", "2026-03-02T10:30")
    cli("reply", "A-1", "--at", "2026-03-02T11:30", "--now", "2026-03-02T11:30")
    # Fri 22:00 -> Mon 02:00 across the weekend: 2 h on Friday + 2 h on Monday.
    cli("close", "B-1", "--at", "2026-03-09T02:00", "--now", "2026-03-09T02:00")
    assert stored_minutes(database_url) == {("A-1", "reply"): 120, ("B-1", "callback"): 240}


def test_the_migration_fills_met_obligations_of_an_0001_database(
    run_cli: Any, database_url: str, tmp_path: Path
) -> None:
    world = World()
    met = world.add(received_at=local(2026, 3, 2, 9), channel="email", department="Diverse")
    world.oblige(met, "reply", due_at=local(2026, 3, 3, 9), met_at=local(2026, 3, 2, 11, 30))
    unmet = world.add(received_at=local(2026, 3, 2, 9), channel="email", department="Diverse")
    world.oblige(unmet, "reply", due_at=local(2026, 3, 3, 9))
    gone = world.add(received_at=local(2026, 3, 2, 9), channel="email", department="Diverse")
    world.oblige(gone, "reply", schedule="retired", due_at=None, met_at=local(2026, 3, 2, 10))
    engine = make_engine(database_url)
    try:
        schema.upgrade(engine, "0001")
        insert_world(engine, world)
        with engine.begin() as conn:  # a 30-minute pause while the first one waited
            conn.execute(
                insert(Pause),
                [
                    {
                        "inquiry_id": met["id"],
                        "start": local(2026, 3, 2, 10),
                        "end": local(2026, 3, 2, 10, 30),
                    }
                ],
            )
    finally:
        engine.dispose()
    env = cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))
    result = ok(run_cli("init", env=env))
    assert f"upgraded from 0001 to {schema.HEAD_REVISION}" in result.stdout
    assert stored_minutes(database_url) == {
        (met["ref"], "reply"): 120,
        (unmet["ref"], "reply"): None,
        (gone["ref"], "reply"): None,  # a schedule no longer configured cannot be measured
    }


@pytest.mark.parametrize("by", [GroupBy.DEPARTMENT, GroupBy.MONTH, GroupBy.RULE])
def test_a_met_obligation_without_a_stored_time_is_counted_but_never_measured_by_the_report(
    database_url: str, by: GroupBy
) -> None:
    """Rows written outside Svarfrist: the report reads stored values only. It used to
    measure such a row itself, ignoring its pauses, so a figure depended on the writer."""
    world = World()
    timed = world.add(received_at=local(2026, 3, 2, 9), channel="email", department="D")
    world.oblige(timed, "reply", due_at=local(2026, 3, 3, 9), met_at=local(2026, 3, 2, 10))
    foreign = world.add(received_at=local(2026, 3, 2, 9), channel="email", department="D")
    reply = world.oblige(
        foreign, "reply", due_at=local(2026, 3, 3, 9), met_at=local(2026, 3, 3, 11, 30)
    )
    with database(database_url, world) as engine:
        with engine.begin() as conn:  # paused a whole day, then written without its minutes
            pause = {"start": local(2026, 3, 2, 9, 30), "end": local(2026, 3, 3, 9, 30)}
            conn.execute(insert(Pause), [{"inquiry_id": foreign["id"], **pause}])
            conn.execute(
                update(Obligation)
                .where(Obligation.id == reply["id"])
                .values(response_minutes=None, outcome=None)
            )
        with Session(engine) as session:
            report = build_report(session, by=by, period=period_of(None, None), now=NOW)
    (row,) = report.rows
    assert (row.obligations, row.on_time, row.late) == (2, 1, 1)  # counted as met late
    assert (row.median_hours, row.p90_hours) == (1.0, 1.0)  # only the stored hour
    assert report.untimed == 1
    text = report_text(report, labels_for("da"), "da")
    assert "Opfyldte frister uden gemt svartid (talt med, ikke i median og 90 %): 1\n" in text
    assert report_json(report) == expected(world, by.value, NOW, untimed={reply["id"]})


def test_the_imports_bulk_elapsed_time_equals_the_pairwise_one() -> None:
    index = CAL.index("working_days")
    start = 1_767_225_600 * 1_000_000  # 2026-01-01T00:00Z
    hour = 3_600_000_000
    starts = [start + k * 7 * hour for k in range(200)]
    ends = [s + (k % 13 - 3) * 5 * hour for k, s in enumerate(starts)]  # some before the start
    pairs = zip(starts, ends, strict=True)
    want = [max(index.cumulative(b) - index.cumulative(a), 0) for a, b in pairs]
    assert index.elapsed_many(starts, ends) == want
    assert index.elapsed_many([], []) == []
