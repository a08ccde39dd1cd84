"""Obligations as stored rows: built from the SLA engine's decision, and kept in line with
an inquiry's facts. :func:`obligation_values` is the one writer of an obligation row: the
register's operations, ``recompute`` and the bulk import all build their rows with it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.core.calendar import BusinessCalendar
from tracker.core.calendar import Pause as PauseSpan
from tracker.core.response import local_month, outcome, response_minutes
from tracker.sla import Fulfilment, InquiryFacts, ObligationStatus, evaluate
from tracker.store.context import Context
from tracker.store.models import Inquiry, Obligation, Pause


class ObligationRow(NamedTuple):
    """One row of the ``obligations`` table in its column order, so that the bulk insert can
    hand it to the driver as it is. The four times are aware datetimes (None where there is
    none), or the driver's form of them when built for a bulk insert (see ``time`` below)."""

    inquiry_id: int
    rule: str
    schedule: str
    hours: float
    warn_at: Any
    due_at: Any
    met_at: Any
    response_minutes: int | None
    received_month: int
    department: str
    outcome: int | None
    state: str
    next_action_at: Any


def _as_given(moment: datetime | None) -> Any:
    return moment


def obligation_values(
    s: ObligationStatus,
    *,
    inquiry_id: int,
    department: str,
    received_at: datetime,
    calendar: BusinessCalendar,
    pauses: Sequence[PauseSpan] = (),
    time: Callable[[datetime | None], Any] = _as_given,
) -> ObligationRow:
    """The stored row of one obligation the SLA engine decided: its times and state, the
    response time and packed outcome the reports read, and when the daemon must first look
    at it. ``time`` turns each time into the form it is stored in (the bulk insert passes
    the driver's form)."""
    minutes = response_minutes(calendar, s.schedule, received_at, s.met_at, pauses)
    return ObligationRow(
        inquiry_id=inquiry_id,
        rule=s.rule,
        schedule=s.schedule,
        hours=s.hours,
        warn_at=time(s.warn_at),
        due_at=time(s.due_at),
        met_at=time(s.met_at),
        response_minutes=minutes,
        received_month=local_month(received_at),
        department=department,
        outcome=outcome(s.met_at, s.due_at, minutes),
        state=s.state.value,
        next_action_at=time(first_look(s, received_at)),
    )


@dataclass(frozen=True, kw_only=True)
class Move:
    """A deadline that changed: old/new None when the obligation appeared/disappeared."""

    ref: str
    rule: str
    old_due_at: datetime | None
    new_due_at: datetime | None

    def details(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "old_due_at": _iso(self.old_due_at),
            "new_due_at": _iso(self.new_due_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def pauses_of(session: Session, inquiry_id: int) -> list[Pause]:
    """In time order; among pauses with the same start (pause, resume and pause again in one
    instant) the one recorded last is last, so "the open pause" is always the newest."""
    stmt = select(Pause).where(Pause.inquiry_id == inquiry_id).order_by(Pause.start, Pause.id)
    return list(session.scalars(stmt))


def facts_of(inquiry: Inquiry, pauses: Sequence[Pause]) -> InquiryFacts:
    fulfilled: dict[Fulfilment, datetime] = {}
    if inquiry.replied_at is not None:
        fulfilled[Fulfilment.REPLY] = inquiry.replied_at
    if inquiry.called_back_at is not None:
        fulfilled[Fulfilment.CALLBACK] = inquiry.called_back_at
    return InquiryFacts(
        channel=inquiry.channel,
        callback_requested=inquiry.callback_requested,
        received_at=inquiry.received_at,
        pauses=tuple(PauseSpan(start=p.start, end=p.end) for p in pauses),
        fulfilled=fulfilled,
        closed_at=inquiry.closed_at,
    )


def first_look(s: ObligationStatus, received_at: datetime) -> datetime | None:
    """When the daemon must next look at an obligation the register has just written.

    An unmet obligation is due for a look at once (its received time, always <= a sweep's
    now): its first reminder may have to go out *before* warn_at (a due_soon moved earlier
    into the sending window), which only the daemon's planner knows. The sweep then sets
    the real next instant. Indexing "look at me" this way cannot miss a row the way a
    high-water mark on ids can when concurrent transactions commit out of id order.
    """
    return None if s.met_at is not None else received_at


def new_obligation(
    inquiry: Inquiry, s: ObligationStatus, calendar: BusinessCalendar, pauses: Sequence[PauseSpan]
) -> Obligation:
    """The ORM object of a new obligation of ``inquiry`` (its id must be known)."""
    values = obligation_values(
        s,
        inquiry_id=inquiry.id,
        department=inquiry.department,
        received_at=inquiry.received_at,
        calendar=calendar,
        pauses=pauses,
    )
    return Obligation(**values._asdict())


def sync_obligations(
    session: Session, ctx: Context, inquiry: Inquiry, *, only_open: bool = False, write: bool = True
) -> list[Move]:
    """Bring the stored obligations in line with the facts, rules and calendar at ``now``.

    Returns every deadline that moved. With ``only_open`` (recompute) obligations already
    met are left as they are; with ``write=False`` (a dry run) nothing is changed.
    """
    session.flush()
    facts = facts_of(inquiry, pauses_of(session, inquiry.id))
    status = evaluate(facts, ctx.rules, ctx.calendar, ctx.now)
    stored = {
        o.rule: o
        for o in session.scalars(select(Obligation).where(Obligation.inquiry_id == inquiry.id))
    }
    moves: list[Move] = []
    for s in status.obligations:
        row = stored.pop(s.rule, None)
        if row is not None and only_open and row.met_at is not None:
            continue
        if row is None or row.due_at != s.due_at or row.warn_at != s.warn_at:
            old_due = None if row is None else row.due_at
            moves.append(
                Move(ref=inquiry.ref, rule=s.rule, old_due_at=old_due, new_due_at=s.due_at)
            )
        if not write:
            continue
        if row is None:
            session.add(new_obligation(inquiry, s, ctx.calendar, facts.pauses))
        else:
            _update(row, inquiry, s, ctx.calendar, facts.pauses)
    for rule, row in stored.items():  # a rule that no longer applies (recompute only)
        if only_open and row.met_at is not None:
            continue
        moves.append(Move(ref=inquiry.ref, rule=rule, old_due_at=row.due_at, new_due_at=None))
        if write:
            session.delete(row)
    return moves


def _update(
    row: Obligation,
    inquiry: Inquiry,
    s: ObligationStatus,
    calendar: BusinessCalendar,
    pauses: Sequence[PauseSpan],
) -> None:
    """A stored obligation rewritten from the engine's decision: deadline, met time, minutes
    and the packed outcome may all have moved together."""
    values = obligation_values(
        s,
        inquiry_id=inquiry.id,
        department=inquiry.department,
        received_at=inquiry.received_at,
        calendar=calendar,
        pauses=pauses,
    )
    for column, value in values._asdict().items():
        setattr(row, column, value)
