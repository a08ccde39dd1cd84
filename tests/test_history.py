"""Correcting mistakes: assign, reopen and undo through the real console script, on SQLite and
PostgreSQL; each refuses what cannot be undone, with one error line and nothing written.

Deadlines are docs/deadlines.md's (``working_days``, default closed days): an e-mail received
Fri 27 Nov 15:00 is due Mon 30 Nov 15:00; paused Fri 16:00 to Mon 10:00, Tue 1 Dec 09:00.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from register_support import assert_refused, dump, engine_for, session_on, write_config
from sqlalchemy import select, update
from test_register import Cli, by_rule, cli, events, ok, show

from tracker.store import outbox
from tracker.store.models import Inquiry, OutboxMessage

__all__ = ["cli"]  # the fixture, imported for the tests below

ANNE, BO, LEAD = "anne@fredericia.dk", "bo@fredericia.dk", "leder@fredericia.dk"


def add(cli: Cli, received: str, *extra: str) -> str:
    base = ("add", "--channel", "email", "--department", "Diverse", "--received", received)
    return str(ok(cli(*base, *extra)).stdout.strip())


def reply_rule(cli: Cli, ref: str) -> dict[str, Any]:
    rule: dict[str, Any] = by_rule(show(cli, ref, now="2026-12-01T12:00"))["reply"]
    return rule


def test_undo_walks_back_through_close_reply_resume_and_pause_recomputing_deadlines(
    cli: Cli,
) -> None:
    ref = add(cli, "2026-11-27T15:00")
    ok(cli("pause", ref, "--at", "2026-11-27T16:00"))
    ok(cli("resume", ref, "--at", "2026-11-30T10:00"))
    ok(cli("reply", ref, "--at", "2026-12-01T08:00"))
    ok(cli("close", ref, "--at", "2026-12-01T09:30"))

    undone = ok(cli("undo", ref))
    assert undone.stdout.startswith(f"{ref}: undid closed at 2026-12-01T09:30:00+01:00")
    assert show(cli, ref)["closed_at"] is None
    assert reply_rule(cli, ref)["met_at"] == "2026-12-01T08:00:00+01:00"

    ok(cli("undo", ref))  # the reply
    assert reply_rule(cli, ref)["met_at"] is None
    assert reply_rule(cli, ref)["due_at"] == "2026-12-01T09:00:00+01:00"

    ok(cli("undo", ref))  # the resume: paused again, the clock stopped
    assert show(cli, ref)["pauses"] == [{"start": "2026-11-27T16:00:00+01:00", "end": None}]
    assert reply_rule(cli, ref)["due_at"] is None

    ok(cli("undo", ref))  # the pause: the deadline it always had
    assert show(cli, ref)["pauses"] == []
    assert reply_rule(cli, ref)["due_at"] == "2026-11-30T15:00:00+01:00"

    before = dump(cli.url)
    assert_refused(cli("undo", ref), fragment="nothing to undo")
    assert dump(cli.url) == before
    kinds = [e["kind"] for e in events(cli)]
    assert kinds == ["created", "paused", "resumed", "replied", "closed"] + ["undone"] * 4
    assert [e["details"]["undoes"] for e in events(cli)[5:]] == [
        "closed",
        "replied",
        "resumed",
        "paused",
    ]


def test_undoing_a_close_that_ended_a_pause_pauses_the_inquiry_again(cli: Cli) -> None:
    ref = add(cli, "2026-11-27T15:00", "--callback")
    ok(cli("callback", ref, "--at", "2026-11-27T15:30"))
    ok(cli("pause", ref, "--at", "2026-11-27T16:00"))
    ok(cli("close", ref, "--at", "2026-11-30T12:00"))
    assert show(cli, ref)["pauses"][0]["end"] == "2026-11-30T12:00:00+01:00"
    ok(cli("undo", ref))
    data = show(cli, ref)
    assert data["closed_at"] is None
    assert data["pauses"] == [{"start": "2026-11-27T16:00:00+01:00", "end": None}]
    assert by_rule(data)["reply"]["due_at"] is None
    ok(cli("undo", ref))  # the pause
    ok(cli("undo", ref))  # the callback
    assert by_rule(show(cli, ref))["callback"]["met_at"] is None


def test_reopen_opens_a_closed_inquiry_and_undo_closes_it_again(cli: Cli) -> None:
    ref = add(cli, "2026-11-25T10:00")
    ok(cli("close", ref, "--at", "2026-11-25T12:00"))
    assert reply_rule(cli, ref)["state"] == "met_on_time"
    ok(cli("reopen", ref, "--now", "2026-12-01T12:00"))
    data = show(cli, ref)
    assert data["closed_at"] is None and data["status"] == "open"
    assert reply_rule(cli, ref)["met_at"] is None
    assert reply_rule(cli, ref)["state"] == "overdue"  # due Thu 26 Nov 10:00, as it always was
    [reopened] = [e for e in events(cli) if e["kind"] == "reopened"]
    assert reopened["details"]["closed_at"].startswith("2026-11-25T11:00:00")

    ok(cli("undo", ref))
    assert show(cli, ref)["closed_at"] == "2026-11-25T12:00:00+01:00"
    assert reply_rule(cli, ref)["state"] == "met_on_time"
    ok(cli("undo", ref))  # next back: the close itself
    assert show(cli, ref)["closed_at"] is None
    assert_refused(cli("undo", ref), fragment="nothing to undo")


def _seed_reminders(url: str, ref: str) -> None:
    """Outbox rows as the daemon writes them: one due soon to the advisor (unsent), one
    overdue already sent to her, an escalation to the lead."""
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    with engine_for(url, init=False) as engine, session_on(engine) as session:
        inquiry_id = session.scalar(select(Inquiry.id).where(Inquiry.ref == ref))
        for key, kind, to in (("soon", "due_soon", ANNE), ("late", "overdue", ANNE)):
            outbox.enqueue(
                session, key=key, kind=kind, recipient=to, payload={"ref": ref},
                send_at=now, inquiry_id=inquiry_id,
            )  # fmt: skip
        outbox.enqueue(
            session, key="esc", kind="escalation", recipient=LEAD, payload={"ref": ref},
            send_at=now, inquiry_id=inquiry_id,
        )  # fmt: skip
        session.execute(
            update(OutboxMessage).where(OutboxMessage.key == "late").values(state="sent")
        )


def _recipients(url: str) -> dict[str, str]:
    with engine_for(url, init=False) as engine, engine.connect() as conn:
        rows = conn.execute(select(OutboxMessage.key, OutboxMessage.recipient))
        return {key: to for key, to in rows}


def test_assign_moves_unsent_reminders_to_the_new_advisor_and_undo_moves_them_back(
    cli: Cli,
) -> None:
    ref = add(cli, "2026-11-25T10:00", "--advisor", ANNE)
    _seed_reminders(cli.url, ref)
    done = ok(cli("assign", ref, "--advisor", BO))
    assert done.stdout.strip() == f"{ref} assigned to {BO} (was {ANNE}); 1 unsent reminder moved"
    assert show(cli, ref)["advisor"] == BO
    assert _recipients(cli.url) == {"soon": BO, "late": ANNE, "esc": LEAD}
    listed = ok(cli("list", "--json", "--advisor", BO)).stdout
    assert ref in listed
    [assigned] = [e for e in events(cli) if e["kind"] == "assigned"]
    assert assigned["details"] == {"from": ANNE, "to": BO, "moved_messages": 1}

    ok(cli("undo", ref))
    assert show(cli, ref)["advisor"] == ANNE
    assert _recipients(cli.url) == {"soon": ANNE, "late": ANNE, "esc": LEAD}


def test_corrections_refuse_what_cannot_be_done_and_write_nothing(cli: Cli) -> None:
    open_ref = add(cli, "2026-11-25T10:00", "--advisor", ANNE)
    closed_ref = add(cli, "2026-11-25T11:00")
    ok(cli("close", closed_ref, "--at", "2026-11-25T12:00"))
    purged_ref = add(cli, "2026-09-01T10:00", "--note", "gammel sag")
    ok(cli("close", purged_ref, "--at", "2026-09-01T11:00"))
    ok(cli("purge"))  # closed more than 30 days before the real clock
    before = dump(cli.url)
    for args, fragment in (
        (("undo", open_ref), "nothing to undo"),
        (("undo", "2026-999999"), "unknown ref"),
        (("undo", purged_ref), "was purged"),
        (("reopen", purged_ref), "was purged"),
        (("reopen", open_ref), "is not closed"),
        (("assign", open_ref, "--advisor", ANNE), "already assigned"),
        (("assign", open_ref, "--advisor", "not an address"), "is not one e-mail address"),
        (("assign", closed_ref, "--advisor", BO), "is closed"),
        (("assign", "2026-999999", "--advisor", BO), "unknown ref"),
    ):
        assert_refused(cli(*args), fragment=fragment)
    assert dump(cli.url) == before


def test_an_undo_after_a_calendar_change_moves_no_met_deadline(cli: Cli, tmp_path: Path) -> None:
    """docs/deadlines.md: a met obligation never moves. An undo (of an assign here, which
    touches no deadline) after a closed day was declared and `recompute` run, left the
    call-back met late as it was met, against the deadline it had; an undone fulfilment is
    open again, and follows the calendar as `recompute` would."""
    now = "2026-11-27T12:00"
    ref = add(cli, "2026-11-25T10:00", "--callback", "--advisor", ANNE)
    ok(cli("callback", ref, "--at", "2026-11-27T11:00", "--now", now))
    met = by_rule(show(cli, ref, now=now))["callback"]
    assert met["due_at"] == "2026-11-27T10:00:00+01:00" and met["state"] == "met_late"

    holiday = write_config(tmp_path / "holiday.toml", calendar={"closed_dates": ["2026-11-26"]})
    env = {"SVARFRIST_CONFIG": str(holiday)}
    ok(cli("recompute", "--now", now, **env))  # the open reply moves, the met call-back not
    ok(cli("assign", ref, "--advisor", BO, "--now", now, **env))
    ok(cli("undo", ref, "--now", now, **env))
    [undone] = [e for e in events(cli) if e["kind"] == "undone"]
    assert "moved" not in undone["details"]
    after = json.loads(ok(cli("show", ref, "--json", "--now", now, **env)).stdout)
    assert by_rule(after)["callback"] == met
    report = json.loads(ok(cli("report", "--format", "json", "--now", now, **env)).stdout)
    assert report["rows"][0]["late"] == 1

    ok(cli("undo", ref, "--now", now, **env))  # the call-back: open again, on the new calendar
    callback = by_rule(json.loads(ok(cli("show", ref, "--json", "--now", now, **env)).stdout))
    assert callback["callback"]["met_at"] is None
    assert callback["callback"]["due_at"] == "2026-11-30T10:00:00+01:00"


def test_an_undo_is_not_recorded_before_the_change_it_reverts(cli: Cli) -> None:
    """As reopen (not before the closing) and assign (not before the receipt): an undo
    with a --now typed too early is refused, nothing written, instead of an ``undone``
    event dated days before what it reverted."""
    ref = add(cli, "2026-11-25T10:00")
    ok(cli("reply", ref, "--at", "2026-11-26T07:40", "--now", "2026-11-26T07:40"))
    before = dump(cli.url)
    assert_refused(
        cli("undo", ref, "--now", "2026-11-20T09:00"),
        fragment=f"{ref}'s last change (replied) at 2026-11-26T07:40:00+01:00 is in the future",
    )
    assert dump(cli.url) == before
    ok(cli("undo", ref, "--now", "2026-11-26T07:40"))
    assert reply_rule(cli, ref)["met_at"] is None


def test_undo_s_help_names_every_change_it_reverts(cli: Cli) -> None:
    listed = " ".join(ok(cli("--help")).stdout.split())
    for command in ("reply", "callback", "answer", "pause", "resume", "close", "assign", "reopen"):
        assert command in listed.split("revert the inquiry's last change (", 1)[1].split(")")[0]


def test_undo_given_the_change_seen_last_reverts_it_and_refuses_once_another_came(
    cli: Cli,
) -> None:
    """Anne saw her pause as the last change; Bo then recorded the reply. Her undo naming the
    pause is refused (the reply is not reverted by surprise), nothing written; naming the
    reply, as show --json's last_change now gives it, it reverts the reply."""
    ref = add(cli, "2026-11-25T10:00")
    ok(cli("pause", ref, "--at", "2026-11-25T11:00", "--actor", ANNE))
    seen = show(cli, ref)
    pause = seen["last_change"]
    assert pause == {
        "event": seen["history"][-1]["id"],
        "kind": "paused",
        "at": "2026-11-25T11:00:00+01:00",
        "actor": ANNE,
    }
    assert [e["event"] for e in seen["history"]] == ["created", "paused"]
    assert all(isinstance(e["id"], int) for e in seen["history"])
    ok(cli("resume", ref, "--at", "2026-11-25T12:00", "--actor", BO))
    ok(cli("reply", ref, "--at", "2026-11-25T13:00", "--actor", BO))

    before = dump(cli.url)
    refused = cli("undo", ref, "--event", str(pause["event"]), "--actor", ANNE)
    assert_refused(refused, fragment=f"is no longer event {pause['event']}: it is now replied")
    assert "Traceback" not in refused.stderr
    assert dump(cli.url) == before  # the inquiry, its obligations and its audit trail

    latest = show(cli, ref)["last_change"]
    assert latest["kind"] == "replied" and latest["actor"] == BO
    undone = ok(cli("undo", ref, "--event", str(latest["event"]), "--actor", ANNE))
    assert undone.stdout.startswith(f"{ref}: undid replied at 2026-11-25T13:00:00+01:00")
    assert reply_rule(cli, ref)["met_at"] is None
    after = show(cli, ref)
    assert after["last_change"]["kind"] == "resumed"
    assert after["history"][-1]["details"]["event"] == latest["event"]
    # The reply, once undone, is no longer the last change: naming it again is refused.
    before = dump(cli.url)
    assert_refused(cli("undo", ref, "--event", str(latest["event"])), fragment="no longer")
    assert dump(cli.url) == before


def test_undo_without_an_event_keeps_reverting_whoever_made_the_last_change(cli: Cli) -> None:
    ref = add(cli, "2026-11-25T10:00")
    ok(cli("pause", ref, "--at", "2026-11-25T11:00", "--actor", ANNE))
    ok(cli("resume", ref, "--at", "2026-11-25T12:00", "--actor", BO))
    assert ok(cli("undo", ref, "--actor", ANNE)).stdout.startswith(f"{ref}: undid resumed")
    assert show(cli, ref)["last_change"]["kind"] == "paused"
    ok(cli("undo", ref))
    assert show(cli, ref)["last_change"] is None
    before = dump(cli.url)
    assert_refused(cli("undo", ref, "--event", "1"), fragment="nothing to undo")
    assert_refused(cli("undo", ref, "--event", "seven"))
    assert dump(cli.url) == before
