"""Reading the register: ``show`` and ``list``, with every state derived at ``now``.

The state stored on an obligation is a cache the daemon's sweep refreshes; what is reported
"now" is computed here from the stored times (overdue = unmet and due_at <= now), so it is
right even when no daemon runs. Lists stream in chunks: a million rows never sit in memory.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import BindParameter, Row, Select, Table, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from tracker.errors import UnknownRefError
from tracker.sla import Deadline, State, classify
from tracker.store.models import Inquiry, Obligation, Pause
from tracker.store.scope import EVERYTHING, Scope

CHUNK = 1000
INQUIRIES: Table = Inquiry.__table__  # type: ignore[assignment]
OBLIGATIONS: Table = Obligation.__table__  # type: ignore[assignment]


# What views() reads, in one statement built once: each inquiry with its obligations (a
# LEFT JOIN: one row per obligation, one with NULLs for an inquiry without any), the ids an
# expanding parameter. Only the columns a view holds (each time column is parsed per row on
# SQLite); a statement built per request costs more than its SQL (bench/web.py).
VIEW_COLUMNS = (
    *(INQUIRIES.c[name] for name in (
        "id", "ref", "channel", "department", "topic", "advisor", "callback_requested",
        "received_at", "replied_at", "called_back_at", "closed_at", "note", "purged_at",
        "answer_promised", "answered_at", "office",
    )),
    OBLIGATIONS.c.id.label("obligation_id"),
    *(OBLIGATIONS.c[name] for name in (
        "rule", "schedule", "hours", "warn_at", "due_at", "met_at",
    )),
)  # fmt: skip
"""The columns of an inquiry's view and of its obligations' (views_of reads them)."""
# A row of VIEW_COLUMNS as a plain named tuple, whose fields read as fast as a tuple's: a
# SQLAlchemy Row's named attribute costs about ten times its index (some 25 reads per
# inquiry, a third of a list's time in the API: bench/web.py). Same names as the columns,
# so _view and obligation_view read it as they read a Row or the ORM objects.
_ViewRow: Any = cast(Any, namedtuple)("_ViewRow", [c.key for c in VIEW_COLUMNS])
_VIEW_ROWS = (
    select(*VIEW_COLUMNS)
    .select_from(INQUIRIES.outerjoin(OBLIGATIONS, OBLIGATIONS.c.inquiry_id == INQUIRIES.c.id))
    .where(INQUIRIES.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(OBLIGATIONS.c.id)
)


class ListState(StrEnum):
    OPEN = "open"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    CLOSED = "closed"
    ALL = "all"


@dataclass(frozen=True, kw_only=True)
class ObligationView:
    rule: str
    warn_at: datetime | None
    due_at: datetime | None
    met_at: datetime | None
    state: State


@dataclass(frozen=True, kw_only=True)
class PauseView:
    start: datetime
    end: datetime | None


@dataclass(frozen=True, kw_only=True)
class InquiryView:
    ref: str
    channel: str
    department: str
    topic: str | None
    advisor: str | None
    callback_requested: bool
    received_at: datetime
    replied_at: datetime | None
    called_back_at: datetime | None
    closed_at: datetime | None
    note: str | None
    purged_at: datetime | None
    obligations: tuple[ObligationView, ...]
    pauses: tuple[PauseView, ...] = ()
    answer_promised: bool = False
    """An acknowledgement promised an answer by a date (mail intake): the ``answer`` rule."""
    answered_at: datetime | None = None
    office: str = "default"

    @property
    def status(self) -> str:
        return "open" if self.closed_at is None else "closed"


DEADLINE_COLUMNS = (
    Obligation.rule,
    Obligation.schedule,
    Obligation.hours,
    Obligation.warn_at,
    Obligation.due_at,
)
"""The columns of an obligation's :class:`~tracker.sla.Deadline`, in its fields' order."""


def deadline_of(o: Any) -> Deadline:
    """The stored obligation's deadline, for sla.classify: an Obligation, or a row of
    DEADLINE_COLUMNS (or more) read by name."""
    return Deadline(
        rule=o.rule, schedule=o.schedule, hours=o.hours, warn_at=o.warn_at, due_at=o.due_at
    )


def obligation_view(o: Obligation | Row[Any], now: datetime) -> ObligationView:
    """One obligation with its state at ``now``, from its stored times (sla.classify)."""
    state, _ = classify(deadline_of(o), o.met_at, now)
    return ObligationView(
        rule=o.rule, warn_at=o.warn_at, due_at=o.due_at, met_at=o.met_at, state=state
    )


def _view(
    i: Inquiry | Row[Any],
    obligations: Sequence[Obligation | Row[Any]],
    now: datetime,
    pauses: Sequence[Pause] = (),
) -> InquiryView:
    return InquiryView(
        ref=i.ref,
        channel=i.channel,
        department=i.department,
        topic=i.topic,
        advisor=i.advisor,
        callback_requested=i.callback_requested,
        received_at=i.received_at,
        replied_at=i.replied_at,
        called_back_at=i.called_back_at,
        closed_at=i.closed_at,
        note=i.note,
        purged_at=i.purged_at,
        obligations=tuple(obligation_view(o, now) for o in obligations),
        pauses=tuple(PauseView(start=p.start, end=p.end) for p in pauses),
        answer_promised=bool(i.answer_promised),
        answered_at=i.answered_at,
        office=i.office,
    )


def show(session: Session, ref: str, now: datetime, scope: Scope = EVERYTHING) -> InquiryView:
    """One inquiry with its obligations (state at ``now``) and pauses; out of ``scope`` an
    unknown ref."""
    inquiry = session.scalar(
        select(Inquiry).where(Inquiry.ref == ref, scope.clause(Inquiry.department))
    )
    if inquiry is None:
        raise UnknownRefError(ref)
    obligations = session.scalars(
        select(Obligation).where(Obligation.inquiry_id == inquiry.id).order_by(Obligation.id)
    ).all()
    pauses = session.scalars(
        select(Pause).where(Pause.inquiry_id == inquiry.id).order_by(Pause.start, Pause.id)
    ).all()
    return _view(inquiry, obligations, now, pauses)


def list_query(
    state: ListState,
    now: datetime | BindParameter[datetime],
    advisor: str | BindParameter[str] | None = None,
    *,
    department: str | BindParameter[str] | None = None,
    by_deadline: bool = False,
    scope: Scope = EVERYTHING,
    scope_parameter: str | None = None,
) -> Select[int]:
    """Ids of the inquiries in ``state`` at ``now``, oldest received first; ``by_deadline``:
    earliest pending deadline first, those with none (closed, paused) last.

    ``now``, ``advisor`` and ``department`` may be bound parameters, and the scope's
    departments one named ``scope_parameter`` (Scope.clause): a statement built once per
    kind of request and run with their values (pages.page)."""
    stmt = select(Inquiry.id)
    unmet = Obligation.met_at.is_(None)
    if state is ListState.OPEN:
        stmt = stmt.where(Inquiry.closed_at.is_(None))
    elif state is ListState.CLOSED:
        stmt = stmt.where(Inquiry.closed_at.is_not(None))
    elif state is ListState.OVERDUE:
        # partial index obligations(due_at) WHERE met_at IS NULL: a range scan over the
        # overdue rows only
        late = select(Obligation.inquiry_id).where(unmet, Obligation.due_at <= now)
        stmt = stmt.where(Inquiry.id.in_(late))
    elif state is ListState.DUE_SOON:
        soon = select(Obligation.inquiry_id).where(
            unmet,
            Obligation.warn_at <= now,
            or_(Obligation.due_at.is_(None), Obligation.due_at > now),
        )
        stmt = stmt.where(Inquiry.id.in_(soon))
    if advisor is not None:
        stmt = stmt.where(Inquiry.advisor == advisor)
    if department is not None:
        stmt = stmt.where(Inquiry.department == department)
    stmt = stmt.where(scope.clause(Inquiry.department, scope_parameter))
    if by_deadline:
        next_due = (
            select(func.min(Obligation.due_at))
            .where(Obligation.inquiry_id == Inquiry.id, unmet)
            .scalar_subquery()
        )
        stmt = stmt.order_by(next_due.is_(None), next_due)
    return stmt.order_by(Inquiry.received_at, Inquiry.id)


def list_inquiries(
    session: Session,
    state: ListState,
    now: datetime,
    advisor: str | None = None,
    *,
    department: str | None = None,
    by_deadline: bool = False,
    scope: Scope = EVERYTHING,
) -> Iterator[InquiryView]:
    """The inquiries in ``state`` at ``now`` (within ``scope``), streamed in chunks of CHUNK."""
    query = _list_statement(
        state, advisor is not None, department is not None, by_deadline, scope.shape
    )
    parameters = {
        "now": now,
        "advisor": advisor,
        "department": department,
        **scope.values("scope"),
    }
    # Core columns only: on the session's connection, without the ORM's result loading.
    stream = session.connection().execute(query, parameters, execution_options={"yield_per": CHUNK})
    for partition in stream.scalars().partitions():
        yield from views(session, list(partition), now)


@functools.cache
def _list_statement(
    state: ListState, advisor: bool, department: bool, by_deadline: bool, scope: Scope
) -> Select[int]:
    """list_inquiries' statement for this kind of request, built once per process with bound
    parameters (an immutable statement: SQLAlchemy's compiled cache finds it without walking
    a new one each time)."""
    return list_query(
        state,
        bindparam("now"),
        bindparam("advisor") if advisor else None,
        department=bindparam("department") if department else None,
        by_deadline=by_deadline,
        scope=scope,
        scope_parameter="scope",
    )


def views(session: Session, ids: Sequence[int], now: datetime) -> list[InquiryView]:
    """The inquiries with these ids, in the order given, in one query."""
    # Core columns only: on the session's connection, without the ORM's result loading.
    found = views_by_id(session.connection().execute(_VIEW_ROWS, {"ids": list(ids)}), now)
    return [found[i] for i in ids]


def views_by_id(rows: Iterable[Sequence[Any]], now: datetime) -> dict[int, InquiryView]:
    """The views of rows of VIEW_COLUMNS, in that order (an inquiry's rows together, its
    obligations in order), by inquiry id, in the order the inquiries first appear."""
    # Core rows, not ORM objects: a long list needs no identity map or change tracking.
    inquiries: dict[int, Any] = {}
    by_inquiry: dict[int, list[Any]] = {}
    new = tuple.__new__
    for values in rows:
        r = new(_ViewRow, values)
        if r.id not in inquiries:
            inquiries[r.id] = r
            by_inquiry[r.id] = []
        if r.obligation_id is not None:
            by_inquiry[r.id].append(r)
    return {key: _view(i, by_inquiry[key], now) for key, i in inquiries.items()}


def next_actions(session: Session, now: datetime, limit: int = 100) -> list[Obligation]:
    """Obligations whose state can have changed by ``now``, earliest first (the sweep's query).

    Index obligations(next_action_at): a range scan that costs the same with a thousand or
    a million open inquiries.
    """
    return list(
        session.scalars(
            select(Obligation)
            .where(and_(Obligation.next_action_at.is_not(None), Obligation.next_action_at <= now))
            .order_by(Obligation.next_action_at)
            .limit(limit)
        )
    )
