"""Delivery: claim due outbox rows, render them, send them over one SMTP connection.

Order of a delivery round (HC ``Channel.notify``): the claim is committed first (the row is
``sending``, the attempt counted, the Message-ID fixed), then the SMTP conversation, then the
outcome is committed per message. A crash between the two commits leaves a ``sending`` row
that is claimed again after the lease: at least once, never lost; the Message-ID stays the
same so a receiving system can recognise the duplicate.

Errors: a 4xx reply, a timeout or a dropped connection is transient (retried with the
:class:`~tracker.store.outbox.RetryPolicy`); a 5xx reply (recipient refused, message rejected) is
permanent (the row fails and is shown by ``status``/``show``/``list``). Bad credentials are a
configuration problem: transient, logged as an error, so fixing the config resumes delivery.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection as DbConnection
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tracker.core.reminders import OBLIGATION_KINDS, Batch, Kind, Pending, consolidate
from tracker.mail.render import Envelope, MailConfig, message_id, render, render_catch_up
from tracker.mail.smtp import (
    Connection,
    Connector,
    DeliveryError,
    SmtpConfig,
    SmtpConnection,
    client_options,
    smtp_connector,
)
from tracker.store import outbox
from tracker.store.db import transaction
from tracker.store.models import Obligation

log = logging.getLogger(__name__)

__all__ = [  # the transport is re-exported: callers import it from here
    "Connection",
    "Connector",
    "DeliveryError",
    "SmtpConfig",
    "SmtpConnection",
    "client_options",
    "deliver",
    "smtp_connector",
]

# How many rows one claim takes; a sweep claims again until nothing is due.
CLAIM_BATCH = 200
# Reconnect attempts per delivery round after the server dropped the connection.
MAX_RECONNECTS = 2


@dataclass(frozen=True, kw_only=True)
class DeliveryPolicy:
    retry: outbox.RetryPolicy
    lease: timedelta
    catch_up_after: timedelta


@dataclass(frozen=True, kw_only=True)
class DeliveryReport:
    sent: int = 0
    messages: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    released: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            sent=self.sent + other.sent,
            messages=self.messages + other.messages,
            retried=self.retried + other.retried,
            failed=self.failed + other.failed,
            cancelled=self.cancelled + other.cancelled,
            released=self.released + other.released,
        )


@dataclass(frozen=True, kw_only=True)
class Claimed:
    row_id: int
    kind: str
    recipient: str
    payload: dict[str, Any]
    send_at: datetime
    attempts: int
    message_id: str


def _claim(
    factory: sessionmaker[Session], mail: MailConfig, policy: DeliveryPolicy, now: datetime
) -> tuple[list[Claimed], int]:
    """Claim a batch and drop what must no longer go out; committed before any SMTP."""
    with transaction(factory) as session:
        rows = outbox.claim(session, now=now, limit=CLAIM_BATCH, lease=policy.lease)
        wanted = {r.obligation_id for r in rows if r.kind in OBLIGATION_KINDS}
        facts = {
            oid: (met, due)
            for oid, met, due in session.execute(
                select(Obligation.id, Obligation.met_at, Obligation.due_at).where(
                    Obligation.id.in_([w for w in wanted if w is not None])
                )
            )
        }
        claimed: list[Claimed] = []
        drop: list[int] = []
        ids: dict[int, str] = {}
        for row in rows:
            payload = dict(row.payload)
            if row.kind in OBLIGATION_KINDS:
                met, due = facts.get(row.obligation_id or -1, (None, None))
                if met is not None or (
                    row.kind == Kind.DUE_SOON and due is not None and due <= now
                ):
                    drop.append(row.id)
                    continue
                if due is not None:  # a pause may have moved the deadline since planning
                    payload["due_at"] = due.isoformat()
            mid = row.message_id or message_id(row.key, row.id, mail.mail_from)
            ids[row.id] = mid
            claimed.append(
                Claimed(
                    row_id=row.id,
                    kind=row.kind,
                    recipient=row.recipient,
                    payload=payload,
                    send_at=row.send_at,
                    attempts=row.attempts,
                    message_id=mid,
                )
            )
        outbox.cancel(session, drop, reason="no longer due: the obligation is met or past")
        outbox.set_message_ids(session, ids)
    return claimed, len(drop)


def _planned(row: Claimed) -> datetime:
    """When the reminder was meant to go out (it may have been queued late, after downtime)."""
    planned = row.payload.get("planned_at")
    return min(row.send_at, datetime.fromisoformat(planned)) if planned else row.send_at


def _render(batch: Batch, rows: dict[int, Claimed], mail: MailConfig, now: datetime) -> Envelope:
    first = rows[batch.row_ids[0]]
    if not batch.consolidated:
        return render(
            kind=first.kind,
            payload=first.payload,
            recipient=first.recipient,
            message_id=first.message_id,
            config=mail,
            now=now,
        )
    items = [(rows[i].kind, rows[i].payload) for i in batch.row_ids]
    mid = message_id(f"catch-up.{len(batch.row_ids)}", min(batch.row_ids), mail.mail_from)
    return render_catch_up(
        items=items, recipient=batch.recipient, message_id=mid, config=mail, now=now
    )


def _record(
    session: DbConnection,
    batch: Batch,
    *,
    rows: dict[int, Claimed],
    outcome: Envelope | DeliveryError | Exception,
    policy: DeliveryPolicy,
    now: datetime,
) -> DeliveryReport:
    """Commit one message's outcome on all its rows (one short transaction)."""
    ids = list(batch.row_ids)
    with session.begin():
        if isinstance(outcome, Envelope):
            outbox.mark_sent(session, ids, message_id=outcome.message_id, now=now)
            return DeliveryReport(sent=len(ids), messages=1)
        if isinstance(outcome, DeliveryError) and not outcome.permanent:
            attempts = {i: rows[i].attempts for i in ids}
            gave_up = outbox.mark_retry(
                session, attempts, error=outcome.detail, now=now, policy=policy.retry
            )
            return DeliveryReport(retried=len(ids) - gave_up, failed=gave_up)
        detail = outcome.detail if isinstance(outcome, DeliveryError) else repr(outcome)
        outbox.mark_failed(session, ids, error=detail)
        return DeliveryReport(failed=len(ids))


