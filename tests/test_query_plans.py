"""The queries that must cost the same with a thousand or a million rows use their indexes.

The statements are captured while the real code runs (the sweep's refresh and digest, the
register's overdue and due-soon lists, the next-action query), then explained on the same
database: SQLite's EXPLAIN QUERY PLAN, and PostgreSQL's EXPLAIN with sequential scans
switched off (on a tiny table its planner would rightly prefer one; switched off, it still
can only pick an index whose condition the query implies). Both obligation indexes are
partial (open obligations only), which is what makes this worth checking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from daemon_world import World, local
from sqlalchemy import Engine, event

from tracker.daemon.sweep import plan_digests, refresh
from tracker.store import pages, queries
from tracker.store.db import transaction

NOW = local("2026-11-30 09:00")


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
        if sql.lstrip().upper().startswith("SELECT") and not many:
            statements.append((sql, params))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def plan(engine: Engine, sql: str, params: Any) -> str:
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return " ".join(str(row[-1]) for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return " ".join(str(row[0]) for row in cursor.fetchall())


def plans_of(world: World, run: Callable[[], object], table_text: str) -> list[str]:
    with captured(world.engine) as statements:
        run()
    wanted = [(sql, p) for sql, p in statements if table_text in sql]
    assert wanted, f"no statement on {table_text} captured"
    return [plan(world.engine, sql, p) for sql, p in wanted]


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = World(database_url, smtp_port=9)  # nothing is sent: only queries are planned
    for hours in range(0, 60, 6):
        w.add(NOW - timedelta(hours=hours), advisor="anne@fredericia.dk")
    yield w
    w.engine.dispose()


def test_the_sweep_finds_work_through_the_partial_next_action_index(world: World) -> None:
    found = plans_of(world, lambda: refresh(world.svc, NOW), "next_action_at <=")
    assert all("ix_obligations_next_action_at" in p for p in found), found
    with transaction(world.factory) as session:
        found = plans_of(world, lambda: queries.next_actions(session, NOW), "next_action_at <=")
    assert all("ix_obligations_next_action_at" in p for p in found), found


def test_open_obligation_queries_use_the_partial_due_index(world: World) -> None:
    found = plans_of(
        world, lambda: plan_digests(world.svc, local("2026-11-30 07:30")), "met_at IS NULL"
    )
    with transaction(world.factory) as session:
        for state in (queries.ListState.OVERDUE, queries.ListState.DUE_SOON):
            found += plans_of(
                world,
                lambda s=state: list(queries.list_inquiries(session, s, NOW)),
                "met_at IS NULL",
            )
    assert all("ix_obligations_due_at" in p for p in found), found


def test_an_advisors_open_inquiries_come_off_the_advisor_and_closed_at_index(
    world: World,
) -> None:
    # The API's list (and Mine frister): at 1,000,000 inquiries SQLite otherwise read every
    # open inquiry off the closed_at index (bench/web.py).
    with transaction(world.factory) as session:
        found = plans_of(
            world,
            lambda: pages.page(
                session,
                state=queries.ListState.OPEN,
                now=NOW,
                limit=50,
                advisor="anne@fredericia.dk",
            ),
            "inquiries.advisor =",
        )
    assert all("ix_inquiries_advisor_closed_at" in p for p in found), found
