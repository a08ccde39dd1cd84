"""One message, decided and written: a new inquiry, a follow-up, an advisor's reply, or ignored.

Each message is handled inside a savepoint of its batch's transaction, together with the
folder's progress (UIDVALIDITY + UID) and the move it needs: a kill at any moment re-reads
nothing twice and loses nothing, and a message that raises is rolled back alone and moved to
the error folder. Svarfrist keeps of a citizen's mail only keyed hashes (HMAC) of its
Message-ID, for threading, and of its sender, for the daily cap; the acknowledgement's
outbox row holds the message's UID, from which the address is read when it is sent.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from tracker.config import IntakeSettings, Settings, build_calendar, build_rules
from tracker.core.calendar import BusinessCalendar
from tracker.errors import BadInputError, ConfigError
from tracker.intake.imap import Fetched
from tracker.intake.parse import (
    Mail,
    Verdict,
    answer_address,
    digest,
    parse,
    to_outside,
    verdict,
)
from tracker.mail.acknowledgement import KIND, render_acknowledgement
from tracker.mail.message import message_id
from tracker.mail.render import MailConfig
from tracker.sla import Channel, Rule
from tracker.store import intake as store
from tracker.store import logins, outbox, register
from tracker.store.context import Context
from tracker.store.models import Inquiry
from tracker.store.scope import Scope

log = logging.getLogger(__name__)

ACTOR = "svarfrist-intake"
DONE, IGNORED, ERROR = "done", "ignored", "error"


@dataclass(frozen=True, kw_only=True)
class Intake:
    """What handling a message needs, built once from the settings."""

    settings: Settings
    conf: IntakeSettings
    key: bytes
    mailbox: str
    """The mailbox's key (IntakeSettings.mailbox_key): its progress and acknowledgements."""
    own: frozenset[str]
    staff: frozenset[str]
    """The domains of the office's own people (``staff_domains``)."""
    offices: frozenset[str]
    """The offices the mailbox serves: its mail threads into their inquiries only."""
    calendar: BusinessCalendar
    rules: dict[str, Rule]

    @classmethod
    def of(cls, settings: Settings) -> Intake:
        """Built once at start; an acknowledgement template that cannot render fails here."""
        conf = settings.intake
        assert conf is not None
        own = {a.lower() for a in (conf.address, *conf.departments, *conf.offices) if a}
        if "@" in conf.username:
            own.add(conf.username.lower())
        if conf.template_dir is not None:
            check_template(settings, str(conf.template_dir))
        return cls(
            settings=settings,
            conf=conf,
            key=conf.key(),  # required here: only what reads mail needs its credential
            mailbox=conf.mailbox_key(),
            own=frozenset(own),
            staff=conf.staff(own),
            offices=frozenset(office for office, _ in conf.routes().values()),
            calendar=build_calendar(settings),
            rules=build_rules(settings),
        )

    def context(self, now: datetime) -> Context:
        return Context(
            settings=self.settings,
            calendar=self.calendar,
            rules=self.rules,
            actor=ACTOR,
            now=now,
            recorded_at=now,
        )

    def folder_of(self, target: str) -> str:
        return {
            DONE: self.conf.done_folder,
            IGNORED: self.conf.ignored_folder,
            ERROR: self.conf.error_folder,
        }[target]

    def ack_message_id(self, inquiry_id: int) -> str:
        """The acknowledgement's Message-ID: fixed in advance, so its hash threads replies."""
        key = store.acknowledgement_key(inquiry_id)
        return message_id(key, inquiry_id, self.settings.mail_from)


