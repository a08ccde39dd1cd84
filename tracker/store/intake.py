"""Mail intake's persistence: progress per folder, keyed hashes, the per-sender cap, moves.

Nothing here holds a sender address, a name, a subject or a body: folders, UIDs, HMAC
digests, local days and counts only. Every function runs in the caller's transaction, so
a message's progress commits together with what it caused (an inquiry, an attachment, a
fulfilment), and a kill at any moment re-reads nothing twice and loses nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from tracker.store import outbox
from tracker.store.db import per_dialect, upsert_insert
from tracker.store.models import (
    Inquiry,
    IntakeMove,
    IntakeProgress,
    IntakeSenderDay,
    IntakeThread,
    OutboxMessage,
)
from tracker.store.outbox import OutboxState

ACKNOWLEDGEMENT = "acknowledgement"
STATE_NAME = "intake"
"""The DaemonState rows of intake's counters and health (``status``, ``/metrics``): one per
mailbox, ``intake:<mailbox key>``; ``intake`` alone was written before there were several."""


def progress(session: Session, mailbox: str, folder: str, uidvalidity: int, now: datetime) -> int:
    """The last UID read in ``folder`` of ``mailbox`` (IntakeSettings.mailbox_key), the row
    locked (FOR UPDATE) until the transaction ends, so two readers of one mailbox take turns
    and each message is handled once. Another mailbox's folder of the same name is another
    row: one database may serve an intake per mailbox.

    A folder seen first, or renumbered by the server (a new UIDVALIDITY), starts at 0; the
    moves still pending under the old numbering are dropped (their messages are met again
    and recognised by their keyed hashes, see :func:`known`)."""
    session.execute(
        upsert_insert(session)(IntakeProgress)
        .values(mailbox=mailbox, folder=folder, uidvalidity=uidvalidity, last_uid=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["mailbox", "folder"])
    )
    row = session.scalar(
        select(IntakeProgress)
        .where(IntakeProgress.mailbox == mailbox, IntakeProgress.folder == folder)
        .with_for_update()
    )
    assert row is not None
    if row.uidvalidity != uidvalidity:
        row.uidvalidity, row.last_uid, row.updated_at = uidvalidity, 0, now
        session.execute(
            delete(IntakeMove).where(
                IntakeMove.mailbox == mailbox,
                IntakeMove.folder == folder,
                IntakeMove.uidvalidity != uidvalidity,
            )
        )
    return int(row.last_uid)


def advance(session: Session, mailbox: str, folder: str, uid: int, now: datetime) -> None:
    session.execute(
        update(IntakeProgress)
        .where(
            IntakeProgress.mailbox == mailbox,
            IntakeProgress.folder == folder,
            IntakeProgress.last_uid < uid,
        )
        .values(last_uid=uid, updated_at=now)
    )


def adopt(session: Session, mailbox: str, now: datetime) -> None:
    """What intake wrote before it kept its state per mailbox (migration 0016), carried on by
    the first intake to start after the upgrade, once: the folders' progress and planned
    moves (``mailbox`` empty), and the one state row's counts, added into ``mailbox``'s."""
    for table in (IntakeProgress, IntakeMove):
        session.execute(update(table).where(table.mailbox == "").values(mailbox=mailbox))
    earlier = outbox.get_state(session, STATE_NAME)
    if earlier is None:
        return
    before = earlier.value or {}
    own = _state_name(mailbox)
    value = _with_counts(_state(session, own), before.get("counts", {}), before.get("ignored", {}))
    outbox.put_state(session, own, now, value)
    session.delete(earlier)


def of_mailbox(payload: Any, mailbox: str) -> bool:
    """Whether an acknowledgement's row (its payload) belongs to ``mailbox``; a row written
    before the mailbox was recorded is any mailbox's."""
    return bool(payload.get("mailbox", mailbox) == mailbox)


def in_folder(payload: Any, mailbox: str, folder: str | None) -> bool:
    """Whether an acknowledgement's message (its row's payload) lies in ``folder`` of
    ``mailbox``."""
    return of_mailbox(payload, mailbox) and payload.get("folder") == folder


# The statements run for every message, built once (see db.per_dialect) and run on the
# session's connection: Core statements on tables of intake's own, which the ORM's execute
# path (its autoflush, its result handling) only slowed; where a row of the session must be
# written first, the function flushes it.
_KNOWN = (
    select(Inquiry.id, Inquiry.ref)
    .join(IntakeThread, IntakeThread.inquiry_id == Inquiry.id)
    .where(IntakeThread.digest.in_(bindparam("digests", expanding=True)))
    .limit(1)
)
_OF_OFFICES = Inquiry.office.in_(bindparam("offices", expanding=True))
_THREAD_COLUMNS = (
    Inquiry.id,
    Inquiry.ref,
    Inquiry.closed_at.is_not(None),
    Inquiry.office,
    Inquiry.advisor,
)
_THREAD = (
    select(*_THREAD_COLUMNS)
    .join(IntakeThread, IntakeThread.inquiry_id == Inquiry.id)
    .where(IntakeThread.digest.in_(bindparam("digests", expanding=True)), _OF_OFFICES)
    .order_by(Inquiry.id.desc())  # the newest: a closed inquiry's follow-up is a new one
    .limit(1)
)
_BY_REF = select(*_THREAD_COLUMNS).where(Inquiry.ref == bindparam("ref"), _OF_OFFICES)