def _engine(factory: sessionmaker[Session]) -> Engine:
    bind = factory.kw["bind"]
    assert isinstance(bind, Engine), "the session factory is bound to an engine (db.py)"
    return bind


def _relaxed_commits(conn: DbConnection, *, on: bool) -> None:
    """PostgreSQL: outcome commits need not wait for the WAL flush.

    If the database server itself crashed, the last fraction of a second of "sent" marks could
    be lost and those messages sent again: the same at-least-once as a daemon crash, never a
    lost reminder (claims and new outbox rows keep the default, durable commits). On this
    VM a flushed commit took several milliseconds, more than the rest of a message.
    """
    if conn.dialect.name != "postgresql":
        return
    conn.exec_driver_sql("SET synchronous_commit = off" if on else "RESET synchronous_commit")
    conn.commit()


def _release(factory: sessionmaker[Session], ids: list[int]) -> None:
    with transaction(factory) as session:
        outbox.release(session, ids)


class _Sender:
    """The round's one SMTP connection, opened on first use, reopened after a drop."""

    def __init__(self, connect: Connector) -> None:
        self._connect = connect
        self._conn: Connection | None = None
        self._reconnects = 0

    async def send(self, batch: Batch, envelope: Envelope) -> Envelope | DeliveryError:
        try:
            if self._conn is None:
                if self._reconnects > MAX_RECONNECTS:
                    raise DeliveryError(batch.recipient, "SMTP unavailable", permanent=False)
                self._reconnects += 1
                self._conn = await self._connect()
            await self._conn.send(envelope)
        except DeliveryError as exc:
            log.warning("%s", exc)
            if exc.connection_lost or exc.recipient == "*":
                self._conn = None
            return exc
        return envelope

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()


Outcome = Envelope | DeliveryError | Exception


async def deliver(
    *,
    factory: sessionmaker[Session],
    mail: MailConfig,
    connect: Connector,
    policy: DeliveryPolicy,
    now: datetime,
    stop: asyncio.Event | None = None,
) -> DeliveryReport:
    """Send every due outbox row over one SMTP connection; stop claiming when ``stop`` is set.

    On ``stop`` the message in flight is finished and recorded, the rest of the claimed batch
    is released untried. The connection is opened on the first message and reused.

    Overlap: the next message is rendered, and the previous outcome committed, while the SMTP
    server works on the current one; at most two outcomes are uncommitted at any moment.
    """
    report = DeliveryReport()
    sender = _Sender(connect)
    # One connection for the outcomes of the whole round: an ORM session per message cost
    # more than the UPDATE itself. Each outcome is still its own committed transaction.
    recorder = _engine(factory).connect()
    _relaxed_commits(recorder, on=True)
    in_flight: tuple[Batch, asyncio.Task[Envelope | DeliveryError]] | None = None

    def record(batch: Batch, rows: dict[int, Claimed], outcome: Outcome) -> None:
        nonlocal report
        report += _record(recorder, batch, rows=rows, outcome=outcome, policy=policy, now=now)

    try:
        while stop is None or not stop.is_set():
            claimed, dropped = await asyncio.to_thread(_claim, factory, mail, policy, now)
            report += DeliveryReport(cancelled=dropped)
            if not claimed:
                break
            rows = {c.row_id: c for c in claimed}
            pending = [
                Pending(
                    row_id=c.row_id, kind=Kind(c.kind), recipient=c.recipient, send_at=_planned(c)
                )
                for c in claimed
            ]
            batches = list(consolidate(pending, now, policy.catch_up_after))
            for index, batch in enumerate(batches):
                if stop is not None and stop.is_set():
                    rest = [i for b in batches[index:] for i in b.row_ids]
                    await asyncio.to_thread(_release, factory, rest)
                    report += DeliveryReport(released=len(rest))
                    break
                try:
                    envelope = _render(batch, rows, mail, now)
                except Exception as exc:  # a bad row must not stop the others
                    log.exception("cannot render outbox rows %s", batch.row_ids)
                    record(batch, rows, exc)
                    continue
                previous = in_flight
                if previous is not None:
                    await previous[1]
                in_flight = (batch, asyncio.create_task(sender.send(batch, envelope)))
                if previous is not None:
                    record(previous[0], rows, previous[1].result())
            if in_flight is not None:  # before the next claim
                record(in_flight[0], rows, await in_flight[1])
                in_flight = None
    finally:
        if in_flight is not None:
            record(in_flight[0], rows, await in_flight[1])
        _relaxed_commits(recorder, on=False)
        recorder.close()
        await sender.close()
    return report