def check_template(settings: Settings, template_dir: str) -> None:
    """The office's acknowledgement templates render, and keep the ref tag in the subject
    (the citizen's replies thread by it); ConfigError naming ``intake.template_dir``."""
    from email import message_from_bytes
    from email.policy import default

    import jinja2

    sample = datetime(2026, 12, 1, 9, tzinfo=UTC)
    conf = settings.intake
    assert conf is not None
    # Jinja2 passes over a folder it cannot find, and a file it lacks, to the built-in
    # wording: a mistyped path would silently send the text the office meant to replace.
    folder = Path(template_dir)
    if not folder.is_dir():
        raise ConfigError("intake.template_dir", f"{folder} is not a folder")
    names = [f"{conf.language}/{KIND}.{part}.j2" for part in ("subject", "txt", "html")]
    if not any((folder / name).is_file() for name in names):
        raise ConfigError(
            "intake.template_dir",
            f"{folder} holds no {names[0]}, .txt.j2 or .html.j2",
        )
    try:
        envelope = render_acknowledgement(
            ref="2026-000042",
            received_at=sample,
            due_at=sample,
            department="Borgerservice",
            recipient="borger@example.dk",
            in_reply_to=None,
            references=(),
            message_id="<sample@svarfrist>",
            config=MailConfig(mail_from=settings.mail_from, language=conf.language),
            now=sample,
            template_dir=template_dir,
        )
    except (jinja2.TemplateError, OSError, ValueError) as exc:
        raise ConfigError(
            "intake.template_dir", f"the acknowledgement cannot render: {exc}"
        ) from None
    subject = str(message_from_bytes(envelope.data, policy=default)["Subject"])
    if "[SF 2026-000042]" not in subject:
        raise ConfigError("intake.template_dir", "the subject must keep [SF {{ ref }}]")


@dataclass
class Counts:
    """What a round did, by outcome; ``ignored`` by reason."""

    outcomes: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)

    def add(self, other: Counts) -> None:
        self.outcomes.update(other.outcomes)
        self.ignored.update(other.ignored)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


def _message_digest(intake: Intake, mail: Mail, folder: str, fetched: Fetched) -> str:
    """The keyed hash that recognises this message again (a renumbered folder, a copy to a
    second address): its Message-ID, else its arrival time, size and header in this folder
    (two citizens' mails without one may arrive in the same second with the same size)."""
    if mail.message_id:
        return digest(intake.key, mail.message_id)
    header = sha256(fetched.header).hexdigest()
    return digest(
        intake.key, f"{folder}\0{fetched.arrived_at.isoformat()}\0{fetched.size}\0{header}"
    )


def _ref_digest(intake: Intake, ref: str) -> str:
    """The keyed hash under which a closed inquiry's ref joins the thread of its follow-up
    (:func:`_citizen`), so the ref tag leads where the thread does. No Message-ID digest can
    be it: what is hashed holds a space and angle brackets, which the parser never takes
    into a Message-ID (parse._MESSAGE_ID); a NUL it does take."""
    return digest(intake.key, f"<ref {ref}>")


def _thread(session: Session, intake: Intake, mail: Mail) -> store.Thread | None:
    """The inquiry a mail belongs to: the ref tag's, or the newest that In-Reply-To/References
    lead to, an open one before a closed one (a mail in a closed inquiry's thread became a
    new inquiry, which the thread then leads to as well; a closed inquiry's ref tag leads
    there too, by the same lookup); one of the mailbox's offices' only, so no mail attaches
    to or fulfils another office's."""
    tagged = None
    if mail.ref_tag is not None:
        tagged = store.by_ref(session, mail.ref_tag, intake.offices)
        if tagged is not None and tagged.closed:
            followed = [_ref_digest(intake, tagged.ref)]
            tagged = store.thread(session, followed, intake.offices) or tagged
        if tagged is not None and not tagged.closed:
            return tagged
    references = [digest(intake.key, m) for m in mail.references]
    threaded = store.thread(session, references, intake.offices)
    if threaded is not None and not threaded.closed:
        return threaded
    return tagged or threaded


def handle_inbox(
    session: Session, intake: Intake, *, folder: str, uidvalidity: int, f: Fetched, now: datetime
) -> tuple[str, str | None, str]:
    """One message of the intake folder: (outcome, ignored reason, the folder it goes to:
    DONE, IGNORED); the caller plans the move with the batch's (store.plan_moves)."""
    mail = parse(f.header)
    kind, why = verdict(mail, intake.own, intake.staff)
    outcome, target = "ignored", IGNORED
    # The inquiry its thread leads to: what an answer fulfils, what a mail attaches to.
    writer = (Verdict.OWN, Verdict.STAFF, Verdict.CITIZEN)
    thread = _thread(session, intake, mail) if kind in writer else None
    # An advisor's answer to the citizen: from the mailbox, or from their own address to
    # someone outside the office (a colleague's forward to the mailbox answers nobody).
    answer = kind is Verdict.OWN or (
        kind is Verdict.STAFF and to_outside(mail, intake.own, intake.staff)
    )
    if kind is Verdict.SVARFRIST:
        why = "svarfrist"
    elif thread is not None and answer:
        outcome = fulfil(
            session, intake, thread=thread, mail=mail, arrived_at=f.arrived_at, now=now
        )
        target = DONE
    elif answer:  # the office writing to someone about no inquiry the intake knows
        why = "own address"
    elif kind in (Verdict.CITIZEN, Verdict.STAFF):
        outcome, why = _citizen(
            session, intake, folder=folder, uidvalidity=uidvalidity, f=f, mail=mail, now=now,
            thread=thread, staff=kind is Verdict.STAFF,
        )  # fmt: skip
        target = IGNORED if outcome == "ignored" else DONE
    return outcome, why, target


