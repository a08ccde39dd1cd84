"""Correcting the register: assign, reopen, undo, and the audit history that shows them.

An office makes mistakes: the wrong advisor, a reply recorded on the wrong inquiry, a case
closed too early. These operations put them right the way the register's own operations
change an inquiry: in the caller's one transaction, obligations recomputed with the same
functions (tracker.store.obligations.sync_obligations), and an audited Event for each one.

``undo`` reverts the inquiry's newest change that has not been reverted yet, so repeated
undos walk back through its history; an undo is itself an event (``undone``, naming the
event it reverted) and is never lost from the trail. What cannot be reverted is refused
with a BadInputError, nothing written: an inquiry whose note was purged, one with no
change recorded since it was registered or imported. Given the id of the change the user
saw as the last one (``last_change``: the page's button, the API's ``last_change``), undo
refuses with a ConflictError (``stale_event``), nothing written, when another change has
come since or that one was undone: it never reverts a change the user has not seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tracker.core import validate
from tracker.core.reminders import Kind
from tracker.errors import BadInputError, ConflictError
from tracker.store.models import Event, Inquiry, OutboxMessage
from tracker.store.obligations import Move, pauses_of, sync_obligations
from tracker.store.register import Context, EventKind, _load, _load_open, record

# What `undo` can revert: the changes made by a command on one inquiry. ``created`` and
# ``imported`` are where an inquiry's history begins; ``recomputed`` follows a rule change
# and is the operator's to redo with `recompute`, so undo passes over it.
UNDOABLE = frozenset(
    {
        EventKind.REPLIED,
        EventKind.CALLED_BACK,
        EventKind.ANSWERED,
        EventKind.PAUSED,
        EventKind.RESUMED,
        EventKind.CLOSED,
        EventKind.ASSIGNED,
        EventKind.REOPENED,
    }
)
# The reminders that go to an inquiry's advisor (an escalation goes to its lead address).
ADVISOR_KINDS = (Kind.DUE_SOON.value, Kind.OVERDUE.value)


@dataclass(frozen=True, kw_only=True)
class Assigned:
    previous: str | None
    advisor: str
    moved_messages: int


@dataclass(frozen=True, kw_only=True)
class Undone:
    event: int
    """The id of the event reverted."""
    kind: EventKind
    """What was reverted."""
    at: datetime
    """When the reverted change said it happened."""
    actor: str
    """Who made the reverted change."""
    moves: list[Move]


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    """One audit event, as `show` prints it: codes, times and names, never the note."""

    id: int
    """The event's id: what ``undo`` is given as the change the user saw last."""
    kind: str
    at: datetime
    recorded_at: datetime
    as_of: datetime
    actor: str
    os_user: str | None
    details: dict[str, Any]


def history(session: Session, ref: str) -> list[HistoryEntry]:
    """The audit trail of one inquiry, oldest first (purges and imports are recorded once
    for many inquiries; the inquiry's own purged_at says when its note was erased)."""
    inquiry_id = session.scalar(select(Inquiry.id).where(Inquiry.ref == ref))
    if inquiry_id is None:
        raise BadInputError(f"unknown ref {ref!r}")
    events = session.scalars(select(Event).where(Event.inquiry_id == inquiry_id).order_by(Event.id))
    return [
        HistoryEntry(
            id=e.id,
            kind=e.kind,
            at=e.at,
            recorded_at=e.recorded_at,
            as_of=e.as_of,
            actor=e.actor,
            os_user=e.os_user,
            details=e.details or {},
        )
        for e in events
    ]


def last_change(trail: list[HistoryEntry]) -> HistoryEntry | None:
    """The change ``undo`` would revert now, of an inquiry's ``history``; None: nothing."""
    newest = _newest_undoable((e.id, e.kind, e.details) for e in reversed(trail))
    return next((e for e in trail if e.id == newest), None)


