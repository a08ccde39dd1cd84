"""Delivery: claim due outbox rows, render them, send them over one SMTP connection.

Order of a delivery round (HC ``Channel.notify``): the claim is committed first (the row is
``sending``, the attempt counted, the Message-ID fixed), then the SMTP conversation, then the
outcomes are committed, those of ``OUTCOMES_PER_COMMIT`` messages per transaction (and all that
are left at the end of a claimed batch or on stop). A crash between the two commits leaves
``sending`` rows that are claimed again after the lease: at least once, never lost, and at
most ``OUTCOMES_PER_COMMIT + 1`` messages sent twice per crash (the kept outcomes and the
message in flight); the Message-ID stays the same so a receiving system can recognise the
duplicate.

The event loop never waits for the database: every query and commit of a round runs on one
worker thread (``_Db``), so a writer holding SQLite's lock (a long import) delays the round's
commits but not the loop, which keeps answering the systemd watchdog and SIGTERM.

One message per recipient and round where it matters: a recipient who gets a digest, or a
catch-up after downtime, gets every reminder of the round in that one message.

Errors: a 4xx reply, a timeout or a dropped connection is transient (retried with the
:class:`~tracker.store.outbox.RetryPolicy`); a 5xx reply (recipient refused, message rejected)
or an address that cannot be sent is permanent (the row fails and is shown by
``status``/``show``/``list``). Bad credentials are a configuration problem: transient, logged
as an error, so fixing the config resumes delivery.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection as DbConnection
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tracker.core.calendar import BusinessCalendar
from tracker.core.cover import owner
from tracker.core.reminders import (
    OBLIGATION_KINDS,
    Batch,
    DigestItem,
    Kind,
    Pending,
    consolidate,
    digests,
    due_soon_send_at,
)
from tracker.mail.render import Envelope, MailConfig, message_id, render, render_combined
from tracker.mail.smtp import (
    Connection,
    Connector,
    DeliveryError,
    SmtpConfig,
    SmtpConnection,
    client_options,
    smtp_connector,
)
from tracker.sla import Deadline, State, classify
from tracker.store import cover, outbox
from tracker.store.db import transaction
from tracker.store.models import Inquiry, Obligation
from tracker.store.queries import DEADLINE_COLUMNS, deadline_of

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
# Messages whose outcomes are committed together, in one transaction and one hand-over to the
# database thread (a hand-over costs about as much CPU as the UPDATE). The bound of the
# at-least-once window: a SIGKILL sends at most this many messages again, plus the one in flight.
OUTCOMES_PER_COMMIT = 4
# Reconnect attempts per delivery round after the server dropped the connection.
MAX_RECONNECTS = 2
# Refs per IN (...) when looking up inquiry facts: well below every driver's parameter limit.
_LOOKUP_CHUNK = 500
_T = TypeVar("_T")


@dataclass(frozen=True, kw_only=True)
class DeliveryPolicy:
    retry: outbox.RetryPolicy
    lease: timedelta
    catch_up_after: timedelta
    fallback: str | None = None
    """The default recipient: an absent advisor's cover when no one else can."""
    office_fallbacks: Mapping[str, str | None] = field(default_factory=dict)
    """office -> its own default recipient, where an office has one (``fallback`` for an
    office not named here, e.g. one no longer configured)."""

    windows: Mapping[str, tuple[BusinessCalendar, str]] = field(default_factory=dict)
    """office -> its calendar and its reminders' sending window; ``default`` for an office
    not named here. A ``due_soon`` is checked against them when it is claimed."""

    def fallback_of(self, office: str | None) -> str | None:
        """The cover of last resort for an inquiry of ``office``."""
        return self.office_fallbacks.get(office, self.fallback) if office else self.fallback

    def due_soon_at(
        self, office: str | None, deadline: Deadline, received_at: datetime
    ) -> datetime | None:
        """When a ``due_soon`` for ``deadline`` as it stands goes out, by the sweep's own plan
        (``reminders.due_soon_send_at``); None when it goes out at no time (or no window is
        known: then it is not held back)."""
        window = self.windows.get(office or "") or self.windows.get("default")
        if window is None or deadline.warn_at is None or deadline.due_at is None:
            return None
        calendar, schedule = window
        return due_soon_send_at(calendar, schedule, deadline.warn_at, deadline.due_at, received_at)


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
    """What rendering sees: the stored payload with the inquiry's current facts added."""
    stored: Mapping[str, Any]
    """The payload as stored on the row (written back, with ``due_since``, on a retry)."""
    send_at: datetime
    attempts: int
    message_id: str