def _citizen(
    session: Session,
    intake: Intake,
    *,
    folder: str,
    uidvalidity: int,
    f: Fetched,
    mail: Mail,
    now: datetime,
    thread: store.Thread | None,
    staff: bool,
) -> tuple[str, str | None]:
    """A citizen's mail, or a colleague's forward (``staff``): that is registered too, but
    never acknowledged nor capped, and it does not end a wait for the citizen. ``thread``:
    the inquiry its thread leads to (:func:`_thread`)."""
    mine = _message_digest(intake, mail, folder, f)
    seen = store.known(session, [mine])
    if seen is not None:  # met before: a renumbered folder, or a copy to a second address
        _repoint(
            session,
            seen[0],
            mine,
            mailbox=intake.mailbox,
            folder=folder,
            uidvalidity=uidvalidity,
            uid=f.uid,
        )
        return "duplicate", None
    if thread is not None and not thread.closed:
        store.remember(session, thread.id, [mine])
        ctx, at = intake.context(now), min(f.arrived_at, now)
        register.mail_attached(session, ctx, thread.ref, at)
        if not staff:
            _resume(session, ctx, thread.ref, at)
        return "attached", None
    # A mail in a closed inquiry's thread is a new written inquiry: registered, acknowledged
    # with its own deadline, and the thread leads to it from now on.
    office, department = intake.conf.addressed(mail.recipients)
    if department is None:
        return "ignored", "no department"
    # The cap counts per citizen, where the acknowledgement goes: a web form's mails all
    # come From one noreply address, each citizen's in its Reply-To.
    citizen = answer_address(mail, intake.own)
    assert citizen is not None  # a citizen's mail is not From the mailbox's own address
    day = now.astimezone(intake.calendar.tz).date().isoformat()
    sender = digest(intake.key, citizen)
    cap = intake.conf.max_per_sender_per_day
    if not staff and not store.count_sender(session, sender, day, cap):
        return "ignored", "daily cap"
    ctx = intake.context(now)
    # The promise goes out in the acknowledgement: none where the sender asks for no
    # automatic reply (Outlook's X-Auto-Response-Suppress), the inquiry registered all the
    # same, and none to a colleague who forwarded a citizen's mail.
    promise = intake.conf.acknowledge and not mail.no_auto_reply and not staff
    advisor = _heir(session, intake, thread, office, department)
    new = register.NewInquiry(
        channel=Channel.EMAIL,
        office=office,
        department=department,
        advisor=advisor,
        received_at=min(f.arrived_at, now),
        answer_promised=promise,
    )
    created = register.create(session, ctx, new)
    ref, inquiry_id = created.inquiry.ref, created.inquiry.id
    ack_digest = digest(intake.key, intake.ack_message_id(inquiry_id).strip("<>"))
    thread_digests = [mine, ack_digest]
    if thread is not None:
        log.info("intake: %s follows up %s, which is closed", ref, thread.ref)
        store.lead_to(session, thread.id, inquiry_id)
        thread_digests.append(_ref_digest(intake, thread.ref))  # its ref tag leads here too
    due = next((o.due_at for o in created.obligations if o.rule == "answer"), None)
    store.remember(session, inquiry_id, thread_digests)
    if promise:
        payload = {
            "ref": ref,
            "mailbox": intake.mailbox,
            "folder": folder,
            "uidvalidity": uidvalidity,
            "uid": f.uid,
            "message": mine,  # the digest of the mail it answers (the thread has more)
        }
        _enqueue_acknowledgement(session, inquiry_id, payload, due, now)
    return "registered", None


