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
from functools import cached_property
from itertools import chain
from typing import NamedTuple, TypeVar

from tracker.core.calendar import BusinessCalendar, Pause, from_us, hours_to_us, to_us
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
    ANSWER = "answer"
    CLOSE = "close"


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One promise: ``hours`` of working time on ``schedule``, warned ``warn_before`` ahead.

    It applies to an inquiry when enabled, when ``channels`` is empty or holds the inquiry's
    channel, if ``requires_callback``, when the citizen asked to be called back, and, if
    ``requires_promise``, when the inquiry's acknowledgement promised an answer by a date
    (mail intake's acknowledgements do: the promise is what creates the obligation).
    """

    name: str
    hours: float
    schedule: str = "working_days"
    warn_before: float = 0.0
    channels: frozenset[str] = frozenset()
    requires_callback: bool = False
    fulfilled_by: Fulfilment = Fulfilment.CLOSE
    enabled: bool = True
    requires_promise: bool = False

    def __post_init__(self) -> None:
        if self.hours < 0 or self.warn_before < 0:
            raise BadInputError(f"rule {self.name!r}: hours and warn_before must not be negative")

    @cached_property
    def amounts_us(self) -> tuple[int, int]:
        """The working µs to due_at and to warn_at (warn_at where working time reaches
        hours - warn_before; at receipt when warn_before >= hours)."""
        return hours_to_us(self.hours), hours_to_us(max(self.hours - self.warn_before, 0.0))

    def applies(self, channel: str, callback_requested: bool, promised: bool = False) -> bool:
        return (
            self.enabled
            and (not self.channels or channel in self.channels)
            and (callback_requested or not self.requires_callback)
            and (promised or not self.requires_promise)
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
    # The absolute deadline an acknowledgement promises (mail intake): 10 working days.
    # Only inquiries whose acknowledgement made the promise carry it.
    "answer": Rule(
        name="answer",
        hours=240,
        warn_before=24,
        requires_promise=True,
        fulfilled_by=Fulfilment.ANSWER,
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
    answer_promised: bool = False

    def in_us(self) -> Facts:
        """These facts as :func:`decide` takes them."""
        return Facts(
            channel=self.channel,
            callback_requested=self.callback_requested,
            received_at=to_us(self.received_at),
            fulfilled={kind: to_us(moment) for kind, moment in self.fulfilled.items()},
            closed_at=None if self.closed_at is None else to_us(self.closed_at),
            pauses=tuple(self.pauses),
            answer_promised=self.answer_promised,
        )

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
    """warn_at and due_at of one rule for an inquiry received at ``received_at``; pauses move
    both later by the working time they cover."""
    pauses = tuple(pauses)
    due_amount, warn_amount = rule.amounts_us
    start = to_us(received_at)
    due = calendar.due_us(start, due_amount, rule.schedule, pauses)
    warn = calendar.due_us(start, warn_amount, rule.schedule, pauses)
    return Deadline(
        rule=rule.name,
        schedule=rule.schedule,
        hours=rule.hours,
        warn_at=_at(warn, calendar),
        due_at=_at(due, calendar),
    )


_Instant = TypeVar("_Instant", int, datetime)


def _state(
    warn: _Instant | None, due: _Instant | None, met: _Instant | None, now: _Instant
) -> tuple[State, _Instant | None]:
    """The state at ``now`` and the next instant the state changes by itself.

    Met at or before due is on time. Unmet: overdue from due on, due_soon from warn.
    """
    if met is not None:
        on_time = due is None or met <= due
        return (State.MET_ON_TIME if on_time else State.MET_LATE), None
    if due is not None and now >= due:
        return State.OVERDUE, None
    if warn is not None and now >= warn:
        return State.DUE_SOON, due
    return State.PENDING, warn if warn is not None else due


def classify(
    deadline_: Deadline, met_at: datetime | None, now: datetime
) -> tuple[State, datetime | None]:
    """The state at ``now`` and the next instant the state changes by itself (see _state)."""
    return _state(deadline_.warn_at, deadline_.due_at, met_at, now)


class Decision(NamedTuple):
    """One obligation as :func:`decide` decides it: ObligationStatus on epoch microseconds,
    the form bulk work (import) keeps its times in."""

    rule: str
    schedule: str
    hours: float
    warn_at: int | None
    due_at: int | None
    met_at: int | None
    state: State
    next_change_at: int | None


class Facts(NamedTuple):
    """What :func:`decide` needs to know of an inquiry: InquiryFacts on epoch microseconds."""

    channel: str
    callback_requested: bool
    received_at: int
    fulfilled: Mapping[Fulfilment, int]
    closed_at: int | None
    pauses: tuple[Pause, ...] = ()
    answer_promised: bool = False


def decide(
    inquiries: Sequence[Facts], rules: Mapping[str, Rule], calendar: BusinessCalendar, now: int
) -> list[list[Decision]]:
    """The SLA engine: for each inquiry, every obligation (in the rules' order) with its
    deadlines and its state at ``now``, all times in epoch µs. A rule is met by its
    fulfilment or the closing, whichever came first. Many inquiries at once is how bulk
    work (import) calls it: each rule's deadlines of the inquiries without pauses are found
    in one pass over the calendar's working-time index. :func:`evaluate` is this for one
    inquiry on datetimes."""
    decided: list[list[Decision]] = [[] for _ in inquiries]
    # Channels and flags repeat: the inquiries are grouped by (channel, call-back, answer
    # promised) once, and each rule is asked once per group (order within a group kept).
    groups: dict[tuple[str, bool, bool], list[tuple[int, Facts]]] = {}
    for i, f in enumerate(inquiries):
        kind = (f.channel, f.callback_requested, f.answer_promised)
        group = groups.get(kind)
        if group is None:
            group = groups[kind] = []
        group.append((i, f))
    new_decision = tuple.__new__
    for rule in rules.values():
        mine = list(chain.from_iterable(g for k, g in groups.items() if rule.applies(*k)))
        if not mine:
            continue
        due_amount, warn_amount = rule.amounts_us
        name, schedule, hours, fulfilled_by = (
            rule.name,
            rule.schedule,
            rule.hours,
            rule.fulfilled_by,
        )
        index = calendar.index(schedule)
        plain = [f.received_at for _, f in mine if not f.pauses]
        dues = iter(index.advance_many(plain, due_amount))
        warns = iter(index.advance_many(plain, warn_amount))
        for i, (_, _, received, fulfilled, closed, pauses, _) in mine:
            due: int | None
            warn: int | None
            if pauses:
                due = calendar.due_us(received, due_amount, schedule, pauses)
                warn = calendar.due_us(received, warn_amount, schedule, pauses)
            else:
                due, warn = next(dues), next(warns)
            met = fulfilled.get(fulfilled_by)
            if closed is not None and (met is None or closed < met):
                met = closed
            state, next_change = _state(warn, due, met, now)
            # tuple.__new__ builds it in C (the NamedTuple's constructor is a Python call):
            # bulk work decides one per obligation.
            decided[i].append(
                new_decision(Decision, (name, schedule, hours, warn, due, met, state, next_change))
            )
    return decided


def evaluate(
    facts: InquiryFacts,
    rules: Mapping[str, Rule],
    calendar: BusinessCalendar,
    now: datetime,
) -> InquiryStatus:
    """Every obligation of an inquiry with its times and state at ``now`` (:func:`decide`)."""
    if now.tzinfo is None:
        raise BadInputError("now must carry a time zone")
    (decisions,) = decide([facts.in_us()], rules, calendar, to_us(now))
    return InquiryStatus(
        obligations=tuple(
            ObligationStatus(
                rule=d.rule,
                schedule=d.schedule,
                hours=d.hours,
                warn_at=_at(d.warn_at, calendar),
                due_at=_at(d.due_at, calendar),
                met_at=_at(d.met_at, calendar),
                state=d.state,
                next_change_at=_at(d.next_change_at, calendar),
            )
            for d in decisions
        )
    )


def _at(us: int | None, calendar: BusinessCalendar) -> datetime | None:
    return None if us is None else from_us(us, calendar.tz)
