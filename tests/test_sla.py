"""The SLA rules: which obligations an inquiry carries and where each one stands at ``now``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tracker.core.calendar import COPENHAGEN, BusinessCalendar, Pause
from tracker.errors import BadInputError, UnknownRuleError
from tracker.sla import (
    DEFAULT_RULES,
    Fulfilment,
    InquiryFacts,
    Rule,
    State,
    deadline,
    evaluate,
    get_rule,
)

CAL = BusinessCalendar()
US = timedelta(microseconds=1)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=COPENHAGEN)


# Wednesday 25 Nov 2026 10:00: reply warns Thu 06:00 and is due Thu 10:00; callback warns
# Fri 02:00 and is due Fri 10:00.
RECEIVED = local(2026, 11, 25, 10)
REPLY_WARN, REPLY_DUE = local(2026, 11, 26, 6), local(2026, 11, 26, 10)
CALLBACK_WARN, CALLBACK_DUE = local(2026, 11, 27, 2), local(2026, 11, 27, 10)


def facts(channel: str = "email", callback: bool = False, **kw: object) -> InquiryFacts:
    return InquiryFacts(
        channel=channel,
        callback_requested=callback,
        received_at=kw.pop("received_at", RECEIVED),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def rules_of(f: InquiryFacts, rules: dict[str, Rule] | None = None) -> list[str]:
    status = evaluate(f, rules or dict(DEFAULT_RULES), CAL, RECEIVED)
    return [o.rule for o in status.obligations]


# -- which rules apply ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("channel", "callback", "expected"),
    [
        pytest.param("email", False, ["reply"], id="email gets reply"),
        pytest.param("email", True, ["reply", "callback"], id="email asking for a call gets both"),
        pytest.param("sms", False, ["reply"], id="sms gets reply"),
        pytest.param("letter", False, ["reply"], id="letter gets reply"),
        pytest.param("digital_post", False, ["reply"], id="digital post gets reply"),
        pytest.param("phone", False, [], id="phone without callback gets none"),
        pytest.param("phone", True, ["callback"], id="phone with callback gets callback"),
        pytest.param("in_person", False, [], id="in person without callback gets none"),
        pytest.param("in_person", True, ["callback"], id="in person with callback"),
    ],
)
def test_the_rules_an_inquiry_carries_depend_on_channel_and_callback(
    channel: str, callback: bool, expected: list[str]
) -> None:
    assert rules_of(facts(channel, callback)) == expected


def test_the_answer_rule_applies_only_where_an_acknowledgement_promised_it() -> None:
    assert DEFAULT_RULES["answer"].requires_promise
    assert "answer" not in rules_of(facts("phone", True))
    assert rules_of(facts("email", answer_promised=True)) == ["reply", "answer"]


def test_the_answer_rule_without_the_promise_applies_to_every_inquiry() -> None:
    rules = dict(DEFAULT_RULES)
    rules["answer"] = replace(rules["answer"], requires_promise=False)
    assert rules_of(facts("in_person"), rules) == ["answer"]
    assert rules_of(facts("email", True), rules) == ["reply", "callback", "answer"]


def test_the_answer_rule_is_met_by_the_answer_not_by_the_acknowledgement() -> None:
    f = facts(
        "email",
        answer_promised=True,
        fulfilled={Fulfilment.REPLY: RECEIVED + timedelta(hours=1)},
    )
    status = evaluate(f, dict(DEFAULT_RULES), CAL, RECEIVED + timedelta(hours=2))
    met = {o.rule: o.met_at for o in status.obligations}
    assert met == {"reply": RECEIVED + timedelta(hours=1), "answer": None}


def test_the_answer_rule_counts_10_working_days() -> None:
    dl = deadline(CAL, DEFAULT_RULES["answer"], RECEIVED)
    assert dl.due_at == local(2026, 12, 9, 10)
    assert dl.warn_at == local(2026, 12, 8, 10)


def test_an_unknown_rule_is_named() -> None:
    with pytest.raises(UnknownRuleError, match="nope"):
        get_rule(DEFAULT_RULES, "nope")


def test_a_rule_with_negative_hours_is_refused() -> None:
    with pytest.raises(BadInputError, match="negative"):
        Rule(name="bad", hours=-1)


# -- deadlines --------------------------------------------------------------------------------
def test_reply_and_callback_deadlines_follow_deadlines_md() -> None:
    obligations = evaluate(facts("email", True), DEFAULT_RULES, CAL, RECEIVED).obligations
    times = {o.rule: (o.warn_at, o.due_at) for o in obligations}
    assert times == {
        "reply": (REPLY_WARN, REPLY_DUE),
        "callback": (CALLBACK_WARN, CALLBACK_DUE),
    }


def test_warn_before_at_least_the_hours_warns_at_once() -> None:
    rule = Rule(name="quick", hours=2, warn_before=3)
    assert deadline(CAL, rule, RECEIVED).warn_at == RECEIVED


def test_a_pause_moves_warn_at_and_due_at_by_the_working_time_it_covered() -> None:
    pause = Pause(start=local(2026, 11, 25, 12), end=local(2026, 11, 25, 14))
    dl = deadline(CAL, DEFAULT_RULES["reply"], RECEIVED, [pause])
    assert (dl.warn_at, dl.due_at) == (local(2026, 11, 26, 8), local(2026, 11, 26, 12))


# -- states at the boundaries -----------------------------------------------------------------
def reply_at(now: datetime, **kw: object) -> tuple[State, datetime | None, datetime | None]:
    (obligation,) = evaluate(facts("email", **kw), DEFAULT_RULES, CAL, now).obligations  # type: ignore[arg-type]
    return obligation.state, obligation.next_change_at, obligation.met_at


@pytest.mark.parametrize(
    ("now", "state", "next_change"),
    [
        pytest.param(RECEIVED, State.PENDING, REPLY_WARN, id="pending when received"),
        pytest.param(REPLY_WARN - US, State.PENDING, REPLY_WARN, id="pending just before warn"),
        pytest.param(REPLY_WARN, State.DUE_SOON, REPLY_DUE, id="due soon exactly at warn_at"),
        pytest.param(REPLY_DUE - US, State.DUE_SOON, REPLY_DUE, id="due soon just before due"),
        pytest.param(REPLY_DUE, State.OVERDUE, None, id="overdue exactly at due_at"),
        pytest.param(local(2027, 1, 1), State.OVERDUE, None, id="overdue long after"),
    ],
)
def test_an_unmet_obligation_moves_from_pending_to_due_soon_to_overdue(
    now: datetime, state: State, next_change: datetime | None
) -> None:
    assert reply_at(now) == (state, next_change, None)


def test_now_may_be_given_in_any_zone() -> None:
    assert reply_at(REPLY_DUE.astimezone(UTC))[0] is State.OVERDUE


@pytest.mark.parametrize(
    ("replied", "state"),
    [
        pytest.param(REPLY_DUE - US, State.MET_ON_TIME, id="met before due_at is on time"),
        pytest.param(REPLY_DUE, State.MET_ON_TIME, id="met exactly at due_at is on time"),
        pytest.param(REPLY_DUE + US, State.MET_LATE, id="met just after due_at is late"),
    ],
)
def test_a_met_obligation_is_on_time_up_to_and_including_due_at(
    replied: datetime, state: State
) -> None:
    now = local(2026, 12, 1)
    assert reply_at(now, fulfilled={Fulfilment.REPLY: replied}) == (state, None, replied)


def test_a_callback_does_not_fulfil_the_reply() -> None:
    f = facts("email", True, fulfilled={Fulfilment.CALLBACK: local(2026, 11, 25, 11)})
    states = {o.rule: o.state for o in evaluate(f, DEFAULT_RULES, CAL, RECEIVED).obligations}
    assert states == {"reply": State.PENDING, "callback": State.MET_ON_TIME}


def test_closing_fulfils_every_obligation_still_pending() -> None:
    closed = local(2026, 11, 26, 9)
    f = facts("email", True, closed_at=closed)
    status = evaluate(f, DEFAULT_RULES, CAL, local(2026, 12, 1))
    assert [(o.rule, o.state, o.met_at) for o in status.obligations] == [
        ("reply", State.MET_ON_TIME, closed),
        ("callback", State.MET_ON_TIME, closed),
    ]
    assert status.next_change_at is None


def test_closing_after_a_reply_keeps_the_reply_time() -> None:
    replied, closed = local(2026, 11, 25, 11), local(2026, 11, 30, 9)
    f = facts("email", True, fulfilled={Fulfilment.REPLY: replied}, closed_at=closed)
    status = evaluate(f, DEFAULT_RULES, CAL, local(2026, 12, 1))
    assert [(o.rule, o.state, o.met_at) for o in status.obligations] == [
        ("reply", State.MET_ON_TIME, replied),
        ("callback", State.MET_LATE, closed),
    ]


def test_the_inquiry_next_change_is_the_earliest_of_its_obligations() -> None:
    status = evaluate(facts("email", True), DEFAULT_RULES, CAL, RECEIVED)
    assert status.next_change_at == REPLY_WARN
    status = evaluate(facts("email", True), DEFAULT_RULES, CAL, REPLY_DUE)
    assert [o.next_change_at for o in status.obligations] == [None, CALLBACK_WARN]
    assert status.next_change_at == CALLBACK_WARN


def test_an_open_pause_leaves_no_deadline_and_nothing_changes_by_itself() -> None:
    paused = (Pause(start=local(2026, 11, 25, 11)),)
    state, next_change, _ = reply_at(local(2026, 12, 10), pauses=paused)
    assert (state, next_change) == (State.PENDING, None)


def test_an_open_pause_after_warn_at_keeps_due_soon_without_a_next_change() -> None:
    paused = (Pause(start=local(2026, 11, 26, 8)),)
    assert reply_at(local(2026, 11, 26, 9), pauses=paused)[:2] == (State.DUE_SOON, None)


def test_now_without_a_time_zone_is_refused() -> None:
    with pytest.raises(BadInputError, match="time zone"):
        evaluate(facts(), DEFAULT_RULES, CAL, datetime(2026, 11, 25, 10))
