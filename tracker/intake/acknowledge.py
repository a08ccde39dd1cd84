"""Sending the acknowledgements from the outbox: exactly once in all but a counted window.

The row is claimed and committed first (as ``notify`` does); the addresses are then read from
the citizens' messages by their UIDs (one FETCH per claimed batch), each message is handed to
SMTP, and the hand-over times (read just before each) are committed on the rows
(``sent``), those of ``notify.OUTCOMES_PER_COMMIT`` messages per transaction. At the end of
the round, or at the start of the next one after a kill, ``reply`` is fulfilled at that time
and the rows erased, in one transaction. A kill between the SMTP server's acceptance and the
``sent`` commit leaves rows ``sending``; they are claimed again after the lease and sent
twice: the counted window, at most ``OUTCOMES_PER_COMMIT`` messages per kill. A human
reply that arrives first erases the row (tracker.intake.process.fulfil).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tracker.core.validate import EMAIL_RE
from tracker.errors import BadInputError
from tracker.intake.imap import Mailbox
from tracker.intake.parse import Mail, answer_address, parse
from tracker.intake.process import Intake
from tracker.mail.acknowledgement import render_acknowledgement
from tracker.mail.message import AddressError, Envelope
from tracker.mail.render import MailConfig
from tracker.mail.smtp import Connector, DeliveryError, SmtpConfig, smtp_connector
from tracker.notify import OUTCOMES_PER_COMMIT
from tracker.store import intake as store
from tracker.store import outbox, register
from tracker.store.db import transaction
from tracker.store.models import Inquiry

log = logging.getLogger(__name__)

CLAIM_BATCH = 200


@dataclass(frozen=True, kw_only=True)
class _Ready:
    row_id: int
    ref: str
    attempts: int
    payload: dict[str, Any]
    envelope: Envelope


def connector_of(intake: Intake) -> Connector:
    smtp = intake.settings.smtp
    return smtp_connector(
        SmtpConfig(
            host=smtp.host,
            port=smtp.port,
            security=smtp.security,
            username=smtp.username,
            password=smtp.password.get_secret_value() if smtp.password is not None else None,
            timeout_seconds=smtp.timeout_seconds,
            ca_file=smtp.ca_file,
        )
    )


def send_acknowledgements(
    mailbox: Mailbox,
    uidvalidity: int,
    *,
    intake: Intake,
    factory: sessionmaker[Session],
    connect: Connector,
    clock: Callable[[], datetime],
) -> int:
    """Send the due acknowledgements of the selected folder's messages; returns how many."""
    fulfil_sent(factory, intake)  # what a killed reader sent but did not get to fulfil
    now = clock()
    lease = timedelta(seconds=intake.settings.daemon.claim_lease_seconds)
    with transaction(factory) as session:
        rows = outbox.claim(
            session, now=now, limit=CLAIM_BATCH, lease=lease, kinds=(store.ACKNOWLEDGEMENT,)
        )
    if not rows:
        return 0
    ready, elsewhere = _prepare(
        mailbox, uidvalidity, intake=intake, factory=factory, rows=rows, now=now
    )
    if elsewhere:
        with transaction(factory) as session:
            outbox.release(session, elsewhere)
    if not ready:
        return 0
    retry = outbox.RetryPolicy(max_attempts=intake.settings.daemon.max_attempts)

    def settle(done: Sequence[tuple[_Ready, datetime | DeliveryError]]) -> None:
        """Commit the outcomes of a few messages in one transaction, as a reminder's
        (``notify.OUTCOMES_PER_COMMIT``): a kill then repeats at most those and the one in
        flight."""
        sent: list[outbox.Sent] = []
        with transaction(factory) as session:
            for item, outcome in done:
                if isinstance(outcome, datetime):
                    sent.append(outbox.Sent(item.row_id, item.envelope.message_id, outcome))
                elif outcome.permanent:
                    log.warning("intake: acknowledgement of %s refused: %s", item.ref,
                                _reason(outcome))  # fmt: skip
                    store.erase(session, item.row_id)
                else:
                    retrying = outbox.Retry(attempts=item.attempts, payload=item.payload)
                    error, at = _reason(outcome), clock()
                    outbox.mark_retry(
                        session, {item.row_id: retrying}, error=error, now=at, policy=retry
                    )
            if sent:
                outbox.mark_sent(session, sent)

    sent = asyncio.run(_send(connect, ready, clock, settle))
    fulfil_sent(factory, intake)
    return sent


def _reason(error: DeliveryError) -> str:
    """The SMTP server's answer without the citizen's address, which servers quote ("550
    5.1.1 <anna@example.dk>: Recipient address rejected"): it goes to the log and the row."""
    return EMAIL_RE.sub("address", error.detail)