def assign(session: Session, ctx: Context, ref: str, advisor: str) -> Assigned:
    """Give an open inquiry to another advisor; its reminders not yet sent go to them."""
    new = validate.advisor(advisor)
    if new is None:
        raise BadInputError("advisor: an e-mail address is required").coded("required")
    inquiry = _load_open(session, ref, ctx.scope)
    _refuse_purged(inquiry)
    # Recorded at now: not before the inquiry existed (a --now typed too early).
    validate.not_after(inquiry.received_at, ctx.now, ctx.clock_skew, f"{ref}'s receipt at")
    if inquiry.advisor == new:
        raise BadInputError(f"{ref} is already assigned to {new}").coded("same_advisor")
    previous = inquiry.advisor
    inquiry.advisor = new
    moved = _move_reminders(session, ctx, inquiry, previous, new)
    details = {"from": previous, "to": new, "moved_messages": moved}
    record(session, ctx, inquiry, EventKind.ASSIGNED, ctx.now, details=details)
    return Assigned(previous=previous, advisor=new, moved_messages=moved)


def reopen(session: Session, ctx: Context, ref: str) -> list[Move]:
    """Open a closed inquiry again: what the closing fulfilled is pending again (possibly
    overdue: its deadlines are those it always had), and the daemon reminds of it."""
    inquiry = _load(session, ref, ctx.scope)
    _refuse_purged(inquiry)
    if inquiry.closed_at is None:
        raise BadInputError(f"{ref} is not closed")
    closed_at = inquiry.closed_at
    # Recorded at now: not before the closing it undoes (a --now typed too early).
    validate.not_after(closed_at, ctx.now, ctx.clock_skew, f"{ref}'s closing at")
    inquiry.closed_at = None
    moves = sync_obligations(session, ctx, inquiry)
    details = {"closed_at": closed_at.isoformat()} | _moved(moves)
    record(session, ctx, inquiry, EventKind.REOPENED, ctx.now, details=details)
    return moves


def undo(session: Session, ctx: Context, ref: str, expected: int | None = None) -> Undone:
    """Revert the inquiry's newest change not yet reverted; recorded as ``undone``.

    ``expected``: the id of the change the user saw as the last one; when the newest change
    is another, a ConflictError (``stale_event``, field ``event``), nothing written."""
    inquiry = _load(session, ref, ctx.scope)
    _refuse_purged(inquiry)
    event = _last_change(session, inquiry)
    kind = EventKind(event.kind)
    if expected is not None and event.id != expected:
        error = ConflictError(
            f"{ref}'s last change is no longer event {expected}: it is now {kind.value} at "
            f"{validate.local_time(event.at)} (event {event.id}); nothing undone"
        ).coded("stale_event")
        error.field = "event"
        raise error
    # Recorded at now: not before the change it reverts (a --now typed too early), as
    # reopen and assign are not.
    validate.not_after(event.at, ctx.now, ctx.clock_skew, f"{ref}'s last change ({kind.value}) at")
    _REVERT[kind](session, ctx, inquiry, event)
    moves = sync_obligations(session, ctx, inquiry)
    details = {"event": event.id, "undoes": kind.value, "undoes_at": event.at.isoformat()}
    record(session, ctx, inquiry, EventKind.UNDONE, ctx.now, details=details | _moved(moves))
    return Undone(event=event.id, kind=kind, at=event.at, actor=event.actor, moves=moves)


# -- helpers --------------------------------------------------------------------------------
def _refuse_purged(inquiry: Inquiry) -> None:
    if inquiry.purged_at is not None:
        raise BadInputError(
            f"{inquiry.ref} was purged at {validate.local_time(inquiry.purged_at)} "
            "(its retention ended): it can no longer be changed"
        ).coded("purged")


def _moved(moves: list[Move]) -> dict[str, Any]:
    return {"moved": [m.details() for m in moves]} if moves else {}


def _last_change(session: Session, inquiry: Inquiry) -> Event:
    """The newest event of the inquiry that undo may revert and no undo has reverted."""
    events = session.scalars(
        select(Event).where(Event.inquiry_id == inquiry.id).order_by(Event.id.desc())
    ).all()
    newest = _newest_undoable((e.id, e.kind, e.details) for e in events)
    for event in events:
        if event.id == newest:
            return event
    raise BadInputError(
        f"{inquiry.ref} has nothing to undo: no change is recorded since it was registered"
    ).coded("nothing_to_undo")


