"""Mail intake end to end: a real Dovecot, the aiosmtpd sink, SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import dovecot
import pytest
from intake_world import World, citizen_mail, make_world
from sqlalchemy import select

from tracker.core.calendar import COPENHAGEN
from tracker.mail.render import format_promise
from tracker.store import intake as intake_store
from tracker.store.models import (
    Event,
    IntakeProgress,
    IntakeSenderDay,
    IntakeThread,
)


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from make_world(database_url)


def test_a_citizen_mail_becomes_an_email_inquiry_received_at_its_arrival(world: World) -> None:
    arrived = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    world.server.append(citizen_mail(1), when=arrived.timestamp())
    counts = world.round()
    assert counts.outcomes["registered"] == 1
    (inquiry,) = world.inquiries()
    assert (inquiry.channel, inquiry.department) == ("email", "Arbejdsmarked og Borgerservice")
    assert inquiry.received_at == arrived
    assert inquiry.answer_promised
    assert set(world.obligations(inquiry.id)) == {"reply", "answer"}
    assert world.server.uids("INBOX") == []
    assert len(world.server.uids("Svarfrist/Registreret")) == 1


def test_the_acknowledgement_promises_the_absolute_answer_deadline(world: World) -> None:
    arrived = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # Tuesday 10:30 in Denmark
    world.server.append(
        citizen_mail(1, extra="Reply-To: svar@example.dk\r\n"), when=arrived.timestamp()
    )
    world.round()
    (inquiry,) = world.inquiries()
    (ack,) = world.sink.messages
    assert world.sink.handler.received[0].rcpt == ["svar@example.dk"]
    assert ack["Subject"] == f"Vi har modtaget din henvendelse [SF {inquiry.ref}]"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Svarfrist-Kind"] == "acknowledgement"
    assert ack["In-Reply-To"] == "<citizen-1@example.dk>"
    assert ack["References"] == "<citizen-1@example.dk>"
    body = ack.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # 10 working days from Tuesday 1 December 10:30: Tuesday 15 December 10:30.
    assert "Du får svar senest tirsdag den 15. december 2026 kl. 10.30." in body
    assert "Hej, jeg har et spørgsmål" not in body  # nothing of the citizen's text
    answer = world.obligations(inquiry.id)["answer"]
    assert answer.due_at == datetime(2026, 12, 15, 10, 30, tzinfo=COPENHAGEN)
    assert format_promise(answer.due_at, "da") == "tirsdag den 15. december 2026 kl. 10.30"


def test_sending_the_acknowledgement_fulfils_reply_and_erases_its_row(world: World) -> None:
    world.server.append(citizen_mail(1))
    before = datetime.now(UTC)
    world.round()
    (inquiry,) = world.inquiries()
    assert inquiry.replied_at is not None and inquiry.replied_at >= before - timedelta(seconds=1)
    assert world.obligations(inquiry.id)["reply"].met_at == inquiry.replied_at
    assert world.obligations(inquiry.id)["answer"].met_at is None
    assert world.outbox() == []  # the row, with the UID it held, is gone


def test_nothing_of_the_sender_subject_or_body_is_stored(world: World) -> None:
    world.server.append(citizen_mail(1, subject="Min hemmelige sag"))
    world.round()
    with world.engine.connect() as conn:
        from sqlalchemy import MetaData

        meta = MetaData()
        meta.reflect(conn)
        dump = repr([list(conn.execute(t.select())) for t in meta.sorted_tables])
    for secret in ("anna@example.dk", "Anna Borger", "hemmelige", "spørgsmål", "citizen-1"):
        assert secret not in dump


def test_a_restart_reads_nothing_twice(world: World) -> None:
    for n in range(3):
        world.server.append(citizen_mail(n, sender=f"borger{n}@example.dk"))
    assert world.round().outcomes["registered"] == 3
    assert world.round().total == 0
    assert len(world.inquiries()) == 3
    assert len(world.sink.messages) == 3


def test_the_department_follows_the_address_written_to(world: World) -> None:
    world.server.append(citizen_mail(1, to="Byg <byg@kommune.test>"))
    world.round()
    assert world.inquiries()[0].department == "Teknik og Miljø"


def test_a_follow_up_by_ref_tag_or_references_attaches_instead_of_opening(world: World) -> None:
    world.server.append(citizen_mail(1))
    world.round()
    (inquiry,) = world.inquiries()
    world.server.append(citizen_mail(2, subject=f"Sv: Spørgsmål [SF {inquiry.ref}]"))
    world.server.append(citizen_mail(3, extra="In-Reply-To: <citizen-1@example.dk>\r\n"))
    ack_id = world.sink.messages[0]["Message-ID"]
    world.server.append(citizen_mail(4, extra=f"References: {ack_id}\r\n"))
    counts = world.round()
    assert counts.outcomes["attached"] == 3
    assert len(world.inquiries()) == 1
    assert len(world.sink.messages) == 1  # no second acknowledgement
    with world.factory() as s:
        kinds = s.scalars(select(Event.kind).where(Event.inquiry_id == inquiry.id)).all()
    assert kinds.count("mail_attached") == 3


def test_loop_and_noise_go_to_the_ignored_folder_and_are_counted(world: World) -> None:
    world.server.append(citizen_mail(1, extra="Auto-Submitted: auto-replied\r\n"))
    world.server.append(citizen_mail(2, extra="Precedence: bulk\r\n"))
    world.server.append(citizen_mail(3, sender="MAILER-DAEMON@mx.example.dk"))
    world.server.append(citizen_mail(4, extra="List-Id: <nyt.example.dk>\r\n"))
    world.server.append(citizen_mail(5, sender=dovecot.USER))
    counts = world.round()
    assert counts.outcomes["ignored"] == 5
    assert counts.ignored == {
        "auto-submitted": 1,
        "bulk": 1,
        "bounce": 1,
        "list": 1,
        "own address": 1,
    }
    assert world.inquiries() == [] and world.sink.messages == []
    assert len(world.server.uids("Svarfrist/Ignoreret")) == 5
    with world.factory() as s:
        state = intake_store.states(s)
        assert state is not None and state["ignored"]["bounce"] == 1


def test_a_sender_is_acknowledged_at_most_five_times_a_day(world: World) -> None:
    for n in range(7):
        world.server.append(citizen_mail(n))
    counts = world.round()
    assert counts.outcomes["registered"] == 5
    assert counts.ignored["daily cap"] == 2
    assert len(world.sink.messages) == 5
    with world.factory() as s:
        (row,) = s.scalars(select(IntakeSenderDay)).all()
    assert row.count == 5 and "@" not in row.sender


def own_reply(date: str, extra: str = "") -> bytes:
    """A mail from the mailbox's own address answering citizen mail 1, of Date ``date``."""
    return (
        f"From: {dovecot.USER}\r\nTo: anna@example.dk\r\nSubject: Sv: Spørgsmål\r\n{extra}"
        f"Message-ID: <reply-1@kommune.test>\r\nIn-Reply-To: <citizen-1@example.dk>\r\n"
        f"Date: {date}\r\n\r\nSvar.\r\n"
    ).encode()