# -- the claim: one short transaction before any SMTP ------------------------------------------
def _claim(
    factory: sessionmaker[Session], mail: MailConfig, policy: DeliveryPolicy, now: datetime
) -> tuple[list[Claimed], int]:
    """Claim a batch and drop what must no longer go out; committed before any SMTP.

    What a message says is decided here, at sending time, from the stored state: a reminder
    whose obligation is no longer in the state it is about is dropped (:func:`_not_now`), a
    digest lists only the items still open and still its recipient's (:func:`_digest_now`).
    """
    with transaction(factory) as session:
        rows = outbox.claim(session, now=now, limit=CLAIM_BATCH, lease=policy.lease)
        facts = _obligation_facts(session, rows)
        inquiries, offices = _inquiry_facts(session, _refs(rows))
        items = _open_items(session, _digest_refs(rows))
        drop: dict[str, list[int]] = defaultdict(list)

        def current(rows: Sequence[Any]) -> list[tuple[Any, dict[str, Any]]]:
            """The rows that still go out, each with its payload as it stands at ``now``."""
            kept: list[tuple[Any, dict[str, Any]]] = []
            for row in rows:
                payload = dict(row.payload)
                found = facts.get(row.obligation_id or -1)
                if row.kind in OBLIGATION_KINDS and found is not None:
                    deadline, met = found
                    why = _not_now(row.kind, deadline, met, now)
                    if why is None and row.kind == Kind.DUE_SOON:
                        why = _too_soon(row, deadline, inquiries, policy, now)
                    if why is not None or deadline.due_at is None:
                        drop[why or _DONE].append(row.id)
                        continue
                    # a pause or a recompute may have moved the deadline since planning
                    payload["due_at"] = deadline.due_at.isoformat()
                elif row.kind == Kind.DIGEST:
                    sections = _digest_now(row, items, inquiries, policy, now)
                    if sections is None:
                        drop[_EMPTY].append(row.id)
                        continue
                    payload |= sections
                kept.append((row, payload))
            return kept

        def route(kept: Sequence[tuple[Any, dict[str, Any]]]) -> dict[int, cover.Routed]:
            # Who receives each row is decided here, at sending time, in one place.
            return cover.route(
                session,
                [row for row, _ in kept],
                advisors,
                now=now,
                office_of=offices.get,
                fallback=policy.fallback_of,
            )

        advisors = {ref: facts["advisor"] for ref, facts in inquiries.items()}
        kept = current(rows)
        routes = route(kept)
        # A covering team's other members' copies go in this batch too, so each joins the
        # rest of its recipient's mail of the round (their own digest: one message). They
        # are about the rows' own inquiries and obligations: the facts above hold.
        copies = {key for routed in routes.values() for key in routed.copies}
        if copies:
            more = current(
                outbox.claim(session, now=now, limit=len(copies), lease=policy.lease, keys=copies)
            )
            routes |= route(more)
            kept += more
        claimed = [
            Claimed(
                row_id=row.id,
                kind=row.kind,
                recipient=routes[row.id].recipient,
                payload=_with_facts(row.kind, payload, inquiries) | _cover(routes[row.id]),
                stored=row.payload,
                send_at=row.send_at,
                attempts=row.attempts,
                message_id=row.message_id or message_id(row.key, row.id, mail.mail_from),
            )
            for row, payload in kept
        ]
        for reason, ids in drop.items():
            outbox.cancel(session, ids, reason=reason)
        outbox.set_message_ids(session, {c.row_id: c.message_id for c in claimed})
    return claimed, sum(len(ids) for ids in drop.values())


_DONE = "no longer due: the obligation is met, paused or past"
_EARLY = "not yet due: the deadline has moved later (queued again when its time has come)"
_EMPTY = "nothing left to list: every item was met or reassigned"