class Thread(NamedTuple):
    """The inquiry a mail's thread leads to."""

    id: int
    ref: str
    closed: bool
    office: str
    advisor: str | None


def _remember_statement(insert: Any) -> Any:
    return insert(IntakeThread.__table__).on_conflict_do_nothing(index_elements=["digest"])


def _count_statement(insert: Any) -> Any:
    table = IntakeSenderDay.__table__
    return (
        insert(table)
        .values(count=1)
        .on_conflict_do_update(
            index_elements=["sender", "day"],
            set_={"count": table.c.count + 1},
            where=table.c.count < bindparam("cap"),
        )
        .returning(table.c.count)
    )


_REMEMBER = per_dialect(_remember_statement)
_COUNT = per_dialect(_count_statement)


def known(session: Session, digests: Iterable[str]) -> tuple[int, str] | None:
    """The inquiry (id, ref) one of these Message-ID digests belongs to, if any."""
    wanted = [d for d in digests if d]
    if not wanted:
        return None
    row = session.connection().execute(_KNOWN, {"digests": wanted}).first()
    return None if row is None else (int(row[0]), str(row[1]))


def thread(session: Session, digests: Iterable[str], offices: Collection[str]) -> Thread | None:
    """The newest inquiry of ``offices`` one of these Message-ID digests belongs to, if any
    (a mailbox threads into its own offices' only)."""
    wanted = [d for d in digests if d]
    if not wanted:
        return None
    values = {"digests": wanted, "offices": sorted(offices)}
    row = session.connection().execute(_THREAD, values).first()
    return None if row is None else _thread(row)


def _thread(row: Any) -> Thread:
    return Thread(int(row[0]), str(row[1]), bool(row[2]), str(row[3]), row[4])


def by_ref(session: Session, ref: str, offices: Collection[str]) -> Thread | None:
    """The inquiry of ``ref``, if it is one of ``offices``'."""
    values = {"ref": ref, "offices": sorted(offices)}
    row = session.connection().execute(_BY_REF, values).first()
    return None if row is None else _thread(row)


def remember(session: Session, inquiry_id: int, digests: Iterable[str]) -> None:
    """Keep these Message-ID digests as belonging to the inquiry (known ones stay as they are)."""
    rows = [{"digest": d, "inquiry_id": inquiry_id} for d in set(digests) if d]
    if rows:
        session.flush()  # the inquiry's row first, as the ORM's own statements do
        session.connection().execute(_REMEMBER(session), rows)


def lead_to(session: Session, closed_id: int, inquiry_id: int) -> None:
    """The thread of the closed inquiry ``closed_id`` leads to its follow-up ``inquiry_id``
    from now on: a later reply to any of its messages attaches there, not as one more new
    inquiry (a Message-ID digest belongs to one inquiry, the thread's newest)."""
    session.flush()
    session.execute(
        update(IntakeThread)
        .where(IntakeThread.inquiry_id == closed_id)
        .values(inquiry_id=inquiry_id)
        .execution_options(synchronize_session=False)
    )


def count_sender(session: Session, sender: str, day: str, cap: int) -> bool:
    """Count one more acknowledged mail of ``sender`` (a digest) on ``day``; False, and not
    counted, when the sender already reached ``cap`` that day."""
    values = {"sender": sender, "day": day, "cap": cap}
    return session.connection().execute(_COUNT(session), values).first() is not None


def forget_days_before(session: Session, day: str) -> None:
    """The counters of days gone by: no longer needed (they are per day)."""
    session.execute(delete(IntakeSenderDay).where(IntakeSenderDay.day < day))


def plan_moves(
    session: Session,
    mailbox: str,
    folder: str,
    uidvalidity: int,
    moves: Sequence[tuple[int, str]],
) -> None:
    """Where these messages (UID, target) go once done: one statement for a batch."""
    if not moves:
        return
    session.execute(
        upsert_insert(session)(IntakeMove).on_conflict_do_nothing(
            index_elements=["mailbox", "folder", "uidvalidity", "uid"]
        ),
        [
            {
                "mailbox": mailbox,
                "folder": folder,
                "uidvalidity": uidvalidity,
                "uid": uid,
                "target": target,
            }
            for uid, target in moves
        ],
    )