def test_a_reply_from_the_sent_folder_fulfils_answer_at_its_date(world: World) -> None:
    world.server.append(citizen_mail(1))
    world.round()
    replied = datetime.now(UTC).replace(microsecond=0)
    world.server.append(own_reply(format_datetime(replied)), folder="Sent")
    counts = world.round()
    assert counts.outcomes["answered"] == 1
    (inquiry,) = world.inquiries()
    assert inquiry.answered_at == replied
    assert world.obligations(inquiry.id)["answer"].met_at == replied
    assert world.server.uids("Sent") == [1]  # the Sent folder is left as it is


def test_a_reply_dated_before_the_citizen_wrote_counts_from_its_arrival(world: World) -> None:
    """A Date before receipt (a wrong clock, "01" read as 2001) is not taken: the answer is
    recorded when the reply reached the mailbox, not at the receipt, which would flatter."""
    world.server.append(citizen_mail(1), when=time.time() - 3600)
    world.round()
    arrived = datetime.now(UTC).replace(microsecond=0)
    reply = own_reply("Mon, 03 Dec 2001 10:00:00 +0100")
    world.server.append(reply, folder="Sent", when=arrived.timestamp())
    assert world.round().outcomes["answered"] == 1
    (inquiry,) = world.inquiries()
    assert inquiry.answered_at == arrived > inquiry.received_at