def _not_now(kind: str, deadline: Deadline, met: datetime | None, now: datetime) -> str | None:
    """Why a reminder about one obligation must not go out at ``now``, or None: it is met,
    paused (no deadline; the sweep queues it again on resume), or its state at ``now``
    (``sla.classify``) is not the one the reminder is about: a ``due_soon`` once overdue,
    an ``overdue`` or ``escalation`` no longer overdue since a recompute moved the deadline
    later (the sweep queues the same key again when the new deadline has passed)."""
    if met is not None or deadline.due_at is None:
        return _DONE
    state, _ = classify(deadline, met, now)
    if kind == Kind.DUE_SOON:
        return _DONE if state is State.OVERDUE else None
    return None if state is State.OVERDUE else _EARLY


def _too_soon(
    row: Any,
    deadline: Deadline,
    inquiries: Mapping[str, Mapping[str, str | None]],
    policy: DeliveryPolicy,
    now: datetime,
) -> str | None:
    """Why a ``due_soon`` must not go out yet: a recompute or a resume moved its deadline
    later since it was queued, and its time by the sweep's plan for the new deadline has not
    come (the sweep queues the same key again when it has). One whose deadline has not
    moved goes out: the sweep planned it and will not look for it again (a window narrowed
    by a restart since is no reason to hold it back for good)."""
    planned = row.payload.get("due_at")
    if planned is None or deadline.due_at is None:
        return None
    if deadline.due_at <= datetime.fromisoformat(str(planned)):
        return None
    facts = inquiries.get(str(row.payload["ref"]))
    if facts is None or facts["received_at"] is None:
        return None
    received_at = datetime.fromisoformat(facts["received_at"])
    at = policy.due_soon_at(facts.get("office"), deadline, received_at)
    return _EARLY if at is not None and now < at else None


def _digest_now(
    row: Any,
    items: Mapping[tuple[str, str], datetime],
    inquiries: Mapping[str, Mapping[str, str | None]],
    policy: DeliveryPolicy,
    now: datetime,
) -> dict[str, Any] | None:
    """A digest's sections as they stand at ``now``; None when nothing is left to list.

    Of the items it was planned with, those still open (``items``: (ref, rule) -> due_at of
    the unmet, unpaused obligations) and still its owner's (``core.cover.owner``: an item
    given to another advisor is theirs now), each at its current deadline, sorted into due
    today and overdue at ``now`` by the digest's own rule (``core.reminders.digests``).
    The owner is the planned recipient; a team member's copy names them in its cover.
    """
    stored = row.payload
    whose = str(stored["cover"]["advisor"]) if "cover" in stored else row.recipient
    current: list[DigestItem] = []
    for section in ("due_today", "overdue"):
        for item in stored.get(section, []):
            ref, rule = str(item["ref"]), str(item["rule"])
            due = items.get((ref, rule))
            facts = inquiries.get(ref)
            if due is None or facts is None:
                continue
            office = facts.get("office")
            if owner(facts.get("advisor"), policy.fallback_of(office)) != whose:
                continue
            current.append(
                DigestItem(
                    ref=ref, rule=rule, department=str(item["department"]), recipient=whose,
                    due_at=due,
                )
            )  # fmt: skip
    found = digests(current, date.fromisoformat(str(stored["day"])), now)
    if not found:
        return None
    sections = found[0].payload()
    return {"due_today": sections["due_today"], "overdue": sections["overdue"]}


def _digest_refs(rows: Iterable[Any]) -> set[str]:
    """The refs the claimed digests list."""
    return {
        str(item["ref"])
        for row in rows
        if row.kind == Kind.DIGEST
        for section in ("due_today", "overdue")
        for item in row.payload.get(section, [])
    }


def _open_items(session: Session, refs: set[str]) -> dict[tuple[str, str], datetime]:
    """(ref, rule) -> due_at of the inquiries' obligations that are unmet and not paused."""
    found: dict[tuple[str, str], datetime] = {}
    ordered = sorted(refs)
    for start in range(0, len(ordered), _LOOKUP_CHUNK):
        query = (
            select(Inquiry.ref, Obligation.rule, Obligation.due_at)
            .join(Inquiry, Obligation.inquiry_id == Inquiry.id)
            .where(
                Inquiry.ref.in_(ordered[start : start + _LOOKUP_CHUNK]),
                Obligation.met_at.is_(None),
                Obligation.due_at.is_not(None),
            )
        )
        for ref, rule, due in session.execute(query):
            if due is not None:  # so the WHERE says; for the type checker
                found[(ref, rule)] = due
    return found