def _prepare(
    mailbox: Mailbox,
    uidvalidity: int,
    *,
    intake: Intake,
    factory: sessionmaker[Session],
    rows: Sequence[Any],
    now: datetime,
) -> tuple[list[_Ready], list[int]]:
    """Each claimed row with its message rendered (the headers in one FETCH, the inquiries in
    one query); rows of another folder or numbering wait, rows whose message or address is
    gone are erased."""
    mine = [r for r in rows if _here(r.payload, intake.mailbox, mailbox.folder, uidvalidity)]
    elsewhere = [
        r.id for r in rows if not _here(r.payload, intake.mailbox, mailbox.folder, uidvalidity)
    ]
    headers = {f.uid: f.header for f in mailbox.fetch([int(r.payload["uid"]) for r in mine])}
    ready: list[_Ready] = []
    with transaction(factory) as session:
        refs = [str(r.payload["ref"]) for r in mine]
        inquiries = {
            i.ref: i for i in session.scalars(select(Inquiry).where(Inquiry.ref.in_(refs)))
        }
        for row in mine:
            p = dict(row.payload)
            inquiry = inquiries.get(str(p["ref"]))
            header = headers.get(int(p["uid"]))
            envelope = _render(intake, inquiry, parse(header), p, now) if header else None
            if inquiry is None or envelope is None:
                log.warning("intake: acknowledgement of %s dropped: UID %s is gone or has no "
                            "usable address", p.get("ref"), p.get("uid"))  # fmt: skip
                store.erase(session, row.id)
                continue
            ready.append(
                _Ready(
                    row_id=row.id,
                    ref=inquiry.ref,
                    attempts=row.attempts,
                    payload=p,
                    envelope=envelope,
                )
            )
    return ready, elsewhere


def _here(payload: Any, key: str, folder: str | None, uidvalidity: int) -> bool:
    """The row's message is in the open folder of this mailbox, under this numbering."""
    return store.in_folder(payload, key, folder) and payload.get("uidvalidity") == uidvalidity


def _render(
    intake: Intake, inquiry: Inquiry | None, mail: Mail, p: dict[str, Any], now: datetime
) -> Envelope | None:
    recipient = answer_address(mail, intake.own)
    if inquiry is None or recipient is None:
        return None
    due = p.get("due_at")
    try:
        return render_acknowledgement(
            ref=inquiry.ref,
            received_at=inquiry.received_at,
            due_at=datetime.fromisoformat(due) if due else None,
            department=inquiry.department,
            recipient=recipient,
            in_reply_to=mail.message_id,
            references=mail.references,
            message_id=intake.ack_message_id(inquiry.id),
            config=MailConfig(mail_from=intake.settings.mail_from, language=intake.conf.language),
            now=now,
            template_dir=str(intake.conf.template_dir) if intake.conf.template_dir else None,
        )
    except AddressError:
        return None


Outcome = tuple[_Ready, datetime | DeliveryError]


async def _send(
    connect: Connector,
    ready: Sequence[_Ready],
    clock: Callable[[], datetime],
    settle: Callable[[Sequence[Outcome]], None],
) -> int:
    """Send over one SMTP connection, settling every ``OUTCOMES_PER_COMMIT`` messages;
    returns how many went."""
    try:
        connection = await connect()
    except DeliveryError as exc:
        settle([(item, exc) for item in ready])
        return 0
    kept: list[Outcome] = []
    sent = 0
    try:
        for done, item in enumerate(ready):
            at = clock()  # the moment of the hand-over: the reply it fulfils happened then
            try:
                await connection.send(item.envelope)
            except DeliveryError as exc:
                kept.append((item, exc))
                if exc.connection_lost:
                    lost = DeliveryError("*", "connection lost", permanent=False)
                    kept.extend((rest, lost) for rest in ready[done + 1 :])
                    break
                continue
            kept.append((item, at))
            sent += 1
            if len(kept) >= OUTCOMES_PER_COMMIT:
                settle(kept)
                kept = []
    finally:
        if kept:
            settle(kept)
        await connection.close()
    return sent


def fulfil_sent(factory: sessionmaker[Session], intake: Intake) -> None:
    """The acknowledgements handed to SMTP: ``reply`` fulfilled at the hand-over (``sent_at``)
    and the rows erased, with the UIDs they held, in one transaction."""
    with transaction(factory) as session:
        sent = outbox.sent_of_kind(session, store.ACKNOWLEDGEMENT)
        store.erase_many(session, [row_id for row_id, _, _ in sent])
        for _, ref, at in sent:
            try:
                register.reply(session, intake.context(at), ref, at)
            except BadInputError as exc:  # replied to meanwhile, closed, no reply rule
                log.info("intake: acknowledgement of %s fulfils nothing: %s", ref, exc)
