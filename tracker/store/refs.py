"""Readable, sortable, unique refs: ``<prefix>YYYY-NNNNNN`` per received year.

Numbers come from a counter row per scope (prefix + year), bumped with
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` inside the caller's transaction: on
PostgreSQL the row lock serialises concurrent writers, on SQLite ``BEGIN IMMEDIATE`` does.
Explicit refs that look generated (an import of an export, ``--ref 2026-000042``) raise the
counter past them, so generated refs never have to hunt for a free number.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import Any

from sqlalchemy import Integer, bindparam, case, select
from sqlalchemy.orm import Session

from tracker.errors import SvarfristError
from tracker.store.db import per_dialect
from tracker.store.models import Inquiry, RefCounter

DIGITS = 6
# Bound on skipping numbers already taken by explicit refs (a safety net, normally unused).
MAX_SKIPS = 10_000
# Refs checked against the database per query (well under SQLite's bound-parameter limit).
CHECK_CHUNK = 1000


def scope_of(prefix: str, year: int) -> str:
    return f"{prefix}{year}"


def format_ref(prefix: str, year: int, number: int) -> str:
    return f"{prefix}{year}-{number:0{DIGITS}d}"


def parse_generated(prefix: str, ref: str) -> tuple[str, int] | None:
    """(scope, number) when ``ref`` has the generated form for ``prefix``, else None."""
    match = re.fullmatch(re.escape(prefix) + r"(\d{4})-(\d{" + str(DIGITS) + r",9})", ref)
    if match is None:
        return None
    return scope_of(prefix, int(match.group(1))), int(match.group(2))


def _upsert_statement(insert: Any) -> Any:
    """The counter bumped by ``:increment``, to at least ``:at_least`` (a new row: ``:last``)."""
    table = RefCounter.__table__
    bumped = table.c.last + bindparam("increment", type_=Integer)
    at_least = bindparam("at_least", type_=Integer)
    return (
        insert(table)
        .on_conflict_do_update(
            index_elements=[table.c.scope],
            set_={"last": case((bumped < at_least, at_least), else_=bumped)},
        )
        .returning(table.c.last)
    )


# Run for every inquiry registered: built once (see db.per_dialect).
_UPSERT = per_dialect(_upsert_statement)
_TAKEN_BETWEEN = select(Inquiry.ref).where(
    Inquiry.ref.between(bindparam("first"), bindparam("last"))
)


def _upsert(session: Session, scope: str, increment: int, at_least: int = 0) -> int:
    """Add ``increment`` to the scope's counter (at least ``at_least``); returns the new value."""
    values = {
        "scope": scope,
        "last": max(increment, at_least),
        "increment": increment,
        "at_least": at_least,
    }
    # On the connection: the counter needs nothing the session has not yet written.
    last: int = session.connection().execute(_UPSERT(session), values).scalar_one()
    return last


def raise_counter(session: Session, scope: str, number: int) -> None:
    """Make sure the scope's counter is at least ``number`` (an explicit ref took it)."""
    _upsert(session, scope, 0, number)


def note_explicit(session: Session, prefix: str, ref: str) -> None:
    parsed = parse_generated(prefix, ref)
    if parsed is not None:
        raise_counter(session, *parsed)


def allocate(
    session: Session, prefix: str, year: int, count: int, taken: Collection[str] = ()
) -> Iterator[str]:
    """``count`` new refs for ``year``, in increasing order, none in the database or ``taken``."""
    scope = scope_of(prefix, year)
    wanted, skipped = count, 0
    while wanted > 0:
        last = _upsert(session, scope, wanted)
        candidates = [format_ref(prefix, year, n) for n in range(last - wanted + 1, last + 1)]
        existing: set[str] = set()
        if len(candidates[0]) == len(candidates[-1]):
            # Same width, so text order is number order: one range scan of the ref index.
            span = {"first": candidates[0], "last": candidates[-1]}
            existing.update(session.scalars(_TAKEN_BETWEEN, span))
        else:
            for start in range(0, len(candidates), CHECK_CHUNK):
                chunk = candidates[start : start + CHECK_CHUNK]
                existing.update(session.scalars(select(Inquiry.ref).where(Inquiry.ref.in_(chunk))))
        for candidate in candidates:
            if candidate in existing or candidate in taken:
                skipped += 1
                continue
            wanted -= 1
            yield candidate
        if skipped > MAX_SKIPS:
            raise SvarfristError(f"could not find a free ref for {scope} after {skipped} tries")


def next_ref(session: Session, prefix: str, year: int) -> str:
    return next(allocate(session, prefix, year, 1))