def _cover(routed: cover.Routed) -> dict[str, Any]:
    return {"cover": dict(routed.cover)} if routed.cover is not None else {}


def _obligation_facts(
    session: Session, rows: Sequence[Any]
) -> dict[int, tuple[Deadline, datetime | None]]:
    """obligation id -> (its deadline, met_at) for the claimed reminders, as stored now."""
    wanted = [r.obligation_id for r in rows if r.kind in OBLIGATION_KINDS and r.obligation_id]
    if not wanted:
        return {}
    query = select(Obligation.id, Obligation.met_at, *DEADLINE_COLUMNS).where(
        Obligation.id.in_(wanted)
    )
    return {row.id: (deadline_of(row), row.met_at) for row in session.execute(query)}


def _refs(rows: Iterable[Any]) -> set[str]:
    """Every ref a claimed row's message mentions (a reminder's own, a digest's items)."""
    refs: set[str] = set()
    for row in rows:
        if row.kind in OBLIGATION_KINDS:
            refs.add(str(row.payload["ref"]))
        elif row.kind == Kind.DIGEST:
            for section in ("due_today", "overdue"):
                refs.update(str(item["ref"]) for item in row.payload.get(section, []))
    return refs


def _inquiry_facts(
    session: Session, refs: set[str]
) -> tuple[dict[str, dict[str, str | None]], dict[str, str]]:
    """ref -> channel, topic, time of receipt, advisor and office: what an advisor needs to
    act, and whose rules say what fulfils an obligation; and ref -> office (whose default
    recipient covers last).

    Configured names, identifiers and times only: never the note.
    """
    found: dict[str, dict[str, str | None]] = {}
    offices: dict[str, str] = {}
    ordered = sorted(refs)
    for start in range(0, len(ordered), _LOOKUP_CHUNK):
        chunk = ordered[start : start + _LOOKUP_CHUNK]
        query = select(
            Inquiry.ref,
            Inquiry.channel,
            Inquiry.topic,
            Inquiry.received_at,
            Inquiry.advisor,
            Inquiry.office,
        ).where(Inquiry.ref.in_(chunk))
        for ref, channel, topic, received, advisor, office in session.execute(query):
            found[ref] = {
                "channel": channel,
                "topic": topic,
                "received_at": received.isoformat(),
                "advisor": advisor,
                "office": office,  # whose rules say what fulfils the obligation
            }
            offices[ref] = office
    return found, offices


def _with_facts(
    kind: str, payload: dict[str, Any], inquiries: Mapping[str, Mapping[str, str | None]]
) -> dict[str, Any]:
    if kind in OBLIGATION_KINDS:
        return payload | dict(inquiries.get(str(payload["ref"]), {}))
    if kind == Kind.DIGEST:
        for section in ("due_today", "overdue"):
            payload[section] = [
                item | dict(inquiries.get(str(item["ref"]), {}))
                for item in payload.get(section, [])
            ]
    return payload


# -- grouping and rendering (pure) ---------------------------------------------------------------
def _planned(row: Claimed) -> datetime:
    """When the reminder was meant to go out (it may have been queued late, after downtime)."""
    planned = row.payload.get("planned_at")
    return min(row.send_at, datetime.fromisoformat(planned)) if planned else row.send_at


def messages(claimed: Sequence[Claimed], now: datetime, catch_up_after: timedelta) -> list[Batch]:
    """The round's messages: ``consolidate``'s batches, then one message per recipient who
    has a digest or a catch-up in the round (the reminders join it; reports stay apart)."""
    pending = [
        Pending(row_id=c.row_id, kind=Kind(c.kind), recipient=c.recipient, send_at=_planned(c))
        for c in claimed
    ]
    batches = consolidate(pending, now, catch_up_after)
    kinds = {c.row_id: c.kind for c in claimed}
    mergeable: dict[str, list[Batch]] = defaultdict(list)
    for batch in batches:
        if kinds[batch.row_ids[0]] != Kind.REPORT:
            mergeable[batch.recipient].append(batch)
    merged = {
        recipient: tuple(i for b in group for i in b.row_ids)
        for recipient, group in mergeable.items()
        if len(group) > 1
        and any(b.consolidated or kinds[b.row_ids[0]] == Kind.DIGEST for b in group)
    }
    result: list[Batch] = []
    emitted: set[str] = set()
    for batch in batches:
        ids = merged.get(batch.recipient)
        if ids is None or batch.row_ids[0] not in ids:
            result.append(batch)
        elif batch.recipient not in emitted:
            emitted.add(batch.recipient)
            result.append(Batch(recipient=batch.recipient, row_ids=ids))
    return result


