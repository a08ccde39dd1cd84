"""The e-mail outbox: exactly one row per message key, claimed by one sender at a time.

Life of a row: ``pending`` (waiting for ``send_at``) -> ``sending`` (claimed; the claim is
committed *before* any SMTP traffic) -> ``sent`` | ``failed`` | ``cancelled``; a transient
failure puts it back to ``pending`` with a later ``send_at``. A ``sending`` row whose claim is
older than the lease belonged to a sender that died, and may be claimed again: delivery is
at least once, duplicates are bounded by what one sender had in flight.

Claiming: PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED`` inside a conditional UPDATE, so
replicas get disjoint rows without waiting for each other. SQLite has no row locks and drops
``FOR UPDATE`` silently; there the UPDATE ... WHERE state ... RETURNING runs under the
database's single writer lock (BEGIN IMMEDIATE), and one daemon per file is supported.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Table,
    Update,
    and_,
    bindparam,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from tracker.store.db import per_dialect, upsert_insert
from tracker.store.models import DaemonState, Inquiry, OutboxMessage

_T = cast(Table, OutboxMessage.__table__)
"""The outbox as a Core table: the hot paths (claim, mark_sent) skip ORM overhead."""
# last_error is a String(500) column.
_ERROR_LIMIT = 500


SELF_DELIVERED = ("acknowledgement",)
"""Kinds a claim without ``kinds`` leaves alone: mail intake sends its acknowledgements
itself (their address is read from the mailbox at sending time, never stored)."""


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff for transient failures, capped; ``max_attempts`` then failed."""

    first_delay: timedelta = timedelta(minutes=1)
    factor: float = 2.0
    max_delay: timedelta = timedelta(hours=1)
    max_attempts: int = 10

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1 -> first_delay)."""
        seconds = self.first_delay.total_seconds() * self.factor ** max(attempts - 1, 0)
        return min(timedelta(seconds=seconds), self.max_delay)

    def gives_up(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


def existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` are already in the outbox (queued, sent or failed): one lookup."""
    wanted = list(keys)
    found = session.scalars(select(OutboxMessage.key).where(OutboxMessage.key.in_(wanted)))
    return set(found)


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    recipient: str,
    payload: Mapping[str, Any],
    send_at: datetime,
    inquiry_id: int | None = None,
    obligation_id: int | None = None,
    created_at: datetime | None = None,
) -> bool:
    """Add a message unless one with ``key`` exists (one that was cancelled unsent is queued
    again: :func:`_insert_or_revive`); True when this call added it.

    ``INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE cancelled RETURNING id`` on both
    dialects, inside the caller's transaction, so the row commits together with the state
    change that caused it. ``payload`` must hold identifiers, configured names, times and
    figures only: never free text from an inquiry. ``created_at`` defaults to ``send_at``
    (no clock is read here).
    """
    session.flush()  # what the ORM's own statements do first (the inquiry's row, say)
    values = {
        "key": key,
        "kind": kind,
        "recipient": recipient,
        "payload": dict(payload),
        "send_at": send_at,
        "inquiry_id": inquiry_id,
        "obligation_id": obligation_id,
        "state": OutboxState.PENDING,
        "attempts": 0,
        "created_at": created_at or send_at,
    }
    return session.connection().execute(_ENQUEUE(session), values).first() is not None


def _insert_or_revive(insert: Any) -> Any:
    """INSERT a row unless its key exists; a row of the key that was cancelled is queued
    again instead. A reminder is cancelled unsent when its obligation was met before it went
    out; when ``undo`` or ``reopen`` makes the obligation unmet again, the sweep plans the
    same key once more, and it must go out (it never did), where DO NOTHING dropped it.
    A row that was sent, is being sent or failed is left alone: never sent twice."""
    stmt = insert(_T)
    return stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "kind": stmt.excluded.kind,
            "recipient": stmt.excluded.recipient,
            "payload": stmt.excluded.payload,
            "send_at": stmt.excluded.send_at,
            "inquiry_id": stmt.excluded.inquiry_id,
            "obligation_id": stmt.excluded.obligation_id,
            "state": OutboxState.PENDING.value,
            "attempts": 0,
            "claimed_at": None,
            "last_error": None,
        },
        where=_T.c.state == OutboxState.CANCELLED.value,
    ).returning(_T.c.id)


_ENQUEUE = per_dialect(_insert_or_revive)


