"""``recompute``: after a calendar or rule change, bring open obligations up to date.

Nothing moves without it: stored deadlines stay as computed until an operator runs it.
Every deadline that moves is returned (ref, rule, old, new) and recorded in the audit trail
as a ``recomputed`` event per inquiry; a dry run computes the same list and writes nothing.
"""

from __future__ import annotations

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from tracker.store.models import Inquiry
from tracker.store.register import Context, EventKind, Move, record, sync_obligations

CHUNK = 500


def recompute(
    session: Session, ctx: Context, *, dry_run: bool, office: str | None = None
) -> list[Move]:
    """Recompute the unmet obligations of every open inquiry (of ``office`` alone, if
    given), each on its own office's calendar and rules; returns every move."""
    in_office = true() if office is None else Inquiry.office == office
    moves: list[Move] = []
    last_id = 0
    while True:
        # Keyset pagination by id: each chunk is a fresh, small query.
        chunk = list(
            session.scalars(
                select(Inquiry)
                .where(Inquiry.closed_at.is_(None), Inquiry.id > last_id, in_office)
                .order_by(Inquiry.id)
                .limit(CHUNK)
            )
        )
        if not chunk:
            return moves
        for inquiry in chunk:
            moved = sync_obligations(session, ctx, inquiry, only_open=True, write=not dry_run)
            if moved and not dry_run:
                details = {"moved": [m.details() for m in moved]}
                record(session, ctx, inquiry, EventKind.RECOMPUTED, ctx.now, details=details)
            moves.extend(moved)
        last_id = chunk[-1].id
        session.flush()
        session.expunge_all()
