"""The inquiry register: every change to an inquiry, each in the caller's one transaction.

Each operation validates first (BadInputError, nothing written), then writes the inquiry,
its obligations as the SLA engine computes them (warn_at, due_at, met_at, the state at
``now`` as a cache, and next_action_at = when that state next changes by itself), and one
audit Event, so all three commit or roll back together. Events carry codes and times,
never the note. Reading (show, list) is in tracker.store.queries; the bulk import
(tracker.transfer.importer) writes obligations with the same row writer
(tracker.store.obligations).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.config.offices import DEFAULT_OFFICE, office_keys
from tracker.core import validate
from tracker.errors import BadInputError, ConflictError, UnknownRefError, about
from tracker.sla import Decision, Fulfilment, InquiryFacts, ObligationStatus, evaluate
from tracker.store import refs
from tracker.store.context import Context
from tracker.store.models import Event, Inquiry, Pause
from tracker.store.obligations import (
    Move,
    ObligationRow,
    facts_of,
    insert_obligations,
    pauses_of,
    sync_obligations,
)
from tracker.store.scope import Scope

# Re-exported for callers of the register (recompute, the daemon, the demo).
__all__ = [
    "ACTIONS",
    "Context",
    "EventKind",
    "Move",
    "NewInquiry",
    "add",
    "answer",
    "callback",
    "check_recipient",
    "close",
    "facts_of",
    "pause",
    "purge",
    "reply",
    "resume",
    "sync_obligations",
]


class EventKind(StrEnum):
    CREATED = "created"
    REPLIED = "replied"
    CALLED_BACK = "called_back"
    PAUSED = "paused"
    RESUMED = "resumed"
    CLOSED = "closed"
    PURGED = "purged"
    RECOMPUTED = "recomputed"
    IMPORTED = "imported"
    ASSIGNED = "assigned"
    REOPENED = "reopened"
    UNDONE = "undone"
    ANSWERED = "answered"
    MAIL_ATTACHED = "mail_attached"


@dataclass(frozen=True, kw_only=True)
class NewInquiry:
    channel: str
    department: str
    received_at: datetime
    topic: str | None = None
    advisor: str | None = None
    callback_requested: bool = False
    ref: str | None = None
    note: str | None = None
    answer_promised: bool = False
    """An acknowledgement promises an answer by a date (mail intake): adds ``answer``."""
    office: str = "default"
    """The office whose calendar, rules, departments and topics the inquiry follows."""


@about("advisor")
def check_recipient(
    ctx: Context, advisor: str | None, statuses: Sequence[ObligationStatus] | Sequence[Decision]
) -> None:
    """An inquiry with a pending deadline needs someone to remind: its advisor or the default."""
    if advisor or ctx.settings.default_recipient:
        return
    if any(s.met_at is None for s in statuses):
        raise BadInputError(
            "no advisor given and no default_recipient configured "
            "(SVARFRIST_DEFAULT_RECIPIENT): nobody would be reminded of this inquiry's deadlines"
        ).coded("no_recipient")


@dataclass(frozen=True, kw_only=True)
class Created:
    inquiry: Inquiry
    """Flushed: it has its id."""
    obligations: list[ObligationRow]
    """Its obligations as written."""


def add(session: Session, ctx: Context, new: NewInquiry) -> str:
    """Register an inquiry with its obligations and a ``created`` event; returns its ref."""
    return create(session, ctx, new).inquiry.ref


def create(session: Session, ctx: Context, new: NewInquiry) -> Created:
    """:func:`add`, returning the new inquiry itself (flushed: it has its id) and its
    obligations, for a caller that goes on writing rows of it (mail intake: the promised
    answer date) without looking them up again."""
    ctx = ctx.office(new.office)  # its office's departments, topics, calendar and rules
    ctx.scope.admit_office(new.office)
    settings = ctx.settings
    validate.channel(new.channel)
    validate.department(new.department, settings.departments)
    ctx.scope.admit(new.department)
    topic = validate.topic(new.topic, settings.topics)
    advisor = validate.advisor(new.advisor)
    note = validate.note(new.note, settings.note_max_length)
    validate.received_at(new.received_at, ctx.now, ctx.clock_skew)
    facts = InquiryFacts(
        channel=new.channel,
        callback_requested=new.callback_requested,
        received_at=new.received_at,
        answer_promised=new.answer_promised,
    )
    status = evaluate(facts, ctx.rules, ctx.calendar, ctx.now)
    check_recipient(ctx, advisor, status.obligations)
    if new.ref is not None:
        ref = validate.ref(new.ref)
        if session.scalar(select(Inquiry.id).where(Inquiry.ref == ref)) is not None:
            raise _duplicate(ref)
        refs.note_explicit(session, settings.ref_prefix, ref)
    else:
        year = new.received_at.astimezone(ctx.calendar.tz).year  # the local year is the ref's
        ref = refs.next_ref(session, settings.ref_prefix, year)
    inquiry = Inquiry(
        ref=ref,
        channel=new.channel,
        office=new.office,
        department=new.department,
        topic=topic,
        advisor=advisor,
        callback_requested=new.callback_requested,
        received_at=new.received_at,
        note=note,
        answer_promised=new.answer_promised,
        created_at=ctx.now,
    )
    session.add(inquiry)
    try:
        session.flush()
    except IntegrityError:
        # Another writer took the same explicit ref between our check and our insert.
        raise _duplicate(ref) from None
    obligations = insert_obligations(session, inquiry, status.obligations, ctx.calendar, ())
    record(session, ctx, inquiry, EventKind.CREATED, new.received_at)
    return Created(inquiry=inquiry, obligations=obligations)


def _duplicate(ref: str) -> BadInputError:
    return ConflictError(f"duplicate ref {ref!r}: an inquiry with that ref exists").coded(
        "duplicate_ref"
    )


def reply(session: Session, ctx: Context, ref: str, at: datetime) -> list[Move]:
    """The citizen got a reply or acknowledgement at ``at``: fulfils ``reply``."""
    inquiry = _load_open(session, ref, ctx.scope)
    _happened(ctx, at, "reply at")
    if inquiry.replied_at is not None:
        raise ConflictError(
            f"{ref} was already replied to at {validate.local_time(inquiry.replied_at)}"
        ).coded("already_replied")
    replied = validate.not_before(at, inquiry.received_at, "reply at")
    _require_fulfilment(ctx, inquiry, Fulfilment.REPLY)  # before the change: nothing written
    inquiry.replied_at = replied
    return _changed(session, ctx, inquiry, EventKind.REPLIED, at)


def callback(session: Session, ctx: Context, ref: str, at: datetime) -> list[Move]:
    """The citizen was called back at ``at``: fulfils ``callback``."""
    inquiry = _load_open(session, ref, ctx.scope)
    _happened(ctx, at, "callback at")
    if inquiry.called_back_at is not None:
        when = validate.local_time(inquiry.called_back_at)
        raise ConflictError(f"{ref} was already called back at {when}").coded("already_called_back")
    called = validate.not_before(at, inquiry.received_at, "callback at")
    _require_fulfilment(ctx, inquiry, Fulfilment.CALLBACK)  # before the change: nothing written
    inquiry.called_back_at = called
    return _changed(session, ctx, inquiry, EventKind.CALLED_BACK, at)


def answer(session: Session, ctx: Context, ref: str, at: datetime) -> list[Move]:
    """The citizen got the final answer at ``at``: fulfils ``answer`` (the promised date)."""
    inquiry = _load_open(session, ref, ctx.scope)
    _happened(ctx, at, "answer at")
    if inquiry.answered_at is not None:
        raise ConflictError(
            f"{ref} was already answered at {validate.local_time(inquiry.answered_at)}"
        ).coded("already_answered")
    answered = validate.not_before(at, inquiry.received_at, "answer at")
    _require_fulfilment(ctx, inquiry, Fulfilment.ANSWER)  # before the change: nothing written
    inquiry.answered_at = answered
    return _changed(session, ctx, inquiry, EventKind.ANSWERED, at)


def mail_attached(session: Session, ctx: Context, ref: str, at: datetime) -> None:
    """A further mail from the citizen joined the inquiry (mail intake): an audit event only."""
    inquiry = _load(session, ref, ctx.scope)
    record(session, ctx, inquiry, EventKind.MAIL_ATTACHED, at)


def pause(session: Session, ctx: Context, ref: str, at: datetime) -> list[Move]:
    """Stop the clocks from ``at`` (waiting for the citizen): deadlines move later."""
    inquiry = _load_open(session, ref, ctx.scope)
    _happened(ctx, at, "pause at")
    pauses = pauses_of(session, inquiry.id)
    if pauses and pauses[-1].end is None:
        since = validate.local_time(pauses[-1].start)
        raise ConflictError(f"{ref} is already paused (since {since})").coded("already_paused")
    validate.not_before(at, inquiry.received_at, "pause at")
    if pauses and pauses[-1].end is not None and at < pauses[-1].end:
        raise BadInputError(
            f"pause at {validate.local_time(at)} is before the previous pause ended "
            f"({validate.local_time(pauses[-1].end)})"
        ).coded("before_pause")
    session.add(Pause(inquiry_id=inquiry.id, start=at, end=None))
    return _changed(session, ctx, inquiry, EventKind.PAUSED, at)


def resume(session: Session, ctx: Context, ref: str, at: datetime) -> list[Move]:
    """Restart the clocks at ``at``."""
    inquiry = _load_open(session, ref, ctx.scope)
    _happened(ctx, at, "resume at")
    pauses = pauses_of(session, inquiry.id)
    if not pauses or pauses[-1].end is not None:
        raise ConflictError(f"{ref} is not paused").coded("not_paused")
    current = pauses[-1]
    if at < current.start:
        raise BadInputError(
            f"resume at {validate.local_time(at)} is before the pause started "
            f"({validate.local_time(current.start)})"
        ).coded("before_pause")
    current.end = at
    return _changed(session, ctx, inquiry, EventKind.RESUMED, at)


def close(session: Session, ctx: Context, ref: str, at: datetime) -> list[Move]:
    """Close at ``at``: fulfils every obligation still pending then; ends an open pause."""
    inquiry = _load(session, ref, ctx.scope)
    if inquiry.closed_at is not None:
        when = validate.local_time(inquiry.closed_at)
        raise ConflictError(f"{ref} is already closed (at {when})").coded("closed")
    _happened(ctx, at, "close at")
    validate.not_before(at, inquiry.received_at, "close at")
    fulfilments = (
        ("reply", inquiry.replied_at),
        ("call-back", inquiry.called_back_at),
        ("answer", inquiry.answered_at),
    )
    validate.closes_after(at, fulfilments, "close at")
    pauses = pauses_of(session, inquiry.id)
    ended_pause = bool(pauses) and pauses[-1].end is None
    if pauses and pauses[-1].end is None:
        if at < pauses[-1].start:
            raise BadInputError(
                f"close at {validate.local_time(at)} is before the pause started "
                f"({validate.local_time(pauses[-1].start)})"
            ).coded("before_pause")
        pauses[-1].end = at
    elif pauses and pauses[-1].end is not None and at < pauses[-1].end:
        # A pause that ended after the closing would be time the clock stood still for a
        # closed inquiry; the CSV format (tracker.transfer.pauses) cannot hold it either.
        raise BadInputError(
            f"close at {validate.local_time(at)} is before the last pause ended "
            f"({validate.local_time(pauses[-1].end)})"
        ).coded("before_pause")
    inquiry.closed_at = at
    # Recorded so that `undo` can open the pause again that closing ended.
    extra = {"ended_pause": True} if ended_pause else None
    return _changed(session, ctx, inquiry, EventKind.CLOSED, at, extra=extra)


def retention(ctx: Context) -> dict[str, int]:
    """Each configured office's ``retention_days``: its own, else the top level's."""
    return {key: ctx.office(key).settings.retention_days for key in office_keys(ctx.settings)}


def purge(session: Session, ctx: Context, office: str | None = None) -> int:
    """Erase the notes of inquiries closed longer than their office's retention
    (:func:`retention`) ago, of ``office`` alone if given; returns how many.

    An office no longer configured keeps the office ``default``'s retention: its notes go
    too. Only the note (the one free text) is cleared and purged_at set: every field
    statistics use stays as it was. The ``purged`` event records the count and the cutoff
    (each office's of its own), never any text. Erasing cannot be undone, so a ``now`` later
    than the real clock is refused (refuse_future_now).
    """
    refuse_future_now(ctx, "purge")
    days = retention(ctx)
    own = {key: d for key, d in days.items() if d != days[DEFAULT_OFFICE]}
    cutoff = ctx.now - timedelta(days=days[office or DEFAULT_OFFICE])
    if office is not None:
        count = _erase_notes(session, ctx, cutoff, Inquiry.office == office)
        details: dict[str, Any] = {"office": office}
    else:
        # One statement for the offices of the default's retention (and any office no
        # longer configured), one per office with its own.
        count = _erase_notes(session, ctx, cutoff, Inquiry.office.not_in(list(own)))
        details = {}
        for key, d in own.items():
            at = ctx.now - timedelta(days=d)
            erased = _erase_notes(session, ctx, at, Inquiry.office == key)
            details.setdefault("offices", {})[key] = {
                "count": erased,
                "closed_before": at.isoformat(),
            }
            count += erased
    details = {"count": count, "closed_before": cutoff.isoformat(), **details}
    record(session, ctx, None, EventKind.PURGED, ctx.now, details=details)
    return count


def _erase_notes(
    session: Session, ctx: Context, cutoff: datetime, offices: ColumnElement[bool]
) -> int:
    result = session.execute(
        update(Inquiry)
        .where(Inquiry.closed_at < cutoff, Inquiry.purged_at.is_(None), offices)
        .values(note=None, purged_at=ctx.now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- helpers --------------------------------------------------------------------------------
def _happened(ctx: Context, at: datetime, what: str) -> None:
    validate.not_after(at, ctx.now, ctx.clock_skew, what)


def _require_fulfilment(ctx: Context, inquiry: Inquiry, fulfilment: Fulfilment) -> None:
    """Only an obligation the inquiry has can be fulfilled: a reply to a phone inquiry that
    only asked for a call-back, or a call-back nobody asked for, would record an event that
    meets no deadline (Rule.applies decides, on the inquiry's own office's rules, as when
    the obligations were made)."""
    if any(
        rule.fulfilled_by is fulfilment
        and rule.applies(inquiry.channel, inquiry.callback_requested, inquiry.answer_promised)
        for rule in ctx.office(inquiry.office).rules.values()
    ):
        return
    if fulfilment is Fulfilment.CALLBACK:
        why = f"{inquiry.ref} did not ask for a call-back: `callback` has nothing to fulfil"
    elif fulfilment is Fulfilment.ANSWER:
        why = f"{inquiry.ref} was promised no answer date: `answer` has nothing to fulfil"
    else:
        why = (
            f"{inquiry.ref} has no obligation a reply fulfils (channel {inquiry.channel}): "
            "`reply` has nothing to fulfil"
        )
    error = BadInputError(why).coded("nothing_to_fulfil")
    # The action asked for is what is wrong, not its time (the API's field: its path's).
    error.field = "action"
    raise error


def _load(session: Session, ref: str, scope: Scope) -> Inquiry:
    # FOR UPDATE: on PostgreSQL two writers to one inquiry take turns (SQLite's BEGIN
    # IMMEDIATE already serialises writers and ignores the clause). Out of ``scope``, an
    # inquiry is an unknown ref: its existence is not told.
    inquiry = session.scalar(_load_statement(scope.shape), {"ref": ref, **scope.values("scope")})
    if inquiry is None:
        raise UnknownRefError(ref)
    return inquiry


@functools.cache
def _load_statement(scope: Scope) -> Select[Inquiry]:
    """_load's statement for this shape of scope (Scope.shape), built once per process: every
    action loads its inquiry, and a statement built per call cost more than the SELECT."""
    return (
        select(Inquiry)
        .where(Inquiry.ref == bindparam("ref"), scope.clause(Inquiry.department, "scope"))
        .with_for_update()
    )


def _load_open(session: Session, ref: str, scope: Scope) -> Inquiry:
    inquiry = _load(session, ref, scope)
    if inquiry.closed_at is not None:
        raise ConflictError(f"{ref} is closed (at {validate.local_time(inquiry.closed_at)})").coded(
            "closed"
        )
    return inquiry


def _changed(
    session: Session,
    ctx: Context,
    inquiry: Inquiry,
    kind: EventKind,
    at: datetime,
    *,
    extra: dict[str, Any] | None = None,
) -> list[Move]:
    """Recompute the inquiry's obligations and record the change with what moved."""
    moves = sync_obligations(session, ctx, inquiry)
    details = (extra or {}) | ({"moved": [m.details() for m in moves]} if moves else {})
    record(session, ctx, inquiry, kind, at, details=details or None)
    return moves


def record(
    session: Session,
    ctx: Context,
    inquiry: Inquiry | None,
    kind: str,
    at: datetime,
    *,
    details: dict[str, Any] | None = None,
) -> None:
    """One event in the audit trail, of ``inquiry`` or (None) of the register as a whole
    (an import, a purge, an admin's change to teams and absences), with who recorded it
    and when (:func:`_audit_fields`)."""
    values = {
        "inquiry_id": None if inquiry is None else inquiry.id,
        "ref": None if inquiry is None else inquiry.ref,
        "kind": str(kind),
        "at": at,
        "details": details,
    }
    session.connection().execute(_EVENT, values | _audit_fields(ctx))


# One writer of events: a Core INSERT built once and run at once on the session's
# connection (the unit of work's insert cost more than the statement, in every action;
# nothing reads an event back as an object in the same session). An inquiry it names is
# already stored: an action loads it, `create` flushes it for its id.
_EVENT = insert(Event)


def _audit_fields(ctx: Context) -> dict[str, Any]:
    """Who recorded an event and when, for every Event row: the real clock beside the
    command's ``now``, the operating-system user beside the actor it named."""
    return {
        "recorded_at": ctx.recorded_at or ctx.now,
        "as_of": ctx.now,
        "actor": ctx.actor,
        "os_user": ctx.os_user,
    }


def refuse_future_now(ctx: Context, command: str) -> None:
    """A command that erases refuses a ``now`` later than the real clock (plus the configured
    clock skew): what it erases at a pretended future time is gone for good in the present."""
    if ctx.recorded_at is not None and ctx.now > ctx.recorded_at + ctx.clock_skew:
        raise BadInputError(
            f"{command} erases irreversibly and refuses a time in the future: --now "
            f"{validate.local_time(ctx.now)} is later than the real clock "
            f"({validate.local_time(ctx.recorded_at)})"
        )


ACTIONS: Mapping[str, Callable[[Session, Context, str, datetime], list[Move]]] = {
    "reply": reply,
    "callback": callback,
    "answer": answer,
    "pause": pause,
    "resume": resume,
    "close": close,
}
"""The actions on one inquiry by name, as the command line and the HTTP API offer them."""