def _render(batch: Batch, rows: Mapping[int, Claimed], mail: MailConfig, now: datetime) -> Envelope:
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
    return render_combined(
        items=items, recipient=batch.recipient, message_id=mid, config=mail, now=now
    )


# -- outcomes: several messages' per short transaction, on the round's database thread -----------
Outcome = Envelope | DeliveryError | Exception


@dataclass(frozen=True)
class _Done:
    """One message's outcome, waiting to be committed on all its rows."""

    batch: Batch
    rows: Mapping[int, Claimed]
    outcome: Outcome


def _record(
    conn: DbConnection, done: Sequence[_Done], *, policy: DeliveryPolicy, now: datetime
) -> DeliveryReport:
    """Commit the outcomes of several messages, each on all its rows, in one transaction."""
    report = DeliveryReport()
    sent: list[outbox.Sent] = []
    with conn.begin():
        for item in done:
            ids = list(item.batch.row_ids)
            outcome = item.outcome
            if isinstance(outcome, Envelope):
                sent.extend(outbox.Sent(i, outcome.message_id, now) for i in ids)
                report += DeliveryReport(sent=len(ids), messages=1)
            elif isinstance(outcome, DeliveryError) and not outcome.permanent:
                report += _retry(conn, item, outcome, policy=policy, now=now)
            else:
                detail = outcome.detail if isinstance(outcome, DeliveryError) else str(outcome)
                outbox.mark_failed(conn, ids, error=detail or repr(outcome))
                report += DeliveryReport(failed=len(ids))
        if sent:
            outbox.mark_sent(conn, sent)
    return report


def _retry(
    conn: DbConnection, item: _Done, error: DeliveryError, *, policy: DeliveryPolicy, now: datetime
) -> DeliveryReport:
    rows = item.rows
    retry = {
        i: outbox.Retry(
            attempts=rows[i].attempts,
            payload=dict(rows[i].stored)
            | {"due_since": rows[i].stored.get("due_since", rows[i].send_at.isoformat())},
        )
        for i in item.batch.row_ids
    }
    gave_up = outbox.mark_retry(conn, retry, error=error.detail, now=now, policy=policy.retry)
    return DeliveryReport(retried=len(retry) - gave_up, failed=gave_up)


def _relaxed_commits(conn: DbConnection, *, on: bool) -> None:
    """PostgreSQL: outcome commits need not wait for the WAL flush.

    If the database server itself crashed, the last fraction of a second of "sent" marks could
    be lost and those messages sent again: the same at-least-once as a daemon crash, never a
    lost reminder (claims and new outbox rows keep the default, durable commits). A flushed
    commit can cost more than the rest of a message.
    """
    if conn.dialect.name != "postgresql":
        return
    conn.exec_driver_sql("SET synchronous_commit = off" if on else "RESET synchronous_commit")
    conn.commit()


def _release(factory: sessionmaker[Session], ids: list[int]) -> None:
    with transaction(factory) as session:
        outbox.release(session, ids)


