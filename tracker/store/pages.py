"""Inquiries page by page, sorted by next deadline: the HTTP API's list.

The state filter is ``queries.list_query``'s (one definition of open, due soon, overdue,
closed). The order is the next deadline (the earliest due_at among unmet obligations),
inquiries without one last, then the id; a page continues after the last item of the one
before (keyset paging), so a page costs the same deep in a long list and an inquiry
registered meanwhile is neither skipped nor shown twice.
"""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from tracker.core.calendar import FIRST_YEAR, LAST_YEAR
from tracker.errors import BadInputError
from tracker.store import queries
from tracker.store.models import MAX_ID, Inquiry, Obligation
from tracker.store.scope import EVERYTHING, Scope


@dataclass(frozen=True, kw_only=True)
class Cursor:
    """Where a page ended: the last item's next deadline and id. Opaque to clients."""

    due_at: datetime | None
    id: int

    def encode(self) -> str:
        due = "-" if self.due_at is None else self.due_at.astimezone(UTC).isoformat()
        return base64.urlsafe_b64encode(f"1:{due}:{self.id}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            version, _, rest = raw.partition(":")
            due, _, ident = rest.rpartition(":")
            if version != "1":
                raise ValueError(version)
            at = None if due == "-" else datetime.fromisoformat(due)
            if at is not None and at.tzinfo is None:
                raise ValueError(due)
            # Every deadline lies in the years the calendar builds working time in (one may
            # fall in 2100, after the last year a time may be typed in); year 1 at +14:00
            # would overflow in the database driver.
            if at is not None and not FIRST_YEAR <= at.year <= LAST_YEAR:
                raise ValueError(due)
            number = int(ident)
            if not 0 <= number <= MAX_ID:  # no id of ours: the database would fail on it
                raise ValueError(ident)
            return cls(due_at=at, id=number)
        except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
            error = BadInputError("cursor: not a cursor this server gave out")
            error.field = "cursor"
            raise error from None


@dataclass(frozen=True, kw_only=True)
class Page:
    views: list[queries.InquiryView]
    next: Cursor | None


def next_deadline() -> ScalarSelect[datetime | None]:
    """The earliest due_at among an inquiry's unmet obligations (NULL: none, or paused)."""
    return (
        select(func.min(Obligation.due_at))
        .where(Obligation.inquiry_id == Inquiry.id, Obligation.met_at.is_(None))
        .correlate(Inquiry)
        .scalar_subquery()
    )


def page(
    session: Session,
    *,
    state: queries.ListState,
    now: datetime,
    limit: int,
    advisor: str | None = None,
    department: str | None = None,
    after: Cursor | None = None,
    scope: Scope = EVERYTHING,
) -> Page:
    """Up to ``limit`` inquiries in ``state`` at ``now`` after ``after``, by next deadline."""
    start = "start" if after is None else "undated" if after.due_at is None else "dated"
    statement = _statement(state, advisor is not None, department is not None, scope.shape, start)
    parameters = {
        "now": now,
        "advisor": advisor,
        "department": department,
        **scope.values("scope"),
        "after_due": after.due_at if after is not None else None,
        "after_id": after.id if after is not None else None,
        "limit": limit + 1,
    }
    # Core columns only: on the session's connection, without the ORM's result loading.
    rows = session.connection().execute(statement, parameters).all()
    found = queries.views_by_id((r[1:] for r in rows), now)  # past the leading ``due``
    more = len(found) > limit
    ids = list(found)[:limit]
    last = next(r for r in reversed(rows) if r.id == ids[-1]) if more else None
    return Page(
        views=[found[i] for i in ids],
        next=Cursor(due_at=last.due, id=last.id) if last is not None else None,
    )


@functools.cache
def _statement(
    state: queries.ListState, advisor: bool, department: bool, scope: Scope, start: str
) -> Select[Any]:
    """page()'s one statement for this kind of request, built once per process (an immutable
    statement: SQLAlchemy's compiled cache finds it without walking it again); the values
    are its parameters. The page of ids by next deadline, each with its view's columns."""
    ids = queries.list_query(
        state,
        bindparam("now"),
        bindparam("advisor") if advisor else None,
        scope=scope,
        scope_parameter="scope",
    ).order_by(None)
    if department:
        ids = ids.where(Inquiry.department == bindparam("department"))
    listed = ids.add_columns(next_deadline().label("due")).subquery()
    due, ident = listed.c.due, listed.c.id
    position: ColumnElement[bool] | None = None
    if start == "undated":
        position = and_(due.is_(None), ident > bindparam("after_id"))
    elif start == "dated":
        after_due: BindParameter[datetime] = bindparam("after_due")
        position = or_(
            due > after_due, and_(due == after_due, ident > bindparam("after_id")), due.is_(None)
        )
    chosen = (
        (select(ident, due) if position is None else select(ident, due).where(position))
        .order_by(due.is_(None), due, ident)
        .limit(bindparam("limit"))
        .subquery()
    )
    return (
        select(chosen.c.due, *queries.VIEW_COLUMNS)
        .select_from(
            chosen.join(queries.INQUIRIES, queries.INQUIRIES.c.id == chosen.c.id).outerjoin(
                queries.OBLIGATIONS, queries.OBLIGATIONS.c.inquiry_id == queries.INQUIRIES.c.id
            )
        )
        .order_by(chosen.c.due.is_(None), chosen.c.due, chosen.c.id, queries.OBLIGATIONS.c.id)
    )