def enqueue_many(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Bulk :func:`enqueue`: each mapping has enqueue's keyword arguments (``created_at``
    required); rows whose key exists are skipped (a cancelled one is queued again, as
    :func:`enqueue` does). Returns how many were added."""
    if not rows:
        return 0
    values = [
        {
            "state": OutboxState.PENDING.value,
            "attempts": 0,
            "inquiry_id": None,
            "obligation_id": None,
            **row,
            "payload": dict(row["payload"]),
        }
        for row in rows
    ]
    return len(session.execute(_ENQUEUE(session), values).all())


def _claimable(now: datetime, lease: timedelta) -> Any:
    return or_(
        and_(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.send_at <= now),
        and_(
            OutboxMessage.state == OutboxState.SENDING,
            OutboxMessage.claimed_at < now - lease,
        ),
    )


def claim(
    session: Session,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    kinds: Sequence[str] | None = None,
    keys: Collection[str] | None = None,
) -> list[Row[Any]]:
    """Claim up to ``limit`` due rows (oldest first) for this sender; commit before sending.

    Each claim counts as an attempt. Rows locked by another replica are skipped, not waited
    for; the outer WHERE repeats the condition so a row claimed meanwhile is not taken twice.
    ``kinds``: only these; by default every kind but :data:`SELF_DELIVERED`. ``keys``: only
    the rows of these keys (a team member's copy, claimed with the row it copies).
    """
    due = and_(
        _claimable(now, lease),
        _T.c.kind.in_(kinds) if kinds is not None else _T.c.kind.not_in(SELF_DELIVERED),
        _T.c.key.in_(sorted(keys)) if keys is not None else true(),
    )
    # A CTE, not ``id IN (subquery)``: PostgreSQL may run an IN subquery once per outer row,
    # locking and re-scanning as it goes; the CTE picks and locks the batch exactly once.
    picked = (
        select(_T.c.id)
        .where(due)
        .order_by(_T.c.send_at, _T.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("picked")
    )
    stmt = (
        update(_T)
        .where(_T.c.id == picked.c.id, due)
        .values(state=OutboxState.SENDING, claimed_at=now, attempts=_T.c.attempts + 1)
        .returning(
            _T.c.id,
            _T.c.key,
            _T.c.kind,
            _T.c.recipient,
            _T.c.payload,
            _T.c.send_at,
            _T.c.attempts,
            _T.c.message_id,
            _T.c.obligation_id,
            _T.c.inquiry_id,
        )
    )
    rows = list(session.execute(stmt).all())
    rows.sort(key=lambda r: (r.send_at, r.id))
    return rows


def set_message_ids(session: Session, ids: Mapping[int, str]) -> None:
    """Store the Message-ID chosen for each row, so a retry reuses it."""
    if not ids:
        return
    session.execute(
        update(_T)
        .where(_T.c.id == bindparam("row_id"), _T.c.message_id.is_(None))
        .values(message_id=bindparam("mid")),
        [{"row_id": row_id, "mid": mid} for row_id, mid in ids.items()],
    )


# Built once: the per-message hot path then skips statement construction and cache keys.
_MARK_SENT = (
    update(_T)
    .where(_T.c.id == bindparam("row_id"))
    .values(
        state=OutboxState.SENT.value,
        sent_at=bindparam("sent_at"),
        message_id=bindparam("mid"),
        last_error=None,
    )
)


class Sent(NamedTuple):
    """A row handed to SMTP: when, and with which Message-ID."""

    row_id: int
    message_id: str
    at: datetime


def mark_sent(session: Session | Connection, sent: Sequence[Sent]) -> None:
    """Rows handed to SMTP, in one statement (the messages of several outcomes)."""
    session.execute(
        _MARK_SENT, [{"row_id": s.row_id, "sent_at": s.at, "mid": s.message_id} for s in sent]
    )


def sent_of_kind(session: Session, kind: str) -> list[tuple[int, str, datetime]]:
    """(row id, ref, sent_at) of the sent rows of ``kind`` still kept, locked (mail intake
    erases its acknowledgements once their ``reply`` is fulfilled)."""
    rows = session.execute(
        select(_T.c.id, _T.c.payload, _T.c.sent_at)
        .where(_T.c.kind == kind, _T.c.state == OutboxState.SENT)
        .order_by(_T.c.id)
        .with_for_update(skip_locked=True)  # two readers: each row settled by one
    )
    return [(int(i), str(p["ref"]), at) for i, p, at in rows]


def mark_failed(session: Session | Connection, row_ids: Sequence[int], *, error: str) -> None:
    """A permanent failure: recorded, shown by status/show/list, never retried."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(row_ids))
        .values(state=OutboxState.FAILED, last_error=error[:_ERROR_LIMIT])
    )


