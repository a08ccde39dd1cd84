"""Obligations as stored rows: built from the SLA engine's decision, and kept in line with
an inquiry's facts. :func:`obligation_rows` is the one builder of obligation rows: a new
inquiry's are written by :func:`insert_obligations`, a changed one is rewritten from
:func:`obligation_values`, and the bulk import writes a chunk at a time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from tracker.core.calendar import BusinessCalendar, from_us, to_us
from tracker.core.calendar import Pause as PauseSpan
from tracker.core.outcome import Outcome, encode
from tracker.core.response import local_month_us, response_minutes_many
from tracker.sla import Decision, Fulfilment, InquiryFacts, ObligationStatus, State, decide
from tracker.store import outbox
from tracker.store.context import Context
from tracker.store.models import Inquiry, Obligation, Pause

_T = TypeVar("_T")
# The stored text of each state (a plain str: ``State.value`` is a Python-level property).
_STATE_TEXT = {state: state.value for state in State}


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
    office: str
    outcome: int | None
    state: str
    next_action_at: Any


def stored_time(us: int | None) -> datetime | None:
    """An epoch-µs time as the ORM stores it (an aware datetime)."""
    return None if us is None else from_us(us)


class StoredTimes(dict[int | None, Any]):
    """Epoch µs -> the stored form, looked up by subscript (``times[us]``): the form the
    one writer takes its times in. This one gives the ORM's aware datetimes and keeps
    nothing; the bulk import passes one that remembers the driver's form of each instant."""

    def __init__(self) -> None:
        super().__init__({None: None})

    def __missing__(self, us: int) -> datetime:
        return from_us(us)


STORED = StoredTimes()


class Owner(NamedTuple):
    """What an obligation row takes from its inquiry (``received_at`` in epoch µs)."""

    inquiry_id: int
    department: str
    received_at: int
    pauses: tuple[PauseSpan, ...] = ()
    office: str = "default"


def obligation_values(
    d: Decision,
    *,
    inquiry_id: int,
    department: str,
    received_at: int,
    calendar: BusinessCalendar,
    pauses: Sequence[PauseSpan] = (),
    office: str = "default",
) -> ObligationRow:
    """The stored row of one obligation the SLA engine decided (:func:`obligation_rows` of
    one)."""
    owner = Owner(inquiry_id, department, received_at, tuple(pauses), office)
    (row,) = obligation_rows([(owner, (d,))], calendar)
    return row


def obligation_rows(
    owned: Sequence[tuple[Owner, Sequence[Decision]]],
    calendar: BusinessCalendar,
    times: Mapping[int | None, Any] = STORED,
) -> list[ObligationRow]:
    """The stored rows of obligations the SLA engine decided (sla.decide), each inquiry with
    its decisions: times and state, the response time and outcome code the reports read,
    and when the daemon must first look at it. Times are epoch µs; ``times[us]`` is the form
    each is stored in (:class:`StoredTimes`; the bulk insert passes the driver's form, None
    for None). Many at once is how the import calls it: the response times are looked up
    per schedule in one pass."""
    met_late, late, on_time = State.MET_LATE, Outcome.LATE, Outcome.ON_TIME
    new_row, state_text = tuple.__new__, _STATE_TEXT
    met_minutes = iter(_response_minutes(owned, calendar))
    rows: list[ObligationRow] = []
    append = rows.append
    for owner, decisions in owned:
        if not decisions:
            continue
        inquiry_id, department, received, _, office = owner
        month = local_month_us(received)
        for d in decisions:
            rule, schedule, hours, warn, due, met, state, _ = d
            minutes = outcome = None
            if met is not None:
                minutes = next(met_minutes)
                # Met after due_at is exactly the engine's "met late".
                outcome = encode(late if state is met_late else on_time, minutes)
            # Positional, in the table's column order; tuple.__new__ builds it in C (the
            # NamedTuple's constructor is a Python call): the import builds one per obligation.
            append(
                new_row(
                    ObligationRow,
                    (
                        inquiry_id,
                        rule,
                        schedule,
                        hours,
                        times[warn],
                        times[due],
                        times[met],
                        minutes,
                        month,
                        department,
                        office,
                        outcome,
                        state_text[state],
                        times[first_look(d, received)],
                    ),
                )
            )
    return rows


