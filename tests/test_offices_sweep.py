"""The daemon's sweep per office, on SQLite and PostgreSQL: an office's reminders go to its
own default recipient, in its own sending window, and escalate to its department's own
address; the office default keeps the top level's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path
from typing import Any

import pytest
from daemon_world import World, local
from register_support import cli_env, write_config
from sqlalchemy import update

from tracker.core.calendar import COPENHAGEN
from tracker.daemon.sweep import plan_digests, refresh
from tracker.store import history
from tracker.store.db import transaction
from tracker.store.models import OutboxMessage
from tracker.store.outbox import OutboxState

NORD, NORD_TEKNIK = "Borgerservice Nord", "Teknik Nord"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
SETTINGS: dict[str, Any] = {
    "default_recipient": "team@fredericia.dk",
    "reminders": {"escalation_after_hours": 1, "escalation_to": "leder@fredericia.dk"},
    "offices": {
        "nord": {
            "default_recipient": "nord@fredericia.dk",
            "departments": [NORD, NORD_TEKNIK],
            "schedules": {"nordvindue": {day: ["09:00-12:00"] for day in WEEKDAYS}},
            "reminders": {
                "window_schedule": "nordvindue",
                "escalation_to": {NORD: "nord-leder@fredericia.dk"},
            },
        }
    },
}
RECEIVED = local("2026-11-02T10:00")  # a Monday
LATER = local("2026-11-20T13:00")  # every deadline long past


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = World(database_url, 2525, **SETTINGS)
    yield w
    w.close()


def planned(world: World) -> dict[tuple[str, str], list[tuple[str, datetime]]]:
    """(ref, kind) -> [(recipient, send_at)] of the outbox."""
    found: dict[tuple[str, str], list[tuple[str, datetime]]] = {}
    for m in world.outbox():
        ref = str((m.payload or {}).get("ref"))
        found.setdefault((ref, m.kind), []).append((m.recipient, m.send_at))
    return found


def test_each_office_s_reminders_go_to_its_recipients_in_its_window(world: World) -> None:
    top = world.add(RECEIVED)
    nord = world.add(RECEIVED, department=NORD, office="nord")
    teknik = world.add(RECEIVED, department=NORD_TEKNIK, office="nord")
    refresh(world.svc, LATER)
    refresh(world.svc, LATER)  # the first look plans; the second finds nothing new
    rows = planned(world)
    assert [r for r, _ in rows[(top, "overdue")]] == ["team@fredericia.dk"]
    assert [r for r, _ in rows[(top, "escalation")]] == ["leder@fredericia.dk"]
    assert [r for r, _ in rows[(nord, "overdue")]] == ["nord@fredericia.dk"]
    assert [r for r, _ in rows[(nord, "escalation")]] == ["nord-leder@fredericia.dk"]
    assert (teknik, "escalation") not in rows  # its department has no escalation address
    for ref in (nord, teknik):
        for kind in ("overdue", "due_soon", "escalation"):
            for _, send_at in rows.get((ref, kind), []):
                assert time(9) <= send_at.astimezone(COPENHAGEN).time() < time(12), (ref, kind)
    top_times = [s.astimezone(COPENHAGEN).time() for _, s in rows[(top, "overdue")]]
    assert top_times != [s.astimezone(COPENHAGEN).time() for _, s in rows[(nord, "overdue")]]


def test_each_office_gets_its_own_digest_once_a_day(world: World) -> None:
    world.add(local("2026-11-19T10:00"))
    world.add(local("2026-11-19T10:00"), department=NORD, office="nord")
    morning = local("2026-11-20T09:30")
    assert plan_digests(world.svc, morning) == 2
    assert plan_digests(world.svc, morning) == 0  # once a day, per office
    digests = [m for m in world.outbox() if m.kind == "digest"]
    assert sorted(m.recipient for m in digests) == ["nord@fredericia.dk", "team@fredericia.dk"]
    nord_digest = next(m for m in digests if m.recipient == "nord@fredericia.dk")
    assert nord_digest.send_at.astimezone(COPENHAGEN).time() >= time(9)


def test_status_of_one_office_counts_only_its_inquiries_messages(
    world: World, run_cli: Any, tmp_path: Path
) -> None:
    top = world.add(RECEIVED)
    nord = world.add(RECEIVED, department=NORD, office="nord")
    refresh(world.svc, LATER)
    rows = world.outbox()
    failed = next(m for m in rows if (m.payload or {}).get("ref") == nord)
    with transaction(world.factory) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == failed.id)
            .values(state=OutboxState.FAILED, attempts=1, last_error="550 5.1.1 no such user")
        )
    by_office: dict[str, int] = {}
    for m in rows:
        ref = (m.payload or {}).get("ref")
        office = "nord" if ref == nord else "default" if ref == top else "none"
        by_office[office] = by_office.get(office, 0) + 1
    env = cli_env(world.settings.database_url, write_config(tmp_path / "c.toml", **SETTINGS))
    now = "2026-11-20T13:00"

    def status(*office: str) -> dict[str, Any]:
        result = run_cli("status", "--now", now, "--json", *office, env=env)
        assert result.returncode == 1, result.stderr  # no sweep has run yet: not healthy
        return dict(json.loads(result.stdout))

    everything, mine, theirs = status(), status("--office", "nord"), status("--office", "default")
    assert mine["office"] == "nord" and "office" not in everything
    assert everything["failed"] == mine["failed"] == 1 and theirs["failed"] == 0
    assert [f["key"] for f in mine["failures"]] == [failed.key]
    assert theirs["failures"] == []
    waiting = {
        name: d["backlog"]["due"] + d["backlog"]["scheduled"]
        for name, d in (("all", everything), ("nord", mine), ("default", theirs))
    }
    assert waiting["nord"] == by_office["nord"] - 1  # the failed one is not waiting
    assert waiting["default"] == by_office["default"]
    assert waiting["all"] == len(rows) - 1
    unknown = run_cli("status", "--office", "syd", env=env)
    assert unknown.returncode == 2 and unknown.stderr.startswith("error:")


def test_assigning_an_unassigned_inquiry_moves_its_office_s_reminders(world: World) -> None:
    nord = world.add(RECEIVED, department=NORD, office="nord")
    refresh(world.svc, LATER)
    mine = [m for m in world.outbox() if (m.payload or {}).get("ref") == nord]
    assert {m.recipient for m in mine if m.kind != "escalation"} == {"nord@fredericia.dk"}
    with transaction(world.factory) as session:
        done = history.assign(session, world.ctx(LATER), nord, "anne@fredericia.dk")
    moved = [m for m in world.outbox() if (m.payload or {}).get("ref") == nord]
    assert done.moved_messages == len([m for m in mine if m.kind != "escalation"]) > 0
    assert {m.recipient for m in moved if m.kind != "escalation"} == {"anne@fredericia.dk"}
    assert {m.recipient for m in moved if m.kind == "escalation"} == {"nord-leder@fredericia.dk"}