@pytest.mark.parametrize("folder", ["Sent", "INBOX"])
def test_the_offices_own_out_of_office_reply_answers_nobody(world: World, folder: str) -> None:
    """An automatic reply from the office's own address (RFC 3834), in the Sent folder or
    as a copy in the inbox, is no answer: the promise stays open."""
    world.server.append(citizen_mail(1))
    world.round()
    now = format_datetime(datetime.now(UTC))
    world.server.append(own_reply(now, "Auto-Submitted: auto-replied\r\n"), folder=folder)
    counts = world.round()
    assert counts.outcomes.get("answered", 0) == 0
    (inquiry,) = world.inquiries()
    assert inquiry.answered_at is None
    assert world.obligations(inquiry.id)["answer"].met_at is None


def test_a_human_reply_before_the_acknowledgement_cancels_it(database_url: str) -> None:
    for world in make_world(database_url, acknowledge=True):
        world.sink.stop()  # SMTP down: the acknowledgement waits
        world.server.append(citizen_mail(1))
        world.round()
        (inquiry,) = world.inquiries()
        assert inquiry.replied_at is None and len(world.outbox()) == 1
        assert world.server.uids("INBOX") == [1]  # kept until acknowledged: its address
        bcc = (
            f"From: {dovecot.USER}\r\nTo: anna@example.dk\r\nBcc: {dovecot.USER}\r\n"
            f"Subject: Sv: [SF {inquiry.ref}]\r\nMessage-ID: <r@kommune.test>\r\n"
            f"Date: {format_datetime(datetime.now(UTC))}\r\n\r\nSvar.\r\n"
        ).encode()
        world.server.append(bcc)
        counts = world.round()
        assert counts.outcomes["answered"] == 1
        (inquiry,) = world.inquiries()
        assert inquiry.replied_at is not None and inquiry.answered_at == inquiry.replied_at
        assert world.outbox() == []
        assert world.server.uids("INBOX") == []


def test_bad_mail_is_registered_or_moved_to_error_never_stopping_intake(world: World) -> None:
    big = b"X" * (25 * 1024 * 1024)
    world.server.append(
        b"From: a@example.dk\r\nSubject: =?bogus?q?x?=\r\n\r\n" + big, when=None
    )  # no Date, no Message-ID, a 25 MB body
    world.server.append(b"From: b@example.dk\r\nSubject: \xe6\xf8\xe5\r\nX: \xff\r\n\r\nbody")
    world.server.append(b"this is not a mail at all")
    world.server.append(
        b"From: c@example.dk\r\nSubject: a\r\n\tBcc: evil@example.dk\r\n"
        b'Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n--never'
    )
    counts = world.round()
    assert counts.outcomes["registered"] == 3
    assert counts.ignored["no sender"] == 1
    assert world.server.uids("INBOX") == []
    assert len(world.sink.messages) == 3
    rcpts = sorted(r.rcpt[0] for r in world.sink.handler.received)
    assert rcpts == ["a@example.dk", "b@example.dk", "c@example.dk"]


def test_progress_is_kept_by_uidvalidity_and_a_renumbering_makes_no_duplicates(
    world: World,
) -> None:
    world.server.append(citizen_mail(1))
    world.round()
    with world.factory.begin() as s:
        assert world.settings.intake is not None
        progress = s.get(IntakeProgress, (world.settings.intake.mailbox_key(), "INBOX"))
        assert progress is not None and progress.last_uid == 1
        progress.uidvalidity = 1  # as if the server had renumbered the folder since
    # The same message again (restored from a backup into the intake folder), and a new one.
    world.server.append(citizen_mail(1))
    world.server.append(citizen_mail(2, sender="bo@example.dk"))
    counts = world.round()
    assert counts.outcomes == {"duplicate": 1, "registered": 1, "acknowledged": 1}
    assert len(world.inquiries()) == 2
    with world.factory() as s:
        assert len(s.scalars(select(IntakeThread)).all()) == 4  # 2 citizen + 2 acknowledgement


def test_svarfrist_answer_fulfils_the_promised_answer(world: World, run_cli) -> None:  # type: ignore[no-untyped-def]
    world.server.append(citizen_mail(1))
    world.round()
    (inquiry,) = world.inquiries()
    env = {"SVARFRIST_DATABASE_URL": str(world.engine.url.render_as_string(False))}
    done = run_cli("answer", inquiry.ref, env=env)
    assert done.returncode == 0, done.stderr
    assert world.obligations(inquiry.id)["answer"].met_at is not None
    again = run_cli("answer", inquiry.ref, env=env)
    assert again.returncode == 2 and again.stderr.startswith("error:")


