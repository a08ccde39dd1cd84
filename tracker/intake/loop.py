"""Intake rounds: ``svarfrist intake --once`` runs one; the daemon runs them until stopped.

A round: read the intake folder in batches (each batch one transaction, each message a
savepoint), send the acknowledgements due, move what is done, read the Sent folder for
advisors' replies, and record the counts for ``status`` and ``/metrics``. Between rounds the
daemon waits in IDLE (the server wakes it on new mail) or polls. An unreachable or restarting
IMAP server is retried with exponential backoff, shown in ``status``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tracker.config import IntakeSettings
from tracker.errors import SvarfristError
from tracker.intake import process
from tracker.intake.acknowledge import send_acknowledgements
from tracker.intake.imap import IMAP_ERRORS, ImapMailbox
from tracker.intake.maildir import MaildirMailbox
from tracker.intake.parse import Verdict, answers_nobody, parse
from tracker.intake.process import Counts, Intake
from tracker.intake.source import Fetched, Mailbox
from tracker.mail.smtp import Connector
from tracker.store import intake as store
from tracker.store.db import transaction

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# Backoff after a failed round: doubled each time, capped.
FIRST_BACKOFF = timedelta(seconds=2)
MAX_BACKOFF = timedelta(minutes=5)


def connect_mailbox(conf: IntakeSettings) -> Mailbox:
    """The configured mailbox: a local Maildir (``maildir``) or an IMAP server."""
    if conf.maildir is not None:
        return MaildirMailbox.connect(conf.maildir)
    return ImapMailbox.connect(conf)


def run_round(
    mailbox: Mailbox,
    intake: Intake,
    factory: sessionmaker[Session],
    connect: Connector,
    clock: Clock,
) -> Counts:
    """One round over the mailbox; returns what it did."""
    conf = intake.conf
    counts = Counts()
    uidvalidity = mailbox.open(conf.folder)
    while True:
        batch = _next_batch(
            mailbox,
            factory,
            key=intake.mailbox,
            folder=conf.folder,
            uidvalidity=uidvalidity,
            limit=conf.batch,
            clock=clock,
        )
        if not batch:
            break
        counts.add(
            _inbox_batch(
                intake,
                factory,
                folder=conf.folder,
                uidvalidity=uidvalidity,
                batch=batch,
                clock=clock,
            )
        )
    if conf.acknowledge:
        counts.outcomes["acknowledged"] += send_acknowledgements(
            mailbox, uidvalidity, intake=intake, factory=factory, connect=connect, clock=clock
        )
    _move(mailbox, intake, factory, conf.folder, uidvalidity)
    if conf.sent_folder and mailbox.exists(conf.sent_folder):
        counts.add(_sent_folder(mailbox, intake, factory, conf.sent_folder, clock))
        mailbox.open(conf.folder)  # back to the intake folder, where IDLE waits
    return counts


def _next_batch(
    mailbox: Mailbox,
    factory: sessionmaker[Session],
    *,
    key: str,
    folder: str,
    uidvalidity: int,
    limit: int,
    clock: Clock,
) -> list[Fetched]:
    with transaction(factory) as session:
        last = store.progress(session, key, folder, uidvalidity, clock())
    return mailbox.fetch_after(last, limit)


def _inbox_batch(
    intake: Intake,
    factory: sessionmaker[Session],
    *,
    folder: str,
    uidvalidity: int,
    batch: list[Fetched],
    clock: Clock,
) -> Counts:
    """The batch in one transaction, each message in a savepoint; the moves and the
    progress written once at the end (the same commit, so a kill loses or repeats nothing)."""
    counts = Counts()
    moves: list[tuple[int, str]] = []
    with transaction(factory) as session:
        last = store.progress(session, intake.mailbox, folder, uidvalidity, clock())
        now = clock()
        for fetched in batch:
            if fetched.uid <= last:
                continue  # another reader took it meanwhile
            now = clock()
            try:
                with session.begin_nested():
                    outcome, why, target = process.handle_inbox(
                        session, intake, folder=folder, uidvalidity=uidvalidity, f=fetched, now=now
                    )
            except Exception as exc:  # noqa: BLE001 - bad mail must never stop intake
                log.error("intake: UID %d in %s moved to %s: %s", fetched.uid, folder,
                          intake.conf.error_folder, _why(exc))  # fmt: skip
                outcome, why, target = "error", None, process.ERROR
            moves.append((fetched.uid, target))
            counts.outcomes[outcome] += 1
            if why is not None:
                counts.ignored[why] += 1
        store.plan_moves(session, intake.mailbox, folder, uidvalidity, moves)
        if moves:
            store.advance(session, intake.mailbox, folder, moves[-1][0], now)
    return counts


def _move(
    mailbox: Mailbox, intake: Intake, factory: sessionmaker[Session], folder: str, validity: int
) -> None:
    """Move what is processed (and acknowledged) to its folder; the rows go after the move."""
    with transaction(factory) as session:
        moves = store.pending_moves(session, intake.mailbox, folder, validity)
    for target, uids in moves.items():
        mailbox.move(sorted(uids), intake.folder_of(target))
        with transaction(factory) as session:
            store.moved(session, intake.mailbox, folder, validity, uids)


def _sent_folder(
    mailbox: Mailbox, intake: Intake, factory: sessionmaker[Session], folder: str, clock: Clock
) -> Counts:
    """Advisors' replies in the Sent folder fulfil; nothing there is moved."""
    counts = Counts()
    uidvalidity = mailbox.open(folder)
    while True:
        batch = _next_batch(
            mailbox,
            factory,
            key=intake.mailbox,
            folder=folder,
            uidvalidity=uidvalidity,
            limit=intake.conf.batch,
            clock=clock,
        )
        if not batch:
            return counts
        with transaction(factory) as session:
            last = store.progress(session, intake.mailbox, folder, uidvalidity, clock())
            for fetched in batch:
                if fetched.uid <= last:
                    continue
                now = clock()
                try:
                    with session.begin_nested():
                        outcome = _sent_one(session, intake, fetched, now)
                except Exception as exc:  # noqa: BLE001 - one bad message, not the round
                    log.error("intake: UID %d in %s skipped: %s", fetched.uid, folder,
                              _why(exc))  # fmt: skip
                    outcome = "error"
                store.advance(session, intake.mailbox, folder, fetched.uid, now)
                if outcome is not None:
                    counts.outcomes[outcome] += 1