def _response_minutes(
    owned: Sequence[tuple[Owner, Sequence[Decision]]], calendar: BusinessCalendar
) -> list[int | None]:
    """The response time of each met obligation, in order, per schedule at once."""
    by_schedule: dict[str, tuple[list[int], list[tuple[int, int, tuple[PauseSpan, ...]]]]] = {}
    k = 0
    for o, decisions in owned:
        for d in decisions:
            met = d.met_at
            if met is None:
                continue
            found = by_schedule.get(d.schedule)
            if found is None:  # not setdefault: that would build two lists per obligation
                found = by_schedule[d.schedule] = ([], [])
            found[0].append(k)
            found[1].append((o.received_at, met, o.pauses))
            k += 1
    minutes: list[int | None] = [None] * k
    for schedule, (positions, spans) in by_schedule.items():
        for j, m in zip(positions, response_minutes_many(calendar, schedule, spans), strict=True):
            minutes[j] = m
    return minutes


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


# Run by every action on an inquiry: built once, run with the inquiry's id (a statement
# built per call costs more than the SELECT itself; see tracker.store.db.per_dialect).
_PAUSES = (
    select(Pause).where(Pause.inquiry_id == bindparam("inquiry_id")).order_by(Pause.start, Pause.id)
)
# sync_obligations reads only the spans, with Core on the session's connection (a pause the
# action changed is flushed first): loading Pause objects cost more than the SELECT, and an
# action rarely has any.
_PAUSE_SPANS = _PAUSES.with_only_columns(Pause.start, Pause.end)
_OBLIGATIONS = select(Obligation).where(Obligation.inquiry_id == bindparam("inquiry_id"))


def pauses_of(session: Session, inquiry_id: int) -> list[Pause]:
    """In time order; among pauses with the same start (pause, resume and pause again in one
    instant) the one recorded last is last, so "the open pause" is always the newest."""
    return list(session.scalars(_PAUSES, {"inquiry_id": inquiry_id}))


def facts_of(inquiry: Inquiry, pauses: Iterable[tuple[datetime, datetime | None]]) -> InquiryFacts:
    """The engine's facts of an inquiry with its pauses' (start, end) in time order."""
    fulfilled: dict[Fulfilment, datetime] = {}
    if inquiry.replied_at is not None:
        fulfilled[Fulfilment.REPLY] = inquiry.replied_at
    if inquiry.called_back_at is not None:
        fulfilled[Fulfilment.CALLBACK] = inquiry.called_back_at
    if inquiry.answered_at is not None:
        fulfilled[Fulfilment.ANSWER] = inquiry.answered_at
    return InquiryFacts(
        channel=inquiry.channel,
        callback_requested=inquiry.callback_requested,
        received_at=inquiry.received_at,
        pauses=tuple(PauseSpan(start=start, end=end) for start, end in pauses),
        fulfilled=fulfilled,
        closed_at=inquiry.closed_at,
        answer_promised=bool(inquiry.answer_promised),
    )


def first_look(s: ObligationStatus | Decision, received_at: _T) -> _T | None:
    """When the daemon must next look at an obligation the register has just written.

    An unmet obligation is due for a look at once (its received time, always <= a sweep's
    now): its first reminder may have to go out *before* warn_at (a due_soon moved earlier
    into the sending window), which only the daemon's planner knows. The sweep then sets
    the real next instant. Indexing "look at me" this way cannot miss a row the way a
    high-water mark on ids can when concurrent transactions commit out of id order.
    """
    return None if s.met_at is not None else received_at


def decisions_of(ctx: Context, facts: InquiryFacts) -> list[Decision]:
    """sla.decide for an inquiry's facts at ``ctx.now``."""
    (decisions,) = decide([facts.in_us()], ctx.rules, ctx.calendar, to_us(ctx.now))
    return decisions


def insert_obligations(
    session: Session,
    inquiry: Inquiry,
    decided: Sequence[ObligationStatus | Decision],
    calendar: BusinessCalendar,
    pauses: Sequence[PauseSpan],
) -> list[ObligationRow]:
    """Write new obligations of ``inquiry`` (stored: its id is known); returns their rows.

    A Core INSERT built once and run at once on the session's connection: every inquiry
    registered writes one to three, and the unit of work's insert cost more than the
    statement. No obligation object is left in the session to be read back."""
    if not decided:  # every action's sync_obligations comes here, nearly always with none
        return []
    received = to_us(inquiry.received_at)
    owner = Owner(inquiry.id, inquiry.department, received, tuple(pauses), inquiry.office)
    rows = obligation_rows([(owner, [_decision(s) for s in decided])], calendar)
    if rows:
        session.connection().execute(_INSERT, [row._asdict() for row in rows])
    return rows