class _Db:
    """The round's database work on one worker thread, awaited without blocking the loop.

    One thread, so the outcome connection is only ever used by the thread that opened it.
    """

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="svarfrist-db")
        self._conn: DbConnection | None = None

    async def run(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        call = functools.partial(function, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def record(self, done: Sequence[_Done], **kwargs: Any) -> DeliveryReport:
        return await self.run(self._record, done, **kwargs)

    def _record(self, done: Sequence[_Done], **kwargs: Any) -> DeliveryReport:
        if self._conn is None:
            # One connection for the outcomes of the whole round: an ORM session per message
            # cost more than the UPDATE itself.
            bind = self.factory.kw["bind"]
            assert isinstance(bind, Engine), "the session factory is bound to an engine (db.py)"
            self._conn = bind.connect()
            _relaxed_commits(self._conn, on=True)
        return _record(self._conn, done, **kwargs)

    async def close(self) -> None:
        try:
            await self.run(self._close)
        finally:
            self._executor.shutdown(wait=False)

    def _close(self) -> None:
        if self._conn is not None:
            _relaxed_commits(self._conn, on=False)
            self._conn.close()
            self._conn = None


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


# -- the round ---------------------------------------------------------------------------------
@dataclass(kw_only=True)
class _Round:
    """One delivery round's collaborators and running total."""

    db: _Db
    sender: _Sender
    mail: MailConfig
    policy: DeliveryPolicy
    now: datetime
    stop: asyncio.Event | None
    report: DeliveryReport = DeliveryReport()
    in_flight: (
        tuple[Batch, Mapping[int, Claimed], asyncio.Task[Envelope | DeliveryError]] | None
    ) = None
    done: list[_Done] = field(default_factory=list)
    """Outcomes not yet handed to the database thread (at most OUTCOMES_PER_COMMIT)."""

    @property
    def stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    async def record(self, batch: Batch, rows: Mapping[int, Claimed], outcome: Outcome) -> None:
        """Keep one message's outcome; commit the kept ones when there are enough of them."""
        self.done.append(_Done(batch, rows, outcome))
        if len(self.done) >= OUTCOMES_PER_COMMIT:
            await self.commit()

    async def commit(self) -> None:
        """Commit every kept outcome in one transaction on the database thread."""
        done, self.done = self.done, []
        if done:
            self.report += await self.db.record(done, policy=self.policy, now=self.now)

    async def settle(self) -> None:
        """Wait for the message in flight and commit its outcome and the kept ones."""
        if self.in_flight is not None:
            batch, rows, task = self.in_flight
            self.in_flight = None
            await self.record(batch, rows, await task)
        await self.commit()

    async def send(self, batch: Batch, rows: Mapping[int, Claimed]) -> bool:
        """Start sending ``batch`` while the previous message's outcome is committed.

        False when a stop came while the previous message was in flight: ``batch`` was not
        started (the caller releases it).
        """
        try:
            envelope = _render(batch, rows, self.mail, self.now)
        except Exception as exc:  # a bad row must not stop the others
            log.exception("cannot render outbox rows %s", batch.row_ids)
            await self.record(batch, rows, exc)
            return True
        previous = self.in_flight
        if previous is not None:
            await previous[2]
            if self.stopping:
                await self.settle()
                return False
        self.in_flight = (batch, rows, asyncio.create_task(self.sender.send(batch, envelope)))
        if previous is not None:
            await self.record(previous[0], previous[1], previous[2].result())
        return True

    async def batch(self, claimed: list[Claimed]) -> None:
        """Send one claimed batch; on stop release what was not started."""
        rows = {c.row_id: c for c in claimed}
        batches = messages(claimed, self.now, self.policy.catch_up_after)
        for index, batch in enumerate(batches):
            if self.stopping or not await self.send(batch, rows):
                rest = [i for b in batches[index:] for i in b.row_ids]
                await self.db.run(_release, self.db.factory, rest)
                self.report += DeliveryReport(released=len(rest))
                break
        await self.settle()  # before the next claim


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

    Overlap: the next message is rendered, and kept outcomes committed, while the SMTP server
    works on the current one; at most ``OUTCOMES_PER_COMMIT + 1`` messages handed to the
    server have no committed outcome at any moment (the bound of a crash's duplicates).
    """
    rnd = _Round(
        db=_Db(factory), sender=_Sender(connect), mail=mail, policy=policy, now=now, stop=stop
    )
    try:
        while not rnd.stopping:
            claimed, dropped = await rnd.db.run(_claim, factory, mail, policy, now)
            rnd.report += DeliveryReport(cancelled=dropped)
            if not claimed:
                break
            await rnd.batch(claimed)
    finally:
        await rnd.settle()
        await rnd.db.close()
        await rnd.sender.close()
    return rnd.report
