"""The SLA rules, pure: which obligations an inquiry carries and where each one stands.

Given an inquiry's facts and ``now`` this returns, for every obligation, its warn_at, due_at,
met_at and state, plus the next instant at which anything about it can change, which the
register stores and indexes so that a sweep only touches rows whose time has come.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tracker.core.calendar import BusinessCalendar, Pause
from tracker.errors import BadInputError, UnknownRuleError


class Channel(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"
    DIGITAL_POST = "digital_post"
    IN_PERSON = "in_person"


WRITTEN_CHANNELS = frozenset({Channel.SMS, Channel.EMAIL, Channel.LETTER, Channel.DIGITAL_POST})


class State(StrEnum):
    PENDING = "pending"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    MET_ON_TIME = "met_on_time"
    MET_LATE = "met_late"


class Fulfilment(StrEnum):
    """The event that fulfils a rule; closing an inquiry fulfils every rule."""

    REPLY = "reply"
    CALLBACK = "callback"
    CLOSE = "close"


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One promise: ``hours`` of working time on ``schedule``, warned ``warn_before`` ahead.

    It applies to an inquiry when enabled, when ``channels`` is empty or holds the inquiry's
    channel, and, if ``requires_callback``, when the citizen asked to be called back.
    """

    name: str
    hours: float
    schedule: str = "working_days"
    warn_before: float = 0.0
    channels: frozenset[str] = frozenset()
    requires_callback: bool = False
    fulfilled_by: Fulfilment = Fulfilment.CLOSE
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.hours < 0 or self.warn_before < 0:
            raise BadInputError(f"rule {self.name!r}: hours and warn_before must not be negative")

    def applies(self, channel: str, callback_requested: bool) -> bool:
        return (
            self.enabled
            and (not self.channels or channel in self.channels)
            and (callback_requested or not self.requires_callback)
        )


DEFAULT_RULES: Mapping[str, Rule] = {
    "reply": Rule(
        name="reply",
        hours=24,
        warn_before=4,
        channels=frozenset(WRITTEN_CHANNELS),
        fulfilled_by=Fulfilment.REPLY,
    ),
    "callback": Rule(
        name="callback",
        hours=48,
        warn_before=8,
        requires_callback=True,
        fulfilled_by=Fulfilment.CALLBACK,
    ),
    "answer": Rule(
        name="answer", hours=14 * 24, schedule="calendar_days", warn_before=24, enabled=False
    ),
}


@dataclass(frozen=True, kw_only=True)
class InquiryFacts:
    """What is known of an inquiry, as plain values (no ORM objects)."""

    channel: str
    callback_requested: bool
    received_at: datetime
    pauses: Sequence[Pause] = ()
    fulfilled: Mapping[Fulfilment, datetime] = field(default_factory=dict)
    closed_at: datetime | None = None

    def met_at(self, rule: Rule) -> datetime | None:
        times = [t for t in (self.fulfilled.get(rule.fulfilled_by), self.closed_at) if t]
        return min(times) if times else None


@dataclass(frozen=True, kw_only=True)
class Deadline:
    """An obligation's times, independent of ``now``. None while an open pause stops the clock."""

    rule: str
    schedule: str
    hours: float
    warn_at: datetime | None
    due_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class ObligationStatus:
    rule: str
    schedule: str
    hours: float
    warn_at: datetime | None
    due_at: datetime | None
    met_at: datetime | None
    state: State
    next_change_at: datetime | None
    """The next instant the state can change by itself (None: only an event can change it)."""


@dataclass(frozen=True, kw_only=True)
class InquiryStatus:
    obligations: tuple[ObligationStatus, ...]

    @property
    def next_change_at(self) -> datetime | None:
        times = [o.next_change_at for o in self.obligations if o.next_change_at is not None]
        return min(times) if times else None


def get_rule(rules: Mapping[str, Rule], name: str) -> Rule:
    try:
        return rules[name]
    except KeyError:
        raise UnknownRuleError(name) from None


def deadline(
    calendar: BusinessCalendar, rule: Rule, received_at: datetime, pauses: Iterable[Pause] = ()
) -> Deadline:
    """warn_at and due_at of one rule for an inquiry received at ``received_at``.

    warn_at is where working time reaches hours - warn_before (received_at when warn_before
    >= hours); pauses move both later by the working time they cover.
    """
    pauses = tuple(pauses)
    due = calendar.due_at(received_at, rule.hours, rule.schedule, pauses)
    warn_hours = max(rule.hours - rule.warn_before, 0.0)
    warn = calendar.due_at(received_at, warn_hours, rule.schedule, pauses)
    return Deadline(
        rule=rule.name, schedule=rule.schedule, hours=rule.hours, warn_at=warn, due_at=due
    )


def classify(
    deadline_: Deadline, met_at: datetime | None, now: datetime
) -> tuple[State, datetime | None]:
    """The state at ``now`` and the next instant the state changes by itself.

    Met at or before due_at is on time. Unmet: overdue from due_at on, due_soon from warn_at.
    """
    due, warn = deadline_.due_at, deadline_.warn_at
    if met_at is not None:
        on_time = due is None or met_at <= due
        return (State.MET_ON_TIME if on_time else State.MET_LATE), None
    if due is not None and now >= due:
        return State.OVERDUE, None
    if warn is not None and now >= warn:
        return State.DUE_SOON, due
    return State.PENDING, warn if warn is not None else due


def evaluate(
    facts: InquiryFacts,
    rules: Mapping[str, Rule],
    calendar: BusinessCalendar,
    now: datetime,
) -> InquiryStatus:
    """Every obligation of an inquiry with its times and state at ``now``."""
    if now.tzinfo is None:
        raise BadInputError("now must carry a time zone")
    statuses = []
    for rule in rules.values():
        if not rule.applies(facts.channel, facts.callback_requested):
            continue
        dl = deadline(calendar, rule, facts.received_at, facts.pauses)
        met = facts.met_at(rule)
        state, next_change = classify(dl, met, now)
        statuses.append(
            ObligationStatus(
                rule=rule.name,
                schedule=rule.schedule,
                hours=rule.hours,
                warn_at=dl.warn_at,
                due_at=dl.due_at,
                met_at=met,
                state=state,
                next_change_at=next_change,
            )
        )
    return InquiryStatus(obligations=tuple(statuses))
