"""Obligations as stored rows: built from the SLA engine's decision, and kept in line with
an inquiry's facts. Shared by the register's operations and ``recompute``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.core.calendar import BusinessCalendar
from tracker.core.calendar import Pause as PauseSpan
from tracker.core.response import local_month, outcome, response_minutes
from tracker.sla import Fulfilment, InquiryFacts, ObligationStatus, evaluate
from tracker.store.models import Inquiry, Obligation, Pause

if TYPE_CHECKING:  # Context lives in tracker.store.register, which imports this module
    from tracker.store.register import Context


@dataclass(frozen=True, kw_only=True)
class Move:
    """A deadline that changed: old/new None when the obligation appeared/disappeared."""

    ref: str
    rule: str
    old_due_at: datetime | None
    new_due_at: datetime | None
    old_warn_at: datetime | None
    new_warn_at: datetime | None

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


def obligation_row(
    inquiry: Inquiry,
    s: ObligationStatus,
    calendar: BusinessCalendar,
    pauses: Sequence[PauseSpan] = (),
) -> Obligation:
    received_at = inquiry.received_at
    minutes = response_minutes(calendar, s.schedule, received_at, s.met_at, pauses)
    return Obligation(
        inquiry_id=inquiry.id,
        rule=s.rule,
        schedule=s.schedule,
        hours=s.hours,
        warn_at=s.warn_at,
        due_at=s.due_at,
        met_at=s.met_at,
        response_minutes=minutes,
        received_month=local_month(received_at),
        department=inquiry.department,
        outcome=outcome(s.met_at, s.due_at, minutes),
        state=s.state.value,
        next_action_at=first_look(s, received_at),
    )


def sync_obligations(
    session: Session, ctx: Context, inquiry: Inquiry, *, only_open: bool = False, write: bool = True
) -> list[Move]:
    """Bring the stored obligations in line with the facts, rules and calendar at ``now``.

    Returns every deadline that moved. With ``only_open`` (recompute) obligations already
    met are left as they are; with ``write=False`` (a dry run) nothing is changed.
    """
    session.flush()
    pauses = pauses_of(session, inquiry.id)
    facts = facts_of(inquiry, pauses)
    status = evaluate(facts, ctx.rules, ctx.calendar, ctx.now)
    stored = {
        o.rule: o
        for o in session.scalars(select(Obligation).where(Obligation.inquiry_id == inquiry.id))
    }
    moves: list[Move] = []
    for s in status.obligations:
        row = stored.pop(s.rule, None)
        if row is None:
            moves.append(
                Move(
                    ref=inquiry.ref,
                    rule=s.rule,
                    old_due_at=None,
                    new_due_at=s.due_at,
                    old_warn_at=None,
                    new_warn_at=s.warn_at,
                )
            )
            if write:
                session.add(obligation_row(inquiry, s, ctx.calendar, facts.pauses))
            continue
        if only_open and row.met_at is not None:
            continue
        if row.due_at != s.due_at or row.warn_at != s.warn_at:
            moves.append(
                Move(
                    ref=inquiry.ref,
                    rule=s.rule,
                    old_due_at=row.due_at,
                    new_due_at=s.due_at,
                    old_warn_at=row.warn_at,
                    new_warn_at=s.warn_at,
                )
            )
        if write:
            row.schedule, row.hours = s.schedule, s.hours
            row.warn_at, row.due_at, row.met_at = s.warn_at, s.due_at, s.met_at
            row.response_minutes = response_minutes(
                ctx.calendar, s.schedule, inquiry.received_at, s.met_at, facts.pauses
            )
            # Deadline, met time and minutes may all have moved: the packed outcome with them.
            row.outcome = outcome(s.met_at, s.due_at, row.response_minutes)
            row.received_month = local_month(inquiry.received_at)
            row.department = inquiry.department
            row.state, row.next_action_at = s.state.value, first_look(s, inquiry.received_at)
    for rule, row in stored.items():  # a rule that no longer applies (recompute only)
        if only_open and row.met_at is not None:
            continue
        moves.append(
            Move(
                ref=inquiry.ref,
                rule=rule,
                old_due_at=row.due_at,
                new_due_at=None,
                old_warn_at=row.warn_at,
                new_warn_at=None,
            )
        )
        if write:
            session.delete(row)
    return moves
