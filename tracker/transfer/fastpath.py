"""Deadlines for bulk work (import) on epoch microseconds: the same decisions as
sla.evaluate/sla.classify for inquiries without pauses, with the per-rule work hoisted out
of the per-row loop. tests/test_import_export.py holds the two equal on random inputs.
The rare row with pauses takes :func:`exact_obligations`, which is sla.evaluate itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.core.calendar import BusinessCalendar, Pause, from_us, hours_to_us, to_us
from tracker.core.response import response_minutes
from tracker.core.validate import CHANNELS
from tracker.sla import Fulfilment, InquiryFacts, Rule, State, evaluate
from tracker.store.obligations import first_look
from tracker.transfer.csvio import Spooled

MET_ON_TIME, MET_LATE = State.MET_ON_TIME.value, State.MET_LATE.value
OVERDUE, DUE_SOON, PENDING = State.OVERDUE.value, State.DUE_SOON.value, State.PENDING.value


@dataclass(frozen=True)
class Plan:
    """One rule as the fast path needs it."""

    name: str
    schedule: str
    hours: float
    due_us: int
    warn_us: int
    fulfilled_by: Fulfilment
    advance_many: Callable[[Sequence[int], int], list[int]]
    """The schedule's ``WorkingIndex.advance_many``: ``due_us`` for a batch of received
    times when nothing is paused (rows with pauses take exact_obligations)."""
    elapsed_many: Callable[[Sequence[int], Sequence[int]], list[int]]
    """The schedule's ``WorkingIndex.elapsed_many``: working µs between pairs of instants,
    for the stored response times (received to met; rows without pauses only)."""


def plans_for(
    rules: Mapping[str, Rule], calendar: BusinessCalendar
) -> dict[tuple[str, bool], list[Plan]]:
    """The rules that apply, per (channel, callback requested), computed once per import."""
    plans: dict[tuple[str, bool], list[Plan]] = {}
    for channel in CHANNELS:
        for callback in (False, True):
            plans[channel, callback] = [
                Plan(
                    name=rule.name,
                    schedule=rule.schedule,
                    hours=rule.hours,
                    due_us=hours_to_us(rule.hours),
                    warn_us=hours_to_us(max(rule.hours - rule.warn_before, 0.0)),
                    fulfilled_by=rule.fulfilled_by,
                    advance_many=calendar.index(rule.schedule).advance_many,
                    elapsed_many=calendar.index(rule.schedule).elapsed_many,
                )
                for rule in rules.values()
                if rule.applies(channel, callback)
            ]
    return plans


def met_at(item: Spooled, fulfilled_by: Fulfilment) -> int | None:
    """When a rule was met: its fulfilment or the closing, whichever came first."""
    if fulfilled_by is Fulfilment.REPLY:
        own = item[7]
    elif fulfilled_by is Fulfilment.CALLBACK:
        own = item[8]
    else:
        own = None
    closed = item[9]
    if own is None:
        return closed
    return own if closed is None or own < closed else closed


def by_rule(
    batch: list[Spooled],
    plans: dict[tuple[str, bool], list[Plan]],
    rules: Mapping[str, Any],
) -> Iterator[tuple[Plan, list[int]]]:
    """Each rule with the positions of the batch's rows it applies to, in the rules' order
    (so an inquiry's obligations get ids in the same order as ``add`` gives them)."""
    positions: dict[str, list[int]] = {name: [] for name in rules}
    plan_of: dict[str, Plan] = {}
    for p, item in enumerate(batch):
        for plan in plans[item[2], item[6]]:
            positions[plan.name].append(p)
            plan_of[plan.name] = plan
    for name, found in positions.items():
        if found:
            yield plan_of[name], found


def classify_us(
    warn: int | None, due: int | None, met: int | None, now: int
) -> tuple[str, int | None]:
    """sla.classify on epoch µs (the import's fast path; a test holds the two equal)."""
    if met is not None:
        return (MET_ON_TIME if due is None or met <= due else MET_LATE), None
    if due is not None and now >= due:
        return OVERDUE, None
    if warn is not None and now >= warn:
        return DUE_SOON, due
    return PENDING, warn if warn is not None else due


def exact_obligations(
    item: Spooled, rules: Mapping[str, Rule], calendar: BusinessCalendar, now: datetime
) -> list[tuple[str, str, float, int | None, int | None, int | None, int | None, str, int | None]]:
    """A row with pauses, as the register computes it (sla.evaluate with the pauses): per
    rule (name, schedule, hours, warn µs, due µs, met µs, response minutes, state, next
    action µs), the times None where an open pause leaves no deadline, next action =
    received for an unmet obligation (obligations.first_look)."""
    at, us = _at, _us
    received = from_us(item[1])
    fulfilled = {
        kind: moment
        for kind, moment in ((Fulfilment.REPLY, at(item[7])), (Fulfilment.CALLBACK, at(item[8])))
        if moment is not None
    }
    facts = InquiryFacts(
        channel=item[2],
        callback_requested=item[6],
        received_at=received,
        pauses=tuple(Pause(start=from_us(a), end=at(b)) for a, b in item[12]),
        fulfilled=fulfilled,
        closed_at=at(item[9]),
    )
    return [
        (
            s.rule,
            s.schedule,
            s.hours,
            us(s.warn_at),
            us(s.due_at),
            us(s.met_at),
            response_minutes(calendar, s.schedule, received, s.met_at, facts.pauses),
            s.state.value,
            us(first_look(s, received)),
        )
        for s in evaluate(facts, rules, calendar, now).obligations
    ]


def _at(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def _us(moment: datetime | None) -> int | None:
    return None if moment is None else to_us(moment)