@dataclass(frozen=True, kw_only=True)
class Retry:
    """One row to retry: its attempts so far (counted at claim) and the payload to store.

    The payload carries ``due_since``, the send time before the first failure: backoff moves
    ``send_at``, and ``status`` must still see how long the message has waited.
    """

    attempts: int
    payload: Mapping[str, Any]


def mark_retry(
    session: Session | Connection,
    rows: Mapping[int, Retry],
    *,
    error: str,
    now: datetime,
    policy: RetryPolicy,
) -> int:
    """A transient failure: back to pending after the backoff, or failed once out of attempts.

    Returns how many gave up.
    """
    gave_up = 0
    for row_id, retry in rows.items():
        if policy.gives_up(retry.attempts):
            gave_up += 1
            mark_failed(
                session, [row_id], error=f"gave up after {retry.attempts} attempts: {error}"
            )
            continue
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)
            .values(
                state=OutboxState.PENDING,
                send_at=now + policy.delay(retry.attempts),
                claimed_at=None,
                last_error=error[:_ERROR_LIMIT],
                payload=dict(retry.payload),
            )
        )
    return gave_up


def release(session: Session, row_ids: Sequence[int]) -> None:
    """Give claimed rows back untried (shutdown): pending again, the attempt not counted."""
    if not row_ids:
        return
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(row_ids), OutboxMessage.state == OutboxState.SENDING)
        .values(
            state=OutboxState.PENDING,
            claimed_at=None,
            attempts=OutboxMessage.attempts - 1,
        )
    )


def cancel(session: Session, row_ids: Sequence[int], *, reason: str) -> None:
    """No longer to be sent (the obligation was met, or a due_soon's deadline passed)."""
    if not row_ids:
        return
    session.execute(_cancelling(reason).where(OutboxMessage.id.in_(row_ids)))


def cancel_for_obligation(session: Session, obligation_id: int, *, reason: str) -> None:
    """An obligation is going away (a recompute found its rule no longer applies): its
    messages not yet claimed will never be due. One being sent goes out as it is."""
    session.execute(
        _cancelling(reason)
        .where(
            OutboxMessage.obligation_id == obligation_id,
            OutboxMessage.state == OutboxState.PENDING,
        )
        .execution_options(synchronize_session=False)
    )


def _cancelling(reason: str) -> Update:
    """The UPDATE that cancels rows (its WHERE to add): never to be sent, and why."""
    return update(OutboxMessage).values(
        state=OutboxState.CANCELLED, last_error=reason[:_ERROR_LIMIT]
    )


# -- health and display -----------------------------------------------------------------------
# How many retrying rows ``backlog`` reads to find the longest wait (an outage retries them all).
_RETRYING_SCAN = 10_000


@dataclass(frozen=True, kw_only=True)
class Retrying:
    """A message that failed transiently and waits for its next attempt."""

    kind: str
    recipient: str
    attempts: int
    error: str
    key: str
    next_attempt_at: datetime
    due_since: datetime


@dataclass(frozen=True, kw_only=True)
class Backlog:
    due: int
    """Pending rows whose send time has come, plus rows being sent."""
    scheduled: int
    """Pending rows waiting for a later send time (outside the window, backing off)."""
    failed: int
    oldest_due_at: datetime | None
    """The longest-waiting undelivered message: due and unsent, or retrying, since then."""
    retrying: tuple[Retrying, ...] = ()
    """Messages waiting for another attempt after a transient failure, longest waiting first."""


def of_office(office: str | None) -> ColumnElement[bool]:
    """A WHERE condition: every message (None), or those about office ``office``'s
    inquiries (reminders, escalations and their cover copies; a digest or a report is about
    no one inquiry)."""
    if office is None:
        return true()
    return OutboxMessage.inquiry_id.in_(select(Inquiry.id).where(Inquiry.office == office))


def backlog(session: Session, now: datetime, office: str | None = None) -> Backlog:
    """The undelivered messages (of ``office``'s inquiries alone, if given: :func:`of_office`)."""
    mine = of_office(office)
    counts = dict(
        session.execute(
            select(OutboxMessage.state, func.count())
            .where(OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]), mine)
            .where(or_(OutboxMessage.state == OutboxState.SENDING, OutboxMessage.send_at <= now))
            .group_by(OutboxMessage.state)
        ).all()
    )
    scheduled = session.scalar(
        select(func.count()).where(
            OutboxMessage.state == OutboxState.PENDING, OutboxMessage.send_at > now, mine
        )
    )
    failed = session.scalar(
        select(func.count()).where(OutboxMessage.state == OutboxState.FAILED, mine)
    )
    oldest = session.scalar(
        select(func.min(OutboxMessage.send_at)).where(
            OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
            OutboxMessage.send_at <= now,
            mine,
        )
    )
    retrying = _retrying(session, mine)
    waits = [r.due_since for r in retrying] + ([oldest] if oldest is not None else [])
    return Backlog(
        due=sum(int(c) for c in counts.values()),
        scheduled=int(scheduled or 0),
        failed=int(failed or 0),
        oldest_due_at=min(waits) if waits else None,
        retrying=retrying,
    )


