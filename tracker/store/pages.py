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
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, ScalarSelect, and_, func, or_, select, true
from sqlalchemy.orm import Session

from tracker.errors import BadInputError
from tracker.store import queries
from tracker.store.models import Inquiry, Obligation
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
            return cls(due_at=at, id=int(ident))
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
    ids = queries.list_query(state, now, advisor, scope=scope).order_by(None)
    if department is not None:
        ids = ids.where(Inquiry.department == department)
    listed = ids.add_columns(next_deadline().label("due")).subquery()
    due, ident = listed.c.due, listed.c.id
    position: ColumnElement[bool] = true()
    if after is not None and after.due_at is None:
        position = and_(due.is_(None), ident > after.id)
    elif after is not None:
        position = or_(
            due > after.due_at, and_(due == after.due_at, ident > after.id), due.is_(None)
        )
    rows = session.execute(
        select(ident, due).where(position).order_by(due.is_(None), due, ident).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    views = queries.views(session, [r.id for r in rows], now)
    last = rows[-1] if rows else None
    return Page(
        views=views,
        next=Cursor(due_at=last.due, id=last.id) if more and last is not None else None,
    )