def _heir(
    session: Session, intake: Intake, closed: store.Thread | None, office: str, department: str
) -> str | None:
    """The advisor of a closed inquiry's follow-up: the one who knew the case, in the same
    office, while they can still act on it, that is while they have a user account whose
    scope (tracker.store.scope, as the web app builds it) reaches the follow-up's office and
    department. Someone who has left (no account), or moved to another office or department,
    would get its reminders in the team's stead: then it is unassigned, the department's, as
    any new mail."""
    if closed is None or closed.advisor is None or closed.office != office:
        return None
    standing = logins.standing_of(session, closed.advisor)
    if standing is None:
        return None
    scope = Scope.of(
        restrict=intake.settings.web.restrict_departments,
        role=standing.role,
        departments=standing.departments,
        office=standing.office,
    )
    return closed.advisor if scope.allows_office(office) and scope.allows(department) else None


def _resume(session: Session, ctx: Context, ref: str, at: datetime) -> None:
    """The citizen's mail ends the wait for the citizen: a paused inquiry's clocks restart
    at its arrival (event ``resumed``), by ``register.resume``'s rules; an inquiry not paused,
    or paused after the mail arrived, is left as it is."""
    try:
        register.resume(session, ctx, ref, at)
    except BadInputError as exc:
        if exc.code not in ("not_paused", "before_pause"):
            raise


def _enqueue_acknowledgement(
    session: Session,
    inquiry_id: int,
    payload: dict[str, Any],
    due: datetime | None,
    now: datetime,
) -> None:
    """The acknowledgement's row: the message's place (folder, UIDVALIDITY, UID), the ref and
    the promised deadline; the address is read from the message when it is sent."""
    outbox.enqueue(
        session,
        key=store.acknowledgement_key(inquiry_id),
        kind=store.ACKNOWLEDGEMENT,
        recipient="",  # read from the message (folder, UID) when it is sent; never stored
        payload=payload | {"due_at": due.isoformat() if due is not None else None},
        send_at=now,
        inquiry_id=inquiry_id,
    )


def _repoint(
    session: Session,
    inquiry_id: int,
    mine: str,
    *,
    mailbox: str,
    folder: str,
    uidvalidity: int,
    uid: int,
) -> None:
    """A waiting acknowledgement of a message met again under a new UIDVALIDITY of its own
    mailbox reads it from its new UID (a copy in another mailbox leaves it where it is).
    Only the message it answers (``mine``, its digest): the inquiry's thread holds others,
    a closed inquiry's it follows up among them, written perhaps by someone else."""
    row = store.acknowledgement_of(session, inquiry_id)
    if (
        row is not None
        and row.payload.get("message", mine) == mine
        and store.of_mailbox(row.payload, mailbox)
        and row.payload.get("uidvalidity") != uidvalidity
    ):
        payload = dict(row.payload) | {
            "mailbox": mailbox,
            "folder": folder,
            "uidvalidity": uidvalidity,
            "uid": uid,
        }
        store.point_at(session, row.id, payload)


def fulfil(
    session: Session,
    intake: Intake,
    *,
    thread: store.Thread,
    mail: Mail,
    arrived_at: datetime,
    now: datetime,
) -> str:
    """An advisor's reply to the citizen, at its Date: fulfils ``answer`` where it was
    promised; before the acknowledgement went out it cancels it and fulfils ``reply`` too."""
    inquiry = session.get(Inquiry, thread.id)
    if inquiry is None or inquiry.closed_at is not None:
        return "reply to a closed inquiry"
    # Sent before the citizen's mail arrived, it answers an earlier one (the closed inquiry
    # this one follows up, whose thread leads here now), never this one.
    if arrived_at < inquiry.received_at:
        return "reply older than the inquiry"
    # Its Date, where that can be true; a Date before the citizen wrote (a wrong clock, a
    # two-digit year) would flatter the figures: then the time it reached the mailbox.
    dated = mail.date if mail.date is not None and inquiry.received_at <= mail.date else None
    at = max(min(dated or arrived_at, now), inquiry.received_at)
    ctx = intake.context(now)
    waiting = store.acknowledgement_of(session, inquiry.id)
    if waiting is not None and waiting.state == outbox.OutboxState.PENDING:
        store.erase(session, waiting.id)
    done = False
    try:
        if inquiry.replied_at is None:
            register.reply(session, ctx, inquiry.ref, at)
            done = True
        if inquiry.answer_promised and inquiry.answered_at is None:
            register.answer(session, ctx, inquiry.ref, at)
            done = True
    except BadInputError as exc:  # nothing such a reply can fulfil: noted, not an error
        log.info("intake: reply to %s fulfils nothing: %s", inquiry.ref, exc)
    return "answered" if done else "reply again"
