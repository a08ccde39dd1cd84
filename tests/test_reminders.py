"""Planning reminders, pure: tables of explicit aware datetimes, one case per edge."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.config import Settings, build_calendar
from tracker.core.calendar import COPENHAGEN
from tracker.core.reminders import (
    DigestItem,
    Kind,
    ObligationFacts,
    Pending,
    ReminderPolicy,
    consolidate,
    decide,
    digest_at,
    digests,
    due_soon_send_at,
    plan,
)

CAL = build_calendar(Settings())
POLICY = ReminderPolicy(window="sending_window")


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=COPENHAGEN)


def facts(received: str, hours: float = 24, warn: float = 4, **kw: object) -> ObligationFacts:
    r = t(received)
    values: dict[str, object] = {
        "obligation_id": 1,
        "inquiry_id": 1,
        "ref": "2026-000001",
        "rule": "reply",
        "schedule": "working_days",
        "department": "Diverse",
        "recipient": "anne@fredericia.dk",
        "received_at": r,
        "warn_at": CAL.due_at(r, hours - warn, "working_days"),
        "due_at": CAL.due_at(r, hours, "working_days"),
        "met_at": None,
    }
    values.update(kw)
    return ObligationFacts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("received", "due_soon", "overdue"),
    [
        pytest.param(
            "2026-11-25T10:00", "2026-11-26T07:00", "2026-11-26T10:00", id="warn-at-06-waits-for-07"
        ),
        pytest.param(
            "2026-11-24T14:00", "2026-11-25T10:00", "2026-11-25T14:00", id="inside-the-window"
        ),
        pytest.param(
            "2026-11-27T23:00",
            "2026-11-30T14:00",
            "2026-12-01T07:00",
            id="moved-earlier-friday-night",
        ),
        pytest.param(
            "2026-11-28T11:00",
            "2026-11-30T14:00",
            "2026-12-01T07:00",
            id="saturday-due-tuesday-0000",
        ),
        pytest.param(
            "2026-12-23T14:00", "2026-12-28T10:00", "2026-12-28T14:00", id="christmas-closed-days"
        ),
        pytest.param("2026-04-01T12:00", "2026-04-07T08:00", "2026-04-07T12:00", id="easter"),
    ],
)
def test_reminders_go_out_inside_the_window_and_due_soon_before_the_deadline(
    received: str, due_soon: str, overdue: str
) -> None:
    planned = {r.kind: r.send_at for r in plan(facts(received), CAL, POLICY)}
    assert planned == {Kind.DUE_SOON: t(due_soon), Kind.OVERDUE: t(overdue)}
    assert planned[Kind.DUE_SOON] < facts(received).due_at  # type: ignore[operator]


def test_a_due_soon_with_no_window_before_the_deadline_is_dropped() -> None:
    # Received Saturday 20:00 with a 1-hour rule on calendar days: due 21:00, no window.
    r = t("2026-11-28T20:00")
    assert due_soon_send_at(CAL, "sending_window", r, r + timedelta(hours=1), r) is None


def test_nothing_is_planned_for_an_obligation_met_in_time_or_late() -> None:
    assert plan(facts("2026-11-25T10:00", met_at=t("2026-11-25T12:00")), CAL, POLICY) == ()
    assert plan(facts("2026-11-25T10:00", met_at=t("2026-11-27T12:00")), CAL, POLICY) == ()


def test_escalation_goes_to_the_lead_working_hours_after_the_deadline() -> None:
    policy = ReminderPolicy(
        window="sending_window", escalation_after_hours=8, escalation_to="leder@fredericia.dk"
    )
    planned = {r.kind: r for r in plan(facts("2026-11-27T15:00"), CAL, policy)}
    escalation = planned[Kind.ESCALATION]
    assert escalation.recipient == "leder@fredericia.dk"
    assert escalation.send_at == t("2026-11-30T23:00") + timedelta(hours=8)  # Tue 07:00


def test_decide_writes_what_is_due_and_schedules_the_next_check() -> None:
    f = facts("2026-11-27T12:00")  # warn Mon 08:00, due Mon 12:00
    early = decide(f, CAL, POLICY, t("2026-11-30T07:00"), f.warn_at)
    assert early.enqueue == () and early.next_check_at == t("2026-11-30T08:00")
    warned = decide(f, CAL, POLICY, t("2026-11-30T08:00"), f.due_at)
    assert [r.kind for r, _ in warned.enqueue] == [Kind.DUE_SOON]
    assert warned.next_check_at == t("2026-11-30T12:00")


def test_a_sweep_that_comes_late_never_sends_a_due_soon_after_the_deadline() -> None:
    f = facts("2026-11-27T12:00")
    late = decide(f, CAL, POLICY, t("2026-11-30T13:00"), None)
    assert [r.kind for r, _ in late.enqueue] == [Kind.OVERDUE]


def test_a_sweep_at_night_queues_for_the_next_window_opening() -> None:
    f = facts("2026-11-27T12:00")
    night = decide(f, CAL, POLICY, t("2026-11-30T22:00"), None)
    assert [(r.kind, at) for r, at in night.enqueue] == [(Kind.OVERDUE, t("2026-12-01T07:00"))]


def test_the_digest_is_on_working_days_and_skips_recipients_with_nothing() -> None:
    policy = ReminderPolicy(window="sending_window", digest_time=time(7, 30))
    assert digest_at(CAL, policy, t("2026-11-30T00:00").date()) == t("2026-11-30T07:30")
    assert digest_at(CAL, policy, t("2026-11-28T00:00").date()) is None  # Saturday
    assert digest_at(CAL, policy, t("2026-12-24T00:00").date()) is None  # Juleaftensdag
    now = t("2026-11-30T07:30")
    items = [
        DigestItem(
            ref="A", rule="reply", department="D", recipient="a@x", due_at=t("2026-11-30T15:00")
        ),
        DigestItem(
            ref="B", rule="reply", department="D", recipient="a@x", due_at=t("2026-11-27T15:00")
        ),
        DigestItem(
            ref="C", rule="reply", department="D", recipient="b@x", due_at=t("2026-12-01T15:00")
        ),
    ]
    [only] = digests(items, now.date(), now)
    assert only.recipient == "a@x"
    assert [i.ref for i in only.due_today] == ["A"] and [i.ref for i in only.overdue] == ["B"]


def test_catch_up_merges_stale_reminders_per_recipient_only() -> None:
    now = t("2026-12-03T10:00")
    old, fresh = now - timedelta(hours=5), now
    rows = [
        Pending(row_id=1, kind=Kind.OVERDUE, recipient="a", send_at=old),
        Pending(row_id=2, kind=Kind.DUE_SOON, recipient="b", send_at=fresh),
        Pending(row_id=3, kind=Kind.OVERDUE, recipient="a", send_at=old),
        Pending(row_id=4, kind=Kind.OVERDUE, recipient="c", send_at=old),
        Pending(row_id=5, kind=Kind.DIGEST, recipient="a", send_at=old),
    ]
    batches = consolidate(rows, now, timedelta(minutes=30))
    assert [b.row_ids for b in batches] == [(1, 3), (2,), (4,), (5,)]


@given(
    minutes=st.integers(min_value=0, max_value=60 * 24 * 400),
    hours=st.sampled_from([1.0, 4.0, 24.0, 48.0]),
    warn=st.sampled_from([0.5, 4.0, 8.0, 24.0]),
)
@settings(max_examples=300, deadline=None)
def test_a_planned_due_soon_is_always_inside_the_window_and_before_the_deadline(
    minutes: int, hours: float, warn: float
) -> None:
    received = t("2026-01-01T00:00") + timedelta(minutes=minutes)
    f = facts(received.replace(tzinfo=None).isoformat(), hours=hours, warn=min(warn, hours))
    for reminder in plan(f, CAL, POLICY):
        local_time = reminder.send_at.astimezone(COPENHAGEN)
        day = CAL.day_intervals(local_time.date(), CAL.schedule("sending_window"))
        minute = local_time.hour * 60 + local_time.minute
        assert any(s <= minute < e for s, e in day), reminder
        if reminder.kind is Kind.DUE_SOON:
            assert reminder.send_at < reminder.due_at
            assert reminder.send_at >= f.received_at


def test_smtp_security_modes_are_mapped_explicitly() -> None:
    from tracker.notify import SmtpConfig, client_options

    def modes(security: str) -> tuple[bool, bool]:
        config = SmtpConfig(host="h", port=25, security=security)  # type: ignore[arg-type]
        options = client_options(config)
        return options["use_tls"], options["start_tls"]

    assert modes("none") == (False, False)
    assert modes("starttls") == (False, True)  # required, not aiosmtplib's opportunistic None
    assert modes("tls") == (True, False)
    assert "secret" not in repr(SmtpConfig(host="h", port=25, security="tls", password="secret"))