_INSERT = insert(Obligation)


def _decision(s: ObligationStatus | Decision) -> Decision:
    """The engine's decision in epoch µs, from evaluate's datetime form of it."""
    if isinstance(s, Decision):
        return s

    def us(moment: datetime | None) -> int | None:
        return None if moment is None else to_us(moment)

    return Decision(
        s.rule, s.schedule, s.hours, us(s.warn_at), us(s.due_at), us(s.met_at), s.state,
        us(s.next_change_at),
    )  # fmt: skip


def sync_obligations(
    session: Session, ctx: Context, inquiry: Inquiry, *, only_open: bool = False, write: bool = True
) -> list[Move]:
    """Bring the stored obligations in line with the facts, rules and calendar at ``now``.

    Returns every deadline that moved. With ``only_open`` (recompute) obligations already
    met are left as they are; with ``write=False`` (a dry run) nothing is changed. The
    deadlines are those of the inquiry's office, whatever office ``ctx`` was made for.

    A met obligation never moves (docs/deadlines.md): one still met at the same time is
    left as it was met, deadline and outcome, unless the action changed the inquiry's
    pauses (a fact its deadline is computed from). A calendar or rule change since it was
    met does not reach it through an unrelated action (an assign, an undo, a reply to
    another rule), as it does not through ``recompute``.
    """
    ctx = ctx.office(inquiry.office)
    # The facts are the inquiry object as the action left it and the pauses as stored: a
    # pause the action added, ended or removed is written first. The inquiry's own change
    # waits, and goes out with its obligations' in one flush (one flush less per action).
    pauses_changed = _pauses_changed(session)
    if pauses_changed:
        session.flush()
    spans = session.connection().execute(_PAUSE_SPANS, {"inquiry_id": inquiry.id})
    facts = facts_of(inquiry, spans)
    with session.no_autoflush:
        stored = {o.rule: o for o in session.scalars(_OBLIGATIONS, {"inquiry_id": inquiry.id})}
    moves: list[Move] = []
    added: list[Decision] = []  # rules that now apply and have no row yet (recompute)
    for s in decisions_of(ctx, facts):
        row = stored.pop(s.rule, None)
        if (
            row is not None
            and row.met_at is not None
            and (only_open or (not pauses_changed and row.met_at == stored_time(s.met_at)))
        ):
            continue  # met, and still met then: it stays as it was met
        due, warn = stored_time(s.due_at), stored_time(s.warn_at)
        if row is None or row.due_at != due or row.warn_at != warn:
            old_due = None if row is None else row.due_at
            moves.append(Move(ref=inquiry.ref, rule=s.rule, old_due_at=old_due, new_due_at=due))
        if not write:
            continue
        if row is None:
            added.append(s)
        else:
            _update(row, inquiry, s, ctx.calendar, facts.pauses)
    for rule, row in stored.items():  # a rule that no longer applies (recompute only)
        if only_open and row.met_at is not None:
            continue
        moves.append(Move(ref=inquiry.ref, rule=rule, old_due_at=row.due_at, new_due_at=None))
        if write:
            # Its reminders queued and unsent go with it (they would name a deadline that
            # no longer exists).
            outbox.cancel_for_obligation(session, row.id, reason="the rule no longer applies")
            session.delete(row)
    insert_obligations(session, inquiry, added, ctx.calendar, facts.pauses)
    return moves


def _pauses_changed(session: Session) -> bool:
    """A Pause added, changed or deleted and not yet flushed (session.dirty: the objects
    changed since the last flush, not the whole identity map)."""
    return any(isinstance(o, Pause) for o in (*session.new, *session.dirty, *session.deleted))


def _update(
    row: Obligation,
    inquiry: Inquiry,
    s: Decision,
    calendar: BusinessCalendar,
    pauses: Sequence[PauseSpan],
) -> None:
    """A stored obligation rewritten from the engine's decision: deadline, met time, minutes
    and the packed outcome may all have moved together."""
    values = obligation_values(
        s,
        inquiry_id=inquiry.id,
        department=inquiry.department,
        received_at=to_us(inquiry.received_at),
        calendar=calendar,
        pauses=pauses,
        office=inquiry.office,
    )
    for column, value in values._asdict().items():
        setattr(row, column, value)
