"""Mail intake from a local Maildir (``[intake] maildir``): the same processing as IMAP, on
a real Maildir on disk, acknowledgements to the aiosmtpd sink, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import mailbox
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from intake_world import DEPARTMENTS, HASH_KEY, citizen_mail
from smtp_sink import Sink
from sqlalchemy import Engine, select

from tracker.config import IntakeSettings, OfficeSettings, Settings
from tracker.core.calendar import COPENHAGEN
from tracker.intake import loop
from tracker.intake.acknowledge import connector_of
from tracker.intake.maildir import UIDLIST, MaildirMailbox
from tracker.intake.process import Counts, Intake
from tracker.store import access, history, register, schema
from tracker.store import intake as intake_store
from tracker.store.db import make_engine, session_factory, transaction
from tracker.store.models import Event, Inquiry, Obligation, OutboxMessage, Pause

OWN = "borgerservice@kommune.test"
ARRIVED = datetime(2026, 11, 30, 8, 12, tzinfo=UTC)


@dataclass
class Local:
    root: Path
    sink: Sink
    engine: Engine
    settings: Settings

    def deliver(self, raw: bytes, at: datetime = ARRIVED) -> None:
        message = mailbox.MaildirMessage(raw)
        message.set_date(at.timestamp())
        mailbox.Maildir(self.root, create=True).add(message)

    def round(self, now: datetime) -> Counts:
        intake = Intake.of(self.settings)
        factory = session_factory(self.engine)
        return loop.once(intake, factory, connector_of(intake), lambda: now)

    def inquiries(self) -> list[Inquiry]:
        with session_factory(self.engine)() as session:
            return list(session.scalars(select(Inquiry).order_by(Inquiry.id)))

    def files(self, folder: str) -> int:
        path = self.root if folder == "INBOX" else self.root / folder
        return sum(1 for sub in ("new", "cur") for _ in (path / sub).glob("*"))


@pytest.fixture
def local(database_url: str, tmp_path: Path) -> Iterator[Local]:
    sink = Sink().start()
    engine = make_engine(database_url)
    schema.upgrade(engine)
    settings = Settings(
        database_url=database_url,
        mail_from=f"Fredericia Kommune <{OWN}>",
        default_recipient="team@kommune.test",
        smtp={"host": "127.0.0.1", "port": sink.port, "security": "none"},
        intake=IntakeSettings(
            maildir=tmp_path / "Maildir",
            address=OWN,
            default_department="Arbejdsmarked og Borgerservice",
            departments=DEPARTMENTS,
            hash_key=HASH_KEY,  # type: ignore[arg-type]
        ),
    )
    try:
        yield Local(root=tmp_path / "Maildir", sink=sink, engine=engine, settings=settings)
    finally:
        engine.dispose()
        sink.stop()


def test_a_maildir_goes_through_the_same_intake_as_an_imap_mailbox(local: Local) -> None:
    # A minute apart: the intake reads the oldest delivery first, and the order of files
    # delivered in the same instant is that of their names, which Python's Maildir keys do
    # not give in delivery order (unpadded microseconds).
    minute = timedelta(minutes=1)
    local.deliver(citizen_mail(1, sender="anna@example.dk"))
    local.deliver(citizen_mail(2, sender="bo@example.dk", to="byg@kommune.test"), ARRIVED + minute)
    local.deliver(
        citizen_mail(3, sender="ferie@example.dk", extra="Auto-Submitted: auto-replied\r\n"),
        ARRIVED + 2 * minute,
    )
    now = ARRIVED + timedelta(minutes=5)
    counts = local.round(now)
    assert counts.outcomes["registered"] == 2 and counts.ignored["auto-submitted"] == 1
    assert counts.outcomes["acknowledged"] == 2
    inquiries = local.inquiries()
    assert [(i.channel, i.department) for i in inquiries] == [
        ("email", "Arbejdsmarked og Borgerservice"),
        ("email", "Teknik og Miljø"),
    ]
    # The arrival time is the delivery time (the file's), the reply met at the hand-over.
    assert inquiries[0].received_at == ARRIVED and inquiries[0].replied_at == now
    assert sorted(m.rcpt[0] for m in local.sink.handler.received) == [
        "anna@example.dk",
        "bo@example.dk",
    ]
    kinds = {str(m.message["X-Svarfrist-Kind"]) for m in local.sink.handler.received}
    assert kinds == {"acknowledgement"}
    # Moved, never deleted: every file is in a sub-folder, the inbox is empty.
    assert local.files("INBOX") == 0
    assert local.files(".Svarfrist.Registreret") == 2 and local.files(".Svarfrist.Ignoreret") == 1


def test_a_round_that_finds_no_mail_says_nothing_new(local: Local) -> None:
    """An empty mailbox printed "intake: 0 acknowledged", as if a mail had waited for one."""
    mailbox.Maildir(local.root, create=True)  # as the delivery agent makes it
    assert loop.summary(local.round(ARRIVED)) == "nothing new"
    local.deliver(citizen_mail(1))
    assert loop.summary(local.round(ARRIVED + timedelta(minutes=1))) == (
        "1 acknowledged, 1 registered"
    )
    assert loop.summary(local.round(ARRIVED + timedelta(minutes=2))) == "nothing new"


def test_a_follow_up_attaches_and_nothing_is_read_twice(local: Local) -> None:
    local.deliver(citizen_mail(1, sender="anna@example.dk"))
    local.round(ARRIVED + timedelta(minutes=5))
    follow_up = citizen_mail(
        2, sender="anna@example.dk", extra="In-Reply-To: <citizen-1@example.dk>\r\n"
    )
    local.deliver(follow_up, ARRIVED + timedelta(hours=1))
    counts = local.round(ARRIVED + timedelta(hours=1, minutes=5))
    assert counts.outcomes["attached"] == 1 and counts.outcomes["registered"] == 0
    again = local.round(ARRIVED + timedelta(hours=2))
    assert again.total == 0
    assert len(local.inquiries()) == 1 and len(local.sink.handler.received) == 1
    assert local.files(".Svarfrist.Registreret") == 2


def forget_numbering(local: Local) -> None:
    """The registered mail back in the intake folder, its numbering forgotten."""
    done = local.root / ".Svarfrist.Registreret"
    for path in [*(done / "new").glob("*"), *(done / "cur").glob("*")]:
        path.rename(local.root / path.parent.name / path.name)
    (local.root / UIDLIST).unlink()


def test_a_lost_uid_list_registers_no_mail_twice(local: Local) -> None:
    """A new UIDVALIDITY: the folder is read again and each mail recognised by its hash."""
    local.deliver(citizen_mail(1, sender="anna@example.dk"))
    local.round(ARRIVED + timedelta(minutes=5))
    forget_numbering(local)  # a restored backup, say
    counts = local.round(ARRIVED + timedelta(minutes=10))
    assert counts.outcomes["duplicate"] == 1 and len(local.inquiries()) == 1
    assert len(local.sink.handler.received) == 1  # acknowledged once


def test_mails_without_a_message_id_of_one_instant_and_size_are_each_registered(
    local: Local,
) -> None:
    """Without a Message-ID a mail is recognised by its arrival, size and header: two
    citizens' mails of the same second and size were one, and the second was lost."""
    for sender in ("aa@example.dk", "bb@example.dk"):
        local.deliver(
            f"From: {sender}\r\nTo: {OWN}\r\nSubject: Hej\r\n\r\nEt spørgsmål\r\n".encode()
        )
    counts = local.round(ARRIVED + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 2 and counts.outcomes["duplicate"] == 0
    assert sorted(m.rcpt[0] for m in local.sink.handler.received) == [
        "aa@example.dk",
        "bb@example.dk",
    ]
    forget_numbering(local)  # read again from the start: each still recognised, none twice
    again = local.round(ARRIVED + timedelta(minutes=10))
    assert again.outcomes["duplicate"] == 2 and len(local.inquiries()) == 2


def test_a_refusal_quoting_the_address_keeps_it_out_of_the_log_and_the_outbox(
    local: Local, caplog: pytest.LogCaptureFixture
) -> None:
    """SMTP servers quote the refused address; the log and the row keep the rest."""
    local.sink.handler.refuse = {
        "anna@example.dk": "550 5.1.1 <anna@example.dk>: Recipient address rejected",
        "bo@example.dk": "450 4.2.0 <bo@example.dk>: Recipient address rejected: Greylisted",
    }
    local.deliver(citizen_mail(1, sender="anna@example.dk"))
    local.deliver(citizen_mail(2, sender="bo@example.dk"), ARRIVED + timedelta(minutes=1))
    with caplog.at_level(logging.INFO, logger="tracker"):
        counts = local.round(ARRIVED + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 2 and counts.outcomes["acknowledged"] == 0
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("tracker")]
    assert any("550 5.1.1 <address>" in line for line in logged)
    assert not any("example.dk" in line for line in logged)
    with session_factory(local.engine)() as session:
        (error,) = session.scalars(select(OutboxMessage.last_error))
    assert error is not None and "450 4.2.0 <address>" in error and "example.dk" not in error


@pytest.mark.parametrize("made", ["nothing", "an empty folder"])
def test_a_maildir_that_is_not_there_is_an_error_and_nothing_is_made(
    local: Local, made: str
) -> None:
    """A mistyped ``maildir`` was made into a new, empty Maildir: `intake --once` said
    "0 acknowledged", the daemon read it healthily forever, and the mail stayed unread. An
    empty folder got the Svarfrist/ folders before the round failed on its missing INBOX."""
    if made == "an empty folder":
        local.root.mkdir()
    with pytest.raises(FileNotFoundError, match=f"no Maildir at {local.root}"):
        local.round(ARRIVED)
    if made == "nothing":
        assert not local.root.exists()
    else:
        assert list(local.root.iterdir()) == []
    assert local.inquiries() == []


def test_the_maildir_numbers_files_in_delivery_order_and_keeps_the_numbers(
    tmp_path: Path,
) -> None:
    maildir = mailbox.Maildir(tmp_path / "m", create=True)
    box = MaildirMailbox.connect(tmp_path / "m")
    for n, minutes in enumerate((30, 10, 20)):
        message = mailbox.MaildirMessage(citizen_mail(n))
        message.set_date((ARRIVED + timedelta(minutes=minutes)).timestamp())
        maildir.add(message)
    validity = box.open("INBOX")
    fetched = box.fetch_after(0, 10)
    assert [f.uid for f in fetched] == [1, 2, 3]
    assert [f.arrived_at for f in fetched] == [ARRIVED + timedelta(minutes=m) for m in (10, 20, 30)]
    assert all(f.header.endswith(b"\n\n") and b"Hej" not in f.header for f in fetched)
    box.move([2], "Svarfrist/Registreret")
    again = MaildirMailbox.connect(tmp_path / "m")
    assert again.open("INBOX") == validity
    assert [f.uid for f in again.fetch_after(0, 10)] == [1, 3]
    assert again.exists("Svarfrist/Registreret") and not again.exists("Svarfrist/Fejl")


def test_files_of_one_instant_are_numbered_in_the_order_their_names_were_given(
    tmp_path: Path,
) -> None:
    # Same modification time (a copy, a restore, a fast delivery agent): the names decide,
    # and a delivery agent writes the microseconds unpadded, so M5 came before M123456.
    mailbox.Maildir(tmp_path / "m", create=True)  # as the delivery agent made it
    box = MaildirMailbox.connect(tmp_path / "m")
    names = ["1765000000.M5P7Q1.host", "1765000000.M40P7Q2.host", "1765000000.M123456P7Q3.host"]
    for n, name in enumerate(names):
        path = tmp_path / "m" / "new" / name
        path.write_bytes(citizen_mail(n))
        os.utime(path, (ARRIVED.timestamp(), ARRIVED.timestamp()))
    box.open("INBOX")
    numbered = {f.uid: f.header for f in box.fetch_after(0, 10)}
    assert [f"<citizen-{n}@".encode() in numbered[n + 1] for n in range(3)] == [True] * 3


def test_mail_to_an_offices_address_follows_that_offices_calendar_and_departments(
    local: Local,
) -> None:
    """Vejle closes on Monday 30 November 2026 (its own closing day): a mail that arrives
    then is promised an answer by Vejle's calendar, not the default office's."""
    vejle = {
        "departments": ["Borgerservice Vejle"],
        "calendar": {"closed_dates": ["2026-11-30"]},
    }
    assert local.settings.intake is not None
    intake = local.settings.intake.model_copy(
        update={
            "offices": {"borger@vejle.test": "vejle"},
            "departments": DEPARTMENTS | {"borger@vejle.test": "Borgerservice Vejle"},
        }
    )
    local.settings = local.settings.model_copy(
        update={"intake": intake, "offices": {"vejle": OfficeSettings(**vejle)}}
    )
    local.deliver(citizen_mail(1, sender="anna@example.dk"))
    local.deliver(citizen_mail(2, sender="bo@example.dk", to="borger@vejle.test"))
    counts = local.round(ARRIVED + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 2
    inquiries = local.inquiries()
    assert [(i.office, i.department) for i in inquiries] == [
        ("default", "Arbejdsmarked og Borgerservice"),
        ("vejle", "Borgerservice Vejle"),
    ]
    with session_factory(local.engine)() as session:
        answers = dict(
            session.execute(
                select(Inquiry.office, Obligation.due_at)
                .join(Obligation, Obligation.inquiry_id == Inquiry.id)
                .where(Obligation.rule == "answer")
            ).all()
        )
    # 10 working days: from Monday 09:12 to Monday 14 December 09:12; in Vejle the clock
    # starts on Tuesday 00:00 and runs out at the end of Monday 14 December.
    assert answers["default"] == datetime(2026, 12, 14, 9, 12, tzinfo=COPENHAGEN)
    assert answers["vejle"] == datetime(2026, 12, 15, 0, 0, tzinfo=COPENHAGEN)


def test_a_mailbox_threads_no_mail_into_another_offices_inquiry(local: Local) -> None:
    """A ref tag or a reference to an inquiry of an office the mailbox does not serve
    neither attaches a citizen's mail to it nor fulfils its answer."""
    assert local.settings.intake is not None
    default_only = local.settings.model_copy(
        update={"offices": {"vejle": OfficeSettings(departments=["Borgerservice Vejle"])}}
    )
    vejle_only = local.settings.intake.model_copy(
        update={"office": "vejle", "default_department": "Borgerservice Vejle", "departments": {}}
    )
    local.settings = default_only.model_copy(update={"intake": vejle_only})
    local.deliver(citizen_mail(1, sender="anna@example.dk"))
    local.round(ARRIVED + timedelta(minutes=5))
    (vejle,) = local.inquiries()
    assert vejle.office == "vejle"
    # The same mailbox now the default office's alone: Vejle's inquiry is not its own.
    local.settings = default_only
    later = ARRIVED + timedelta(hours=1)
    local.deliver(citizen_mail(2, sender="bo@example.dk", subject=f"Sv: [SF {vejle.ref}]"), later)
    reply = (
        f"From: {OWN}\r\nTo: anna@example.dk\r\nSubject: Sv: [SF {vejle.ref}]\r\n"
        "Message-ID: <reply-1@kommune.test>\r\nIn-Reply-To: <citizen-1@example.dk>\r\n"
        "Date: Mon, 30 Nov 2026 10:00:00 +0100\r\n\r\nSvar\r\n"
    ).encode()
    local.deliver(reply, later + timedelta(minutes=1))
    counts = local.round(later + timedelta(minutes=5))
    assert counts.outcomes["attached"] == 0 and counts.outcomes["answered"] == 0
    assert counts.outcomes["registered"] == 1 and counts.ignored["own address"] == 1
    first, second = local.inquiries()
    assert first.answered_at is None and (second.office, second.ref) == ("default", "2026-000002")


def _second_mailbox(local: Local, name: str) -> Settings:
    """``local``'s settings reading another Maildir into the same database: an office with
    two mailboxes runs one intake per mailbox."""
    assert local.settings.intake is not None
    other = local.settings.intake.model_copy(update={"maildir": local.root.parent / name})
    return local.settings.model_copy(update={"intake": other})


def _same_validity(*roots: Path) -> None:
    """The folders' next UIDVALIDITY made equal: servers give the time of the folder's
    creation, so two mailboxes made in one second have the same one."""
    for root in roots:
        mailbox.Maildir(root, create=True)
        (root / "svarfrist-uidvalidity").write_text("4000000000\n", encoding="ascii")


def test_two_mailboxes_on_one_database_each_keep_their_own_progress(local: Local) -> None:
    """Both inboxes are called INBOX and numbered alike: the second intake's mails must not be
    taken for ones the first has read, nor the first's read again after the second's round."""
    second = _second_mailbox(local, "Byg")
    _same_validity(local.root, local.root.parent / "Byg")
    first = local.settings
    for n in (1, 2, 3):
        local.deliver(citizen_mail(n, sender=f"a{n}@example.dk"), ARRIVED + timedelta(minutes=n))
    assert local.round(ARRIVED + timedelta(minutes=10)).outcomes["registered"] == 3
    local.settings, local.root = second, local.root.parent / "Byg"
    for n in (4, 5):
        local.deliver(citizen_mail(n, sender=f"b{n}@example.dk"), ARRIVED + timedelta(minutes=n))
    assert local.round(ARRIVED + timedelta(minutes=20)).outcomes["registered"] == 2
    local.settings, local.root = first, local.root.parent / "Maildir"
    local.deliver(citizen_mail(6, sender="a6@example.dk"), ARRIVED + timedelta(minutes=30))
    counts = local.round(ARRIVED + timedelta(minutes=40))
    assert counts.outcomes["registered"] == 1 and counts.outcomes["attached"] == 0
    assert len(local.inquiries()) == 6
    assert sorted(m.rcpt[0] for m in local.sink.handler.received) == sorted(
        f"{p}{n}@example.dk"
        for p, n in (("a", 1), ("a", 2), ("a", 3), ("b", 4), ("b", 5), ("a", 6))
    )


def test_an_acknowledgement_is_sent_from_its_own_mailbox_only(local: Local) -> None:
    """An acknowledgement still to send names its message by UID: another mailbox's intake,
    whose message of that UID is another citizen's, must leave it alone."""
    second = _second_mailbox(local, "Byg")
    _same_validity(local.root, local.root.parent / "Byg")
    first = local.settings
    local.deliver(citizen_mail(1, sender="anna@example.dk"))
    # The first intake registers, but its SMTP server is down: the acknowledgement waits.
    down = first.model_copy(update={"smtp": first.smtp.model_copy(update={"port": 9})})
    local.settings = down
    counts = local.round(ARRIVED + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 1 and counts.outcomes["acknowledged"] == 0
    local.settings, local.root = second, local.root.parent / "Byg"
    local.deliver(citizen_mail(2, sender="bo@example.dk"))
    local.round(ARRIVED + timedelta(hours=1))
    # Bo is acknowledged his own inquiry, never Anna's.
    received = [(m.rcpt[0], str(m.message["Subject"])) for m in local.sink.handler.received]
    assert [r for r, _ in received] == ["bo@example.dk"]
    assert "2026-000002" in received[0][1]
    local.settings, local.root = first, local.root.parent / "Maildir"
    local.round(ARRIVED + timedelta(hours=2))
    received = [(m.rcpt[0], str(m.message["Subject"])) for m in local.sink.handler.received]
    assert received[1][0] == "anna@example.dk" and "2026-000001" in received[1][1]


def test_status_shows_each_mailbox_and_one_that_cannot_be_read(
    local: Local, tmp_path: Path, run_cli
) -> None:  # type: ignore[no-untyped-def]
    """Two intakes on one database: a mailbox that cannot be read is shown as failing, by
    name, while the other reads on; its successes do not hide the outage."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the Maildir should be\\n", encoding="utf-8")
    broken = _second_mailbox(local, "unused")
    assert broken.intake is not None
    broken = broken.model_copy(
        update={"intake": broken.intake.model_copy(update={"maildir": blocked / "Maildir"})}
    )
    factory = session_factory(local.engine)
    stop = threading.Event()
    failed_at = ARRIVED + timedelta(minutes=1)
    reading = threading.Thread(
        target=loop.forever,
        args=(Intake.of(broken), factory, connector_of(Intake.of(broken)), lambda: failed_at, stop),
    )
    reading.start()
    try:
        for _ in range(500):
            with factory() as session:
                state = intake_store.states(session)
            if state is not None and state["failing_since"]:
                break
            time.sleep(0.01)
    finally:
        stop.set()
        reading.join(timeout=30)
    local.deliver(citizen_mail(1, sender="anna@example.dk"))
    local.round(ARRIVED + timedelta(hours=1))  # the first mailbox reads on
    env = {"SVARFRIST_DATABASE_URL": local.settings.database_url}
    status = run_cli("status", "--now", "2026-11-30T11:00", "--json", env=env)
    intake = json.loads(status.stdout)["intake"]
    assert intake["counts"] == {"registered": 1, "acknowledged": 1}
    # Local with offset, to the second, as every time in status --json (they were the
    # stored UTC: "2026-11-30T08:01:00+00:00").
    local_failed = failed_at.astimezone(COPENHAGEN).isoformat()
    assert intake["failing_since"] == local_failed
    names = {m["mailbox"]: m["failing_since"] for m in intake["mailboxes"]}
    assert names == {str(local.root): None, str(blocked / "Maildir"): local_failed}
    assert intake["last_round_at"] is None  # the blocked mailbox has never finished one
    rounds = [m.get("last_round_at") for m in intake["mailboxes"]]
    assert [r for r in rounds if r] and all(r.endswith("+01:00") for r in rounds if r)
    assert "+00:00" not in status.stdout
    assert status.returncode == 1
    assert any(str(blocked / "Maildir") in p for p in json.loads(status.stdout)["problems"])
    text = run_cli("status", "--now", "2026-11-30T11:00", env=env).stdout
    assert f"mail intake FAILING {blocked / 'Maildir'} since" in text
    # The text's times are local to the second, as every other time status prints.
    assert f"since {local_failed}: " in text and "+00:00" not in text
    assert str(local.root) not in text.split("FAILING", 1)[1]


def test_counts_from_before_the_state_was_kept_per_mailbox_are_carried_on(local: Local) -> None:
    from tracker.store import outbox

    factory = session_factory(local.engine)
    with factory.begin() as session:
        earlier = {"counts": {"registered": 40}, "ignored": {"bulk": 3}, "failing_since": None}
        outbox.put_state(session, "intake", ARRIVED, earlier)
    local.deliver(citizen_mail(1, sender="anna@example.dk"))
    local.round(ARRIVED + timedelta(minutes=5))
    with factory() as session:
        state = intake_store.states(session)
        assert outbox.get_state(session, "intake") is None
    assert state is not None
    assert state["counts"] == {"registered": 41, "acknowledged": 1}
    assert state["ignored"] == {"bulk": 3}
    assert [m["mailbox"] for m in state["mailboxes"]] == [str(local.root)]


def test_a_reply_to_of_the_mailbox_itself_acknowledges_the_citizen(local: Local) -> None:
    """A web form or a mail client that sets Reply-To to the office's own address: the
    acknowledgement with the deadline went to the mailbox itself (where it was ignored as
    Svarfrist's own), and the citizen never got it."""
    local.deliver(citizen_mail(1, sender="anna@example.dk", to=OWN, extra=f"Reply-To: {OWN}\r\n"))
    counts = local.round(ARRIVED + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 1 and counts.outcomes["acknowledged"] == 1
    assert [m.rcpt for m in local.sink.handler.received] == [["anna@example.dk"]]


def test_a_web_forms_mails_are_capped_per_citizen_not_per_form(local: Local) -> None:
    """A self-service form sends every citizen's mail From one noreply address, the citizen
    in Reply-To: the daily cap counted the form, so from its sixth mail of the day every
    citizen's inquiry was ignored. It counts the address the citizen is answered at."""
    form = "noreply@selvbetjening.kommune.test"
    for n in range(7):
        extra = f"Reply-To: Borger {n} <borger{n}@example.dk>\r\n"
        local.deliver(citizen_mail(n, sender=form, extra=extra), ARRIVED + timedelta(minutes=n))
    local.deliver(
        citizen_mail(7, sender=form, extra="Reply-To: borger0@example.dk\r\n"),
        ARRIVED + timedelta(minutes=7),
    )
    counts = local.round(ARRIVED + timedelta(minutes=10))
    assert counts.outcomes["registered"] == 8 and counts.ignored["daily cap"] == 0
    assert sorted(m.rcpt[0] for m in local.sink.handler.received) == sorted(
        ["borger0@example.dk"] * 2 + [f"borger{n}@example.dk" for n in range(1, 7)]
    )


def test_a_reply_deep_in_a_long_thread_attaches_by_the_threads_root(local: Local) -> None:
    """A citizen answers at the end of a long thread (Gmail keeps every id in References):
    only the newest 20 ids were looked up, so a thread whose known message is its root
    registered the follow-up as a new inquiry with a second acknowledgement."""
    local.deliver(citizen_mail(1, sender="anna@example.dk"))
    local.round(ARRIVED + timedelta(minutes=5))
    chain = " ".join(["<citizen-1@example.dk>", *(f"<t{n}@example.dk>" for n in range(30))])
    later = ARRIVED + timedelta(days=1)
    local.deliver(
        citizen_mail(2, sender="anna@example.dk", subject="Sv: Sv: Sv: Spørgsmål",
                     extra=f"References: {chain}\r\nIn-Reply-To: <t29@example.dk>\r\n"),
        later,
    )  # fmt: skip
    counts = local.round(later + timedelta(minutes=5))
    assert counts.outcomes["attached"] == 1 and counts.outcomes["registered"] == 0
    assert len(local.inquiries()) == 1 and len(local.sink.handler.received) == 1


def test_a_mail_asking_for_no_automatic_reply_is_registered_but_not_acknowledged(
    local: Local,
) -> None:
    """Outlook sets X-Auto-Response-Suppress on mail a person wrote: it was ignored as an
    auto-reply, and the citizen's inquiry was never registered."""
    minute = timedelta(minutes=1)
    suppress = "X-Auto-Response-Suppress: All\r\n"
    local.deliver(citizen_mail(1, sender="anna@example.dk", extra=suppress))
    local.deliver(
        citizen_mail(2, sender="bo@example.dk", extra="X-Auto-Response-Suppress: OOF\r\n"),
        ARRIVED + minute,
    )
    now = ARRIVED + timedelta(minutes=5)
    counts = local.round(now)
    assert counts.outcomes["registered"] == 2 and counts.ignored == {}
    anna, bo = local.inquiries()
    # Anna asked for no automatic reply: registered, no acknowledgement, no answer promised.
    assert (anna.answer_promised, anna.replied_at) == (False, None)
    assert (bo.answer_promised, bo.replied_at) == (True, now)
    assert [m.rcpt[0] for m in local.sink.handler.received] == ["bo@example.dk"]
    with session_factory(local.engine)() as session:
        rules = session.scalars(
            select(Obligation.rule).where(Obligation.inquiry_id == anna.id)
        ).all()
    assert rules == ["reply"]  # an advisor acknowledges her in person, within 24 hours
    assert local.files("INBOX") == 0 and local.files(".Svarfrist.Registreret") == 2


def _act(local: Local, action: Any, ref: str, at: datetime) -> None:
    with transaction(session_factory(local.engine)) as session:
        action(session, Intake.of(local.settings).context(at), ref, at)


def _answer_due(local: Local) -> datetime:
    with session_factory(local.engine)() as session:
        query = select(Obligation.due_at).where(Obligation.rule == "answer")
        return session.scalars(query).one()


def _events(local: Local, ref: str) -> list[str]:
    with session_factory(local.engine)() as session:
        query = select(Event.kind).join(Inquiry).where(Inquiry.ref == ref).order_by(Event.id)
        return list(session.scalars(query))


def test_a_citizens_follow_up_restarts_the_clocks_of_an_inquiry_paused_for_them(
    local: Local,
) -> None:
    """Paused while waiting for the citizen: their answer ends the wait, at its arrival."""
    local.deliver(citizen_mail(1))
    local.round(ARRIVED + timedelta(minutes=5))
    [inquiry] = local.inquiries()
    before = _answer_due(local)
    _act(local, register.pause, inquiry.ref, ARRIVED + timedelta(hours=1))
    answered = ARRIVED + timedelta(hours=3)
    local.deliver(citizen_mail(2, extra="In-Reply-To: <citizen-1@example.dk>\r\n"), answered)
    counts = local.round(answered + timedelta(minutes=5))
    assert counts.outcomes["attached"] == 1 and counts.outcomes["registered"] == 0
    assert _events(local, inquiry.ref)[-2:] == ["mail_attached", "resumed"]
    with session_factory(local.engine)() as session:
        [pause] = session.scalars(select(Pause)).all()
        assert (pause.start, pause.end) == (ARRIVED + timedelta(hours=1), answered)
    assert _answer_due(local) == before + timedelta(hours=2)  # two working hours paused
    # A follow-up to an inquiry not paused, or paused after the mail arrived, changes no clock.
    local.deliver(citizen_mail(3, extra="In-Reply-To: <citizen-1@example.dk>\r\n"), answered)
    _act(local, register.pause, inquiry.ref, answered + timedelta(hours=1))
    local.round(answered + timedelta(hours=1, minutes=5))
    assert _events(local, inquiry.ref)[-2:] == ["paused", "mail_attached"]


def test_a_citizens_mail_in_the_thread_of_a_closed_inquiry_is_a_new_inquiry(
    local: Local,
) -> None:
    """Written after the case was closed, it needs an answer of its own: registered and
    acknowledged with its own deadline, for the advisor who handled the case; the thread
    leads to the new inquiry from then on."""
    local.deliver(citizen_mail(1))
    local.round(ARRIVED + timedelta(minutes=5))
    [first] = local.inquiries()
    _add_user(local, "bo@kommune.test")
    _assign(local, first.ref, "bo@kommune.test")
    _act(local, register.close, first.ref, ARRIVED + timedelta(hours=1))
    again = ARRIVED + timedelta(hours=2)
    tagged = f"Re: [SF {first.ref}] Spørgsmål"
    local.deliver(
        citizen_mail(2, subject=tagged, extra="In-Reply-To: <citizen-1@example.dk>\r\n"), again
    )
    counts = local.round(again + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 1 and counts.outcomes["acknowledged"] == 1
    first_again, second = local.inquiries()
    assert first_again.closed_at == ARRIVED + timedelta(hours=1)
    assert second.received_at == again and second.closed_at is None
    assert second.advisor == "bo@kommune.test"  # who knows the case
    subjects = [str(m.message["Subject"]) for m in local.sink.handler.received]
    assert [f"[SF {first.ref}]" in subjects[0], f"[SF {second.ref}]" in subjects[1]] == [True] * 2
    # The citizen writes once more in the old thread, with the old ref tag: the new inquiry's.
    references = "References: <citizen-1@example.dk> <citizen-2@example.dk>\r\n"
    local.deliver(citizen_mail(3, subject=tagged, extra=references), again + timedelta(hours=1))
    counts = local.round(again + timedelta(hours=1, minutes=5))
    assert counts.outcomes["attached"] == 1 and counts.outcomes["registered"] == 0
    assert _events(local, second.ref)[-1] == "mail_attached"
    assert "mail_attached" not in _events(local, first.ref)


def _add_user(local: Local, email: str, *, office: str = "*", departments: Any = ()) -> None:
    with transaction(session_factory(local.engine)) as session:
        access.add_user(
            session,
            email=email,
            role_name="advisor",
            password_hash="$argon2id$not-used",
            now=ARRIVED,
            departments=departments,
            configured=[local.settings.intake.default_department, *DEPARTMENTS.values()]
            if local.settings.intake is not None
            else (),
            office=office,
        )


def _assign(local: Local, ref: str, advisor: str) -> None:
    with transaction(session_factory(local.engine)) as session:
        ctx = Intake.of(local.settings).context(ARRIVED + timedelta(minutes=30))
        history.assign(session, ctx, ref, advisor)


@pytest.mark.parametrize(
    "account",
    ["none", "removed", "another office", "another department", "this department"],
)
def test_a_follow_up_goes_to_the_closed_cases_advisor_only_while_they_can_act_on_it(
    local: Local, account: str
) -> None:
    """The follow-up inherited the closed case's advisor whoever they were by now: someone
    who has left (no account) got its reminders, and the team none. It goes to them only
    while they have an account that reaches its office and department; else it is the
    department's, unassigned, as any new mail."""
    assert local.settings.intake is not None
    local.settings.web.restrict_departments = account.endswith("department")
    local.deliver(citizen_mail(1))
    local.round(ARRIVED + timedelta(minutes=5))
    [first] = local.inquiries()
    advisor = "bo@kommune.test"
    if account != "none":
        office = "vejle" if account == "another office" else "*"
        department = {"another department": ["Teknik og Miljø"]}.get(
            account, [local.settings.intake.default_department]
        )
        _add_user(local, advisor, office=office, departments=department)
    _assign(local, first.ref, advisor)
    _act(local, register.close, first.ref, ARRIVED + timedelta(hours=1))
    if account == "removed":
        with transaction(session_factory(local.engine)) as session:
            access.remove_user(session, advisor)
    again = ARRIVED + timedelta(hours=2)
    local.deliver(citizen_mail(2, extra="In-Reply-To: <citizen-1@example.dk>\r\n"), again)
    counts = local.round(again + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 1
    _, second = local.inquiries()
    assert second.advisor == (advisor if account == "this department" else None)


COLLEAGUE = "kollega@kommune.test"  # the mailbox's own domain: staff by default


def test_a_colleagues_forward_is_registered_without_acknowledgement_or_cap(
    local: Local,
) -> None:
    """The receptionist forwards citizens' letters to the mailbox: each is an inquiry to
    answer, but the acknowledgement would tell the colleague, not the citizen, a deadline."""
    for n in range(1, 8):  # more than max_per_sender_per_day (5)
        local.deliver(citizen_mail(n, sender=COLLEAGUE), ARRIVED + timedelta(minutes=n))
    counts = local.round(ARRIVED + timedelta(minutes=30))
    assert counts.outcomes["registered"] == 7 and counts.outcomes["acknowledged"] == 0
    assert local.sink.handler.received == []
    assert all(not i.answer_promised for i in local.inquiries())
    with session_factory(local.engine)() as session:
        assert set(session.scalars(select(Obligation.rule))) == {"reply"}


def test_an_advisors_answer_from_their_own_address_fulfils_and_a_forward_does_not(
    local: Local,
) -> None:
    local.deliver(citizen_mail(1))
    local.round(ARRIVED + timedelta(minutes=5))
    [inquiry] = local.inquiries()
    _act(local, register.pause, inquiry.ref, ARRIVED + timedelta(minutes=30))
    # A colleague forwards the thread to the mailbox: attached, the wait for the citizen
    # goes on, nothing is answered.
    thread = f"In-Reply-To: <citizen-1@example.dk>\r\nDelivered-To: {OWN}\r\n"
    local.deliver(
        citizen_mail(2, sender=COLLEAGUE, to=OWN, extra=thread), ARRIVED + timedelta(hours=1)
    )
    counts = local.round(ARRIVED + timedelta(hours=1, minutes=5))
    assert counts.outcomes["attached"] == 1
    assert _events(local, inquiry.ref)[-2:] == ["paused", "mail_attached"]
    # The advisor answers the citizen from their own address, Bcc to the mailbox.
    answered = ARRIVED + timedelta(hours=2)
    local.deliver(
        citizen_mail(
            3, sender="bo@kommune.test", to="anna@example.dk", extra=thread, date=answered
        ),
        answered,
    )
    counts = local.round(answered + timedelta(minutes=5))
    assert counts.outcomes["answered"] == 1
    [inquiry] = local.inquiries()
    assert inquiry.answered_at == answered


def test_with_no_staff_domains_a_colleague_is_answered_as_a_citizen(local: Local) -> None:
    assert local.settings.intake is not None
    local.settings.intake.staff_domains = []
    local.deliver(citizen_mail(1, sender=COLLEAGUE))
    counts = local.round(ARRIVED + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 1 and counts.outcomes["acknowledged"] == 1
    assert [m.rcpt[0] for m in local.sink.handler.received] == [COLLEAGUE]


def test_a_mailbox_at_a_public_providers_domain_makes_no_citizen_a_colleague(
    local: Local,
) -> None:
    """A small office's mailbox at outlook.dk: by default its own domain was staff, so every
    citizen writing from outlook.dk got no acknowledgement, no cap, and their mail to anyone
    else in the thread would have fulfilled the answer."""
    assert local.settings.intake is not None
    mailbox_address = "fredericia.borgerservice@outlook.dk"
    local.settings.intake.address = mailbox_address
    local.deliver(citizen_mail(1, sender="anna@outlook.dk", to=mailbox_address))
    counts = local.round(ARRIVED + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 1 and counts.outcomes["acknowledged"] == 1
    assert [m.rcpt[0] for m in local.sink.handler.received] == ["anna@outlook.dk"]
    [inquiry] = local.inquiries()
    assert inquiry.answer_promised


def test_an_advisors_mail_to_a_citizen_in_no_inquirys_thread_is_no_inquiry(
    local: Local,
) -> None:
    """An advisor writes to a citizen who phoned, Bcc to the mailbox for the record: as the
    same mail from the mailbox's own address, it answers nobody the intake knows, and must
    not be registered as a new inquiry with deadlines and reminders for the team."""
    written = ARRIVED + timedelta(hours=1)
    local.deliver(
        citizen_mail(1, sender="bo@kommune.test", to="anna@example.dk", date=written), written
    )
    counts = local.round(written + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 0 and counts.ignored["own address"] == 1
    assert local.inquiries() == [] and local.sink.handler.received == []


def test_a_colleagues_forward_delivered_to_another_spelling_of_the_mailbox_does_not_answer(
    local: Local,
) -> None:
    """Delivered-To and X-Original-To name where the server delivered the mail (here the
    mailbox's address at the mail host), not someone the colleague wrote to: a forward of
    the citizen's letter to the mailbox answers nobody, and the citizen's deadline stays."""
    local.deliver(citizen_mail(1))
    local.round(ARRIVED + timedelta(minutes=5))
    thread = (
        "In-Reply-To: <citizen-1@example.dk>\r\n"
        "Delivered-To: borgerservice@imap.hosting.example\r\n"
    )
    forwarded = ARRIVED + timedelta(hours=1)
    local.deliver(citizen_mail(2, sender=COLLEAGUE, to=OWN, extra=thread), forwarded)
    counts = local.round(forwarded + timedelta(minutes=5))
    assert counts.outcomes["attached"] == 1 and counts.outcomes["answered"] == 0
    [inquiry] = local.inquiries()
    assert inquiry.answered_at is None


def test_a_colleague_at_a_sub_domain_of_a_staff_domain_is_a_colleague(local: Local) -> None:
    """The mailbox is at kommune.test, the receptionist at borger.kommune.test: one
    municipality; her forwards are registered, not acknowledged to her."""
    local.deliver(citizen_mail(1, sender="kollega@borger.KOMMUNE.test"))
    counts = local.round(ARRIVED + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 1 and counts.outcomes["acknowledged"] == 0
    assert local.sink.handler.received == []


def test_a_web_form_at_the_offices_own_domain_is_acknowledged_to_each_citizen(
    local: Local,
) -> None:
    """The municipality's self-service form sends From noreply@ its own domain, the citizen
    in Reply-To: read as a colleague's forward, no citizen got the acknowledgement. Whom the
    mail is answered at decides: a citizen's Reply-To makes it a citizen's mail."""
    form = "noreply@kommune.test"
    for n in range(2):
        extra = f"Reply-To: Borger {n} <borger{n}@example.dk>\r\n"
        local.deliver(citizen_mail(n, sender=form, extra=extra), ARRIVED + timedelta(minutes=n))
    counts = local.round(ARRIVED + timedelta(minutes=10))
    assert counts.outcomes["registered"] == 2 and counts.outcomes["acknowledged"] == 2
    assert sorted(m.rcpt[0] for m in local.sink.handler.received) == [
        "borger0@example.dk",
        "borger1@example.dk",
    ]


def test_a_web_form_sending_from_the_mailboxs_own_address_is_a_citizens_mail(
    local: Local,
) -> None:
    """Some self-service forms send From the office's own address, To it, the citizen in
    Reply-To: such mail was ignored as the mailbox's own, and no form inquiry was ever
    registered. The mailbox's own mail to itself alone, answered at a citizen's address, is
    the citizen's; its own mail without one, or to a citizen, stays the office's."""
    form = "Reply-To: Borger <borger@example.dk>\r\n"
    local.deliver(citizen_mail(1, sender=OWN, to=OWN, extra=form))
    local.deliver(citizen_mail(2, sender=OWN, to=OWN), ARRIVED + timedelta(minutes=1))
    local.deliver(
        citizen_mail(3, sender=OWN, to="anna@example.dk", extra=form),
        ARRIVED + timedelta(minutes=2),
    )
    counts = local.round(ARRIVED + timedelta(minutes=10))
    assert counts.outcomes["registered"] == 1 and counts.outcomes["acknowledged"] == 1
    assert counts.ignored["own address"] == 2
    assert [m.rcpt[0] for m in local.sink.handler.received] == ["borger@example.dk"]


def test_two_mails_in_a_closed_inquirys_thread_are_one_new_inquiry(local: Local) -> None:
    """The citizen answers the old case twice in a row ("and the attachment"), each a reply
    to the same old message: the first is a new inquiry, the second must attach to it, not
    be a third inquiry with an acknowledgement and a deadline of its own."""
    local.deliver(citizen_mail(1))
    local.round(ARRIVED + timedelta(minutes=5))
    [first] = local.inquiries()
    _act(local, register.close, first.ref, ARRIVED + timedelta(hours=1))
    again = ARRIVED + timedelta(hours=2)
    old = "In-Reply-To: <citizen-1@example.dk>\r\n"
    local.deliver(citizen_mail(2, extra=old), again)
    local.deliver(citizen_mail(3, extra=old), again + timedelta(minutes=1))
    counts = local.round(again + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 1 and counts.outcomes["attached"] == 1
    _, second = local.inquiries()
    assert "mail_attached" in _events(local, second.ref)
    # A day later, once more in reply to the old message: still the new inquiry's.
    local.deliver(citizen_mail(4, extra=old), again + timedelta(days=1))
    counts = local.round(again + timedelta(days=1, minutes=5))
    assert counts.outcomes["attached"] == 1 and len(local.inquiries()) == 2
    assert len(local.sink.handler.received) == 2  # the first inquiry's and the second's


def test_an_answer_to_a_closed_case_read_after_its_follow_up_does_not_answer_the_follow_up(
    local: Local,
) -> None:
    """The daemon was down: the advisor answered the case from the mailbox (Sent) and closed
    it, then the citizen wrote again in the thread. Read in one round, the follow-up is a
    new inquiry and the thread leads to it; the old answer, sent before the citizen wrote
    again, must not fulfil the new question nor cancel its acknowledgement."""
    assert local.settings.intake is not None
    local.settings.intake.sent_folder = "Sent"
    local.deliver(citizen_mail(1))
    local.round(ARRIVED + timedelta(minutes=5))
    [first] = local.inquiries()
    old = "In-Reply-To: <citizen-1@example.dk>\r\n"
    sent_at = ARRIVED + timedelta(minutes=50)
    reply = mailbox.MaildirMessage(
        citizen_mail(9, sender=OWN, to="anna@example.dk", extra=old, date=sent_at)
    )
    reply.set_date(sent_at.timestamp())
    mailbox.Maildir(local.root).add_folder("Sent").add(reply)
    _act(local, register.close, first.ref, ARRIVED + timedelta(hours=1))
    again = ARRIVED + timedelta(hours=2)
    local.deliver(citizen_mail(2, extra=old), again)
    counts = local.round(again + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 1 and counts.outcomes["answered"] == 0
    # Counted for what it is: the follow-up is open, the reply older than it.
    assert counts.outcomes["reply older than the inquiry"] == 1
    assert "reply to a closed inquiry" not in counts.outcomes
    _, second = local.inquiries()
    assert second.answered_at is None and second.replied_at == again + timedelta(minutes=5)
    assert len(local.sink.handler.received) == 2  # the follow-up's acknowledgement went out


def test_a_follow_ups_waiting_acknowledgement_keeps_its_own_mail_when_the_folder_is_renumbered(
    local: Local,
) -> None:
    """The closed case's thread leads to its follow-up: read again after a renumbering, the
    closed case's own mail must not become the one the follow-up's acknowledgement answers
    (it would go to whoever wrote that one)."""
    local.deliver(citizen_mail(1, sender="anna@example.dk"))
    local.round(ARRIVED + timedelta(minutes=5))
    [first] = local.inquiries()
    _act(local, register.close, first.ref, ARRIVED + timedelta(hours=1))
    local.sink.handler.refuse = {"bo@example.dk": "450 4.2.0 Greylisted"}
    again = ARRIVED + timedelta(hours=2)
    old = "In-Reply-To: <citizen-1@example.dk>\r\n"
    local.deliver(citizen_mail(2, sender="bo@example.dk", extra=old), again)
    counts = local.round(again + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 1 and counts.outcomes["acknowledged"] == 0
    forget_numbering(local)  # a restored backup, say
    local.sink.handler.refuse = {}
    counts = local.round(again + timedelta(hours=2))
    assert counts.outcomes["duplicate"] == 2
    assert [m.rcpt[0] for m in local.sink.handler.received] == [
        "anna@example.dk",
        "bo@example.dk",
    ]


def test_mails_with_only_a_closed_inquirys_ref_tag_are_one_new_inquiry(local: Local) -> None:
    """The citizen writes twice, each time a new mail with the old case's ref tag in the
    subject and nothing else of its thread: the first opens the follow-up, the second must
    attach to it (the closed case's ref leads where its thread does), not open a third
    inquiry with a second acknowledgement."""
    local.deliver(citizen_mail(1))
    local.round(ARRIVED + timedelta(minutes=5))
    [first] = local.inquiries()
    _act(local, register.close, first.ref, ARRIVED + timedelta(hours=1))
    again = ARRIVED + timedelta(hours=2)
    tagged = f"Re: [SF {first.ref}] Spørgsmål"
    local.deliver(citizen_mail(2, subject=tagged), again)
    local.deliver(citizen_mail(3, subject=tagged), again + timedelta(minutes=1))
    counts = local.round(again + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 1 and counts.outcomes["attached"] == 1
    _, second = local.inquiries()
    assert "mail_attached" in _events(local, second.ref)
    assert "mail_attached" not in _events(local, first.ref)
    assert len(local.sink.handler.received) == 2  # the first inquiry's and the follow-up's
    # The follow-up closed too: the oldest ref leads to the newest case of the chain, which
    # a new mail follows up once, and then attaches to.
    _act(local, register.close, second.ref, again + timedelta(hours=1))
    later = again + timedelta(days=1)
    local.deliver(citizen_mail(4, subject=tagged), later)
    local.deliver(citizen_mail(5, subject=tagged), later + timedelta(minutes=1))
    counts = local.round(later + timedelta(minutes=5))
    assert counts.outcomes["registered"] == 1 and counts.outcomes["attached"] == 1
    _, _, third = local.inquiries()
    assert "mail_attached" in _events(local, third.ref)
    assert len(local.sink.handler.received) == 3


def test_a_message_id_spelling_a_closed_refs_key_is_no_duplicate(local: Local) -> None:
    """A closed inquiry's ref joins its follow-up's thread under a keyed hash: a mail whose
    Message-ID spells what is hashed (a NUL is no obstacle to the parser) was taken for one
    already registered, and never became an inquiry."""
    local.deliver(citizen_mail(1))
    local.round(ARRIVED + timedelta(minutes=5))
    [first] = local.inquiries()
    _act(local, register.close, first.ref, ARRIVED + timedelta(hours=1))
    again = ARRIVED + timedelta(hours=2)
    local.deliver(citizen_mail(2, subject=f"Re: [SF {first.ref}] Spørgsmål"), again)
    local.round(again + timedelta(minutes=5))
    for n, spelled in enumerate((f"ref\0{first.ref}", f"<ref {first.ref}>"), start=3):
        raw = citizen_mail(n, sender="bo@example.dk").replace(
            f"<citizen-{n}@example.dk>".encode(), f"<{spelled}>".encode()
        )
        local.deliver(raw, again + timedelta(hours=n))
        counts = local.round(again + timedelta(hours=n, minutes=5))
        assert counts.outcomes["registered"] == 1 and counts.outcomes["duplicate"] == 0


def test_a_paused_follow_ups_clocks_restart_on_a_mail_with_the_closed_cases_ref_tag(
    local: Local,
) -> None:
    """The follow-up waits for the citizen, who answers in a new mail with the old case's
    ref tag alone: the wait is over (event ``resumed``), as for a reply in its thread; the
    mail was a third inquiry, and the follow-up stayed paused for good."""
    local.deliver(citizen_mail(1))
    local.round(ARRIVED + timedelta(minutes=5))
    [first] = local.inquiries()
    _act(local, register.close, first.ref, ARRIVED + timedelta(hours=1))
    again = ARRIVED + timedelta(hours=2)
    local.deliver(citizen_mail(2, extra="In-Reply-To: <citizen-1@example.dk>\r\n"), again)
    local.round(again + timedelta(minutes=5))
    _, second = local.inquiries()
    _act(local, register.pause, second.ref, again + timedelta(hours=1))
    answered = again + timedelta(hours=3)
    local.deliver(citizen_mail(3, subject=f"[SF {first.ref}] Svar"), answered)
    counts = local.round(answered + timedelta(minutes=5))
    assert counts.outcomes["attached"] == 1 and counts.outcomes["registered"] == 0
    assert _events(local, second.ref)[-2:] == ["mail_attached", "resumed"]
    with session_factory(local.engine)() as session:
        [pause] = session.scalars(select(Pause)).all()
        assert (pause.start, pause.end) == (again + timedelta(hours=1), answered)