def pending_moves(
    session: Session, mailbox: str, folder: str, uidvalidity: int
) -> dict[str, list[int]]:
    """target -> UIDs to move now: those whose acknowledgement is not waiting to be sent."""
    waiting = {
        (p.get("uidvalidity"), p.get("uid"))
        for p in session.scalars(
            select(OutboxMessage.payload).where(
                OutboxMessage.kind == ACKNOWLEDGEMENT,
                OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
            )
        )
        if in_folder(p, mailbox, folder)
    }
    moves: dict[str, list[int]] = {}
    for row in session.scalars(
        select(IntakeMove).where(
            IntakeMove.mailbox == mailbox,
            IntakeMove.folder == folder,
            IntakeMove.uidvalidity == uidvalidity,
        )
    ):
        if (row.uidvalidity, row.uid) not in waiting:
            moves.setdefault(row.target, []).append(int(row.uid))
    return moves


def moved(
    session: Session, mailbox: str, folder: str, uidvalidity: int, uids: Sequence[int]
) -> None:
    session.execute(
        delete(IntakeMove).where(
            IntakeMove.mailbox == mailbox,
            IntakeMove.folder == folder,
            IntakeMove.uidvalidity == uidvalidity,
            IntakeMove.uid.in_(list(uids)),
        )
    )


def acknowledgement_of(session: Session, inquiry_id: int) -> OutboxMessage | None:
    """The inquiry's acknowledgement while it waits to be sent (pending or being sent)."""
    return session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.key == acknowledgement_key(inquiry_id),
            OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
        )
    )


def acknowledgement_key(inquiry_id: int) -> str:
    return f"{ACKNOWLEDGEMENT}:{inquiry_id}"


def erase(session: Session, row_id: int) -> None:
    """An acknowledgement sent (or cancelled): its row goes, with the UID it pointed to."""
    session.execute(delete(OutboxMessage).where(OutboxMessage.id == row_id))


def erase_many(session: Session, row_ids: Sequence[int]) -> None:
    """:func:`erase` of rows read without the ORM (``outbox.claim``, ``sent_of_kind``), in
    one statement: the session holds no object of them, so it has nothing to synchronise."""
    if row_ids:
        session.execute(
            delete(OutboxMessage).where(OutboxMessage.id.in_(row_ids)),
            execution_options={"synchronize_session": False},
        )


def point_at(session: Session, row_id: int, payload: dict[str, Any]) -> None:
    """The acknowledgement's message was renumbered (UIDVALIDITY): read it from here."""
    session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(payload=payload))


def record_round(
    session: Session,
    mailbox: str,
    *,
    name: str,
    now: datetime,
    outcomes: Mapping[str, int],
    ignored: Mapping[str, int],
    health: Mapping[str, Any],
) -> None:
    """Add a round's counts (by outcome, by ignored reason) to ``mailbox``'s state row, with
    its health (last round, failing since, last error)."""
    own = _state_name(mailbox)
    value = _with_counts(_state(session, own), outcomes, ignored)
    outbox.put_state(session, own, now, value | {"mailbox": name, **health})


def _state_name(mailbox: str) -> str:
    return f"{STATE_NAME}:{mailbox}"


def _state(session: Session, name: str) -> dict[str, Any]:
    row = outbox.get_state(session, name)
    return dict(row.value or {}) if row is not None else {}


def _with_counts(
    state: Mapping[str, Any], outcomes: Mapping[str, int], ignored: Mapping[str, int]
) -> dict[str, Any]:
    """``state`` with ``outcomes`` and ``ignored`` added to its counts (by outcome, by reason)."""
    counts = Counter(state.get("counts", {}))
    counts.update(outcomes)
    reasons = Counter(state.get("ignored", {}))
    reasons.update(ignored)
    return {**state, "counts": dict(counts), "ignored": dict(reasons)}


def states(session: Session) -> dict[str, Any] | None:
    """Mail intake as ``status`` and ``/metrics`` show it (:func:`combined`); None: never run."""
    rows = outbox.get_states(session, STATE_NAME)
    return combined([dict(rows[name] or {}) for name in sorted(rows)])


def combined(mailboxes: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Every mailbox's intake as one: the counts added up; the last round the stalest
    mailbox's (null while one has never finished a round); failing while any mailbox is,
    since the first of them, with its error; ``mailboxes`` each one's own state."""
    if not mailboxes:
        return None
    total: dict[str, Any] = {}
    for state in mailboxes:
        total = _with_counts(total, state.get("counts", {}), state.get("ignored", {}))
    rounds = [state.get("last_round_at") for state in mailboxes]
    read = [str(r) for r in rounds if r is not None]
    failing = [state for state in mailboxes if state.get("failing_since")]
    first = min(failing, key=lambda s: datetime.fromisoformat(s["failing_since"]), default={})
    return {
        "counts": total["counts"],
        "ignored": total["ignored"],
        "last_round_at": min(read, key=datetime.fromisoformat)
        if len(read) == len(rounds)
        else None,
        "failing_since": first.get("failing_since"),
        "last_error": first.get("last_error"),
        "next_attempt_at": first.get("next_attempt_at"),
        "mailboxes": [dict(state) for state in mailboxes],
    }