def _retrying(session: Session, mine: ColumnElement[bool]) -> tuple[Retrying, ...]:
    rows = session.execute(
        select(
            OutboxMessage.kind,
            OutboxMessage.recipient,
            OutboxMessage.attempts,
            OutboxMessage.last_error,
            OutboxMessage.key,
            OutboxMessage.send_at,
            OutboxMessage.payload,
        )
        .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.attempts > 0, mine)
        .limit(_RETRYING_SCAN)
    )
    found = [
        Retrying(
            kind=kind,
            recipient=recipient,
            attempts=attempts,
            error=error or "",
            key=key,
            next_attempt_at=send_at,
            due_since=_due_since(payload, send_at),
        )
        for kind, recipient, attempts, error, key, send_at, payload in rows
    ]
    found.sort(key=lambda r: (r.due_since, r.key))
    return tuple(found)


def _due_since(payload: Mapping[str, Any] | None, send_at: datetime) -> datetime:
    since = (payload or {}).get("due_since")
    if not since:
        return send_at
    parsed = datetime.fromisoformat(str(since))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=send_at.tzinfo)


@dataclass(frozen=True, kw_only=True)
class Failure:
    """A delivery that failed for good, for ``status``, ``show`` and ``list``."""

    inquiry_id: int | None
    kind: str
    recipient: str
    attempts: int
    error: str
    key: str


def failures(session: Session, *, limit: int = 20, office: str | None = None) -> list[Failure]:
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.state == OutboxState.FAILED, of_office(office))
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    return [_failure(r) for r in rows]


def delivery_failures(
    session: Session, refs: Iterable[str] | None = None
) -> dict[str, list[Failure]]:
    """Failed deliveries per inquiry ref (all refs, or those given), for ``show``/``list``."""
    query = (
        select(OutboxMessage, Inquiry.ref)
        .join(Inquiry, OutboxMessage.inquiry_id == Inquiry.id)
        .where(OutboxMessage.state == OutboxState.FAILED)
        .order_by(OutboxMessage.id)
    )
    if refs is not None:
        query = query.where(Inquiry.ref.in_(list(refs)))
    found: dict[str, list[Failure]] = {}
    for row, ref in session.execute(query):
        found.setdefault(ref, []).append(_failure(row))
    return found


def _failure(row: OutboxMessage) -> Failure:
    return Failure(
        inquiry_id=row.inquiry_id,
        kind=row.kind,
        recipient=row.recipient,
        attempts=row.attempts,
        error=row.last_error or "",
        key=row.key,
    )


# -- daemon facts ------------------------------------------------------------------------------
def put_state(session: Session, name: str, at: datetime, value: Mapping[str, Any]) -> None:
    """Upsert one DaemonState row (safe with several replicas)."""
    put_states(session, at, {name: value})


def put_states(session: Session, at: datetime, values: Mapping[str, Mapping[str, Any]]) -> None:
    """Upsert DaemonState rows: one statement, compiled once, executed for each row (an
    executemany), in name order, so two replicas writing the same rows wait for each other
    rather than deadlock."""
    if not values:
        return
    stmt = upsert_insert(session)(DaemonState)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"], set_={"at": stmt.excluded.at, "value": stmt.excluded.value}
    )
    rows = [{"name": name, "at": at, "value": dict(values[name])} for name in sorted(values)]
    session.execute(stmt, rows)


def get_state(session: Session, name: str) -> DaemonState | None:
    return session.get(DaemonState, name)


def get_states(session: Session, family: str) -> dict[str, dict[str, Any] | None]:
    """The values of the DaemonState rows named ``family`` or ``family:<key>`` (one per
    office, say), by name, in one query whose text does not depend on the keys (a table of a
    few rows: no index needed)."""
    rows = session.execute(
        select(DaemonState.name, DaemonState.value).where(
            or_(DaemonState.name == family, DaemonState.name.like(f"{family}:%"))
        )
    )
    return {name: value for name, value in rows}