def test_starttls_with_the_servers_ca_reads_the_mailbox(database_url: str) -> None:
    for world in make_world(database_url, ssl=True):
        world.server.append(citizen_mail(1))
        assert world.round().outcomes["registered"] == 1


def test_starttls_refuses_a_certificate_it_cannot_verify(sqlite_url: str) -> None:
    import ssl

    for world in make_world(sqlite_url, ssl=True, ca_file=None):
        with pytest.raises(ssl.SSLError):
            world.round()
        assert world.inquiries() == []


def test_the_acknowledgement_in_english_where_configured(sqlite_url: str) -> None:
    for world in make_world(sqlite_url, language="en"):
        world.server.append(
            citizen_mail(1), when=datetime(2026, 12, 1, 9, 30, tzinfo=UTC).timestamp()
        )
        world.round()
        (ack,) = world.sink.messages
        assert str(ack["Subject"]).startswith("We have received your inquiry [SF ")
        body = ack.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "You will get an answer by Tuesday 15 December 2026 at 10:30." in body


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path / 'svarfrist.db'}"


def test_a_mail_that_cannot_be_registered_goes_to_the_error_folder_and_intake_goes_on(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Settings built without the start-up check: a department that does not exist (as after
    # a configuration changed under a running reader) makes registering raise.
    for world in make_world(sqlite_url, departments={"ghost@kommune.test": "Ikke en afdeling"}):
        world.server.append(citizen_mail(1, to="ghost@kommune.test"))
        world.server.append(citizen_mail(2, sender="bo@example.dk"))
        counts = world.round()
        assert counts.outcomes["error"] == 1 and counts.outcomes["registered"] == 1
        assert world.server.uids("Svarfrist/Fejl") == [1]
        assert world.server.uids("INBOX") == []
        (line,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert line.startswith("intake: UID 1 in INBOX moved to Svarfrist/Fejl: BadInputError")
        assert "example.dk" not in caplog.text


def test_undo_reverts_an_answer(world: World, run_cli) -> None:  # type: ignore[no-untyped-def]
    world.server.append(citizen_mail(1))
    world.round()
    (inquiry,) = world.inquiries()
    env = {"SVARFRIST_DATABASE_URL": str(world.engine.url.render_as_string(False))}
    assert run_cli("answer", inquiry.ref, env=env).returncode == 0
    undone = run_cli("undo", inquiry.ref, env=env)
    assert undone.returncode == 0, undone.stderr
    assert world.obligations(inquiry.id)["answer"].met_at is None


def test_an_office_writes_its_own_acknowledgement(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "t" / "da").mkdir(parents=True)
    (tmp_path / "t" / "da" / "acknowledgement.txt.j2").write_text(
        "Kære borger. Sag {{ ref }} besvares senest {{ deadline }}.\n"
    )
    for world in make_world(sqlite_url, template_dir=tmp_path / "t"):
        world.server.append(
            citizen_mail(1), when=datetime(2026, 12, 1, 9, 30, tzinfo=UTC).timestamp()
        )
        world.round()
        (ack,) = world.sink.messages
        body = ack.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "besvares senest tirsdag den 15. december 2026 kl. 10.30." in body
        assert str(ack["Subject"]).startswith("Vi har modtaget din henvendelse [SF ")  # built-in


def test_a_rounds_summary_names_each_ignored_message_once_by_its_reason() -> None:
    """The outcome ``ignored`` and the reasons count the same messages: the summary said
    "1 ignored, 4 registered, 1 ignored (auto-submitted)" of one ignored mail."""
    from collections import Counter

    from tracker.intake.loop import summary
    from tracker.intake.process import Counts

    one = Counts(Counter(registered=4, ignored=1), Counter({"auto-submitted": 1}))
    assert summary(one) == "4 registered, 1 ignored (auto-submitted)"
    unexplained = Counts(Counter(ignored=3), Counter({"bulk": 2}))
    assert summary(unexplained) == "2 ignored (bulk), 1 ignored"
    assert summary(Counts()) == "nothing new"