def _newest_undoable(events: Iterable[tuple[int, str, dict[str, Any] | None]]) -> int | None:
    """Of events (id, kind, details), newest first: the id of the newest that undo may
    revert and no undo has reverted, or None. The one rule of what undo reverts, for undo
    itself and for what the page and the API say it would revert (``last_change``)."""
    reverted: set[int] = set()
    for event_id, kind, details in events:
        if kind == EventKind.UNDONE:
            reverted.add(int((details or {})["event"]))
        elif event_id in reverted or kind in (
            EventKind.RECOMPUTED,
            EventKind.MAIL_ATTACHED,  # a further mail of the citizen's changes nothing
        ):
            continue
        elif kind in UNDOABLE:
            return event_id
        else:  # created or imported: the start of its history
            break
    return None


def _move_reminders(
    session: Session, ctx: Context, inquiry: Inquiry, old: str | None, new: str | None
) -> int:
    """Readdress the inquiry's advisor reminders not yet claimed for sending; returns how
    many. A message already being sent (or sent) stays as it is: it went to whom it went.
    An unassigned inquiry's went to its own office's default recipient."""
    default = ctx.office(inquiry.office).settings.default_recipient
    source, target = old or default, new or default
    if source is None or target is None or source == target:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.inquiry_id == inquiry.id,
            OutboxMessage.state == "pending",
            OutboxMessage.kind.in_(ADVISOR_KINDS),
            OutboxMessage.recipient == source,
        )
        .values(recipient=target)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _inconsistent(inquiry: Inquiry, event: Event) -> BadInputError:
    return BadInputError(
        f"{inquiry.ref}: its {event.kind} at {validate.local_time(event.at)} no longer "
        "matches the inquiry (changed outside Svarfrist?): nothing undone"
    ).coded("inconsistent")


def _revert_fulfilment(session: Session, ctx: Context, inquiry: Inquiry, event: Event) -> None:
    field = {
        EventKind.REPLIED: "replied_at",
        EventKind.ANSWERED: "answered_at",
    }.get(EventKind(event.kind), "called_back_at")
    if inquiry.closed_at is not None or getattr(inquiry, field) is None:
        raise _inconsistent(inquiry, event)
    setattr(inquiry, field, None)


def _revert_pause(session: Session, ctx: Context, inquiry: Inquiry, event: Event) -> None:
    pauses = pauses_of(session, inquiry.id)
    last = pauses[-1] if pauses else None
    if inquiry.closed_at is not None or last is None or last.end is not None:
        raise _inconsistent(inquiry, event)
    session.delete(last)


def _revert_resume(session: Session, ctx: Context, inquiry: Inquiry, event: Event) -> None:
    pauses = pauses_of(session, inquiry.id)
    last = pauses[-1] if pauses else None
    if inquiry.closed_at is not None or last is None or last.end != event.at:
        raise _inconsistent(inquiry, event)
    last.end = None


def _revert_close(session: Session, ctx: Context, inquiry: Inquiry, event: Event) -> None:
    if inquiry.closed_at is None:
        raise _inconsistent(inquiry, event)
    if (event.details or {}).get("ended_pause"):
        pauses = pauses_of(session, inquiry.id)
        if not pauses or pauses[-1].end != inquiry.closed_at:
            raise _inconsistent(inquiry, event)
        pauses[-1].end = None
    inquiry.closed_at = None


def _revert_assign(session: Session, ctx: Context, inquiry: Inquiry, event: Event) -> None:
    details = event.details or {}
    if inquiry.closed_at is not None or inquiry.advisor != details.get("to"):
        raise _inconsistent(inquiry, event)
    inquiry.advisor = details.get("from")
    _move_reminders(session, ctx, inquiry, details.get("to"), inquiry.advisor)


def _revert_reopen(session: Session, ctx: Context, inquiry: Inquiry, event: Event) -> None:
    closed_at = (event.details or {}).get("closed_at")
    if inquiry.closed_at is not None or closed_at is None:
        raise _inconsistent(inquiry, event)
    inquiry.closed_at = datetime.fromisoformat(closed_at)


_REVERT: dict[EventKind, Callable[[Session, Context, Inquiry, Event], None]] = {
    EventKind.REPLIED: _revert_fulfilment,
    EventKind.CALLED_BACK: _revert_fulfilment,
    EventKind.ANSWERED: _revert_fulfilment,
    EventKind.PAUSED: _revert_pause,
    EventKind.RESUMED: _revert_resume,
    EventKind.CLOSED: _revert_close,
    EventKind.ASSIGNED: _revert_assign,
    EventKind.REOPENED: _revert_reopen,
}