def _why(exc: Exception) -> str:
    """One line for the log: Svarfrist's own errors name only our values; any other error's
    text might quote the mail, so only its type is logged."""
    if isinstance(exc, SvarfristError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


def _sent_one(session: Session, intake: Intake, fetched: Fetched, now: datetime) -> str | None:
    mail = parse(fetched.header)
    if mail.svarfrist_kind is not None:
        return None  # a copy of our own acknowledgement
    if answers_nobody(mail):
        return None
    thread = process._thread(session, intake, mail)
    if thread is None:
        return None
    return process.fulfil(
        session, intake, thread=thread, mail=mail, arrived_at=fetched.arrived_at, now=now
    )


def record(intake: Intake, factory: sessionmaker[Session], now: datetime, counts: Counts,
           **health: Any) -> None:  # fmt: skip
    """Add a round's counts to the mailbox's state row that ``status`` and /metrics read."""
    with transaction(factory) as session:
        store.record_round(
            session,
            intake.mailbox,
            name=intake.conf.mailbox_name(),
            now=now,
            outcomes=counts.outcomes,
            ignored=counts.ignored,
            health=health,
        )


def once(
    intake: Intake, factory: sessionmaker[Session], connect: Connector, clock: Clock
) -> Counts:
    """Connect, run one round, disconnect (``svarfrist intake --once``); IMAP errors raise."""
    mailbox = connect_mailbox(intake.conf)
    try:
        _prepare(mailbox, intake, factory, clock)
        counts = run_round(mailbox, intake, factory, connect, clock)
    finally:
        mailbox.close()
    record(intake, factory, clock(), counts, last_round_at=clock().isoformat(), failing_since=None,
           last_error=None)  # fmt: skip
    return counts


def _prepare(
    mailbox: Mailbox, intake: Intake, factory: sessionmaker[Session], clock: Clock
) -> None:
    """Before the first round of a connection: the folders intake moves mail to, and what
    intake kept before it kept it per mailbox (store.adopt; nothing once it is done)."""
    conf = intake.conf
    mailbox.ensure_folders([conf.done_folder, conf.ignored_folder, conf.error_folder])
    with transaction(factory) as session:
        store.adopt(session, intake.mailbox, clock())


def forever(
    intake: Intake,
    factory: sessionmaker[Session],
    connect: Connector,
    clock: Clock,
    stop: threading.Event,
) -> None:
    """Rounds until ``stop`` is set: IDLE between rounds where the server has it, else
    polling every ``poll_seconds``; reconnect with backoff after any IMAP failure."""
    backoff = FIRST_BACKOFF
    failing_since: datetime | None = None
    while not stop.is_set():
        mailbox: Mailbox | None = None
        try:
            mailbox = connect_mailbox(intake.conf)
            _prepare(mailbox, intake, factory, clock)
            while not stop.is_set():
                counts = run_round(mailbox, intake, factory, connect, clock)
                if counts.total or failing_since is not None:
                    log.info("intake: %s", summary(counts))
                record(intake, factory, clock(), counts, last_round_at=clock().isoformat(),
                       failing_since=None, last_error=None)  # fmt: skip
                failing_since, backoff = None, FIRST_BACKOFF
                _wait(mailbox, intake, stop)
        except Exception as exc:  # IMAP down, or the database: back off, never stop reading
            if not isinstance(exc, IMAP_ERRORS):
                log.exception("intake: round failed")
            now = clock()
            failing_since = failing_since or now
            log.warning("intake: IMAP %s: %s; retrying in %d s", type(exc).__name__, exc,
                        backoff.total_seconds())  # fmt: skip
            _record_failure(intake, factory, now=now, since=failing_since, exc=exc, backoff=backoff)
            stop.wait(backoff.total_seconds())
            backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            if mailbox is not None:
                mailbox.close()


def _record_failure(
    intake: Intake,
    factory: sessionmaker[Session],
    *,
    now: datetime,
    since: datetime,
    exc: BaseException,
    backoff: timedelta,
) -> None:
    try:
        record(intake, factory, now, Counts(), failing_since=since.isoformat(),
               last_error=f"{type(exc).__name__}: {exc}"[:300],
               next_attempt_at=(now + backoff).isoformat())  # fmt: skip
    except Exception:  # the database may be down too; the log has it
        log.exception("intake: cannot record the failure")


def _wait(mailbox: Mailbox, intake: Intake, stop: threading.Event) -> None:
    seconds = float(intake.conf.poll_seconds)
    if mailbox.has_idle():
        # IDLE in short slices, so a stop request is seen within one.
        waited = 0.0
        while waited < seconds and not stop.is_set():
            if mailbox.idle_for(min(5.0, seconds - waited)):
                return
            waited += 5.0
    else:
        stop.wait(seconds)


def summary(counts: Counts) -> str:
    """A round in words: the outcomes that happened (acknowledged is counted every round, 0
    when none went out; a round that did nothing says so). An ignored message is named once,
    by its reason: the outcome ``ignored`` counts the same messages (it said "1 ignored, ...,
    1 ignored (bulk)" of one)."""
    unexplained = counts.outcomes["ignored"] - sum(counts.ignored.values())
    parts = [
        f"{n} {name}" for name, n in sorted(counts.outcomes.items()) if n and name != "ignored"
    ]
    parts += [f"{n} ignored ({why})" for why, n in sorted(counts.ignored.items())]
    parts += [f"{unexplained} ignored"] if unexplained > 0 else []
    return ", ".join(parts) or "nothing new"


__all__ = ["Verdict", "connect_mailbox", "forever", "once", "run_round"]
