"""Delivery end to end against a real SMTP server (aiosmtpd on 127.0.0.1), no SMTP mocks."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import ssl
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from daemon_world import ADVISOR, OTHER, World, local
from smtp_sink import Handler, Received, Sink, free_port
from sqlalchemy import select, update

from tracker.core.calendar import COPENHAGEN
from tracker.daemon.sweep import SweepReport, plan_digests, refresh, sweep
from tracker.mail.render import greeting
from tracker.notify import OUTCOMES_PER_COMMIT, Claimed, messages
from tracker.store import history, register
from tracker.store.db import transaction
from tracker.store.models import Inquiry, Obligation
from tracker.store.outbox import OutboxState
from tracker.store.recompute import recompute

WEEK_START = local("2026-11-30T00:00")  # a Monday; Friday 4 December is a normal day


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink().start()
    yield server
    server.stop()


@pytest.fixture
def world(database_url: str, sink: Sink) -> Iterator[World]:
    """SQLite and PostgreSQL (when SVARFRIST_TEST_POSTGRES_URL is set), one test each."""
    w = World(database_url, sink.port, reminders={"digest_time": None})
    yield w
    w.close()


def kinds_by_ref(sink: Sink) -> Counter[tuple[str, str]]:
    """(ref, kind) per message; callback obligations are counted under "<kind>/callback"."""
    return Counter(
        (m["X-Svarfrist-Ref"], m["X-Svarfrist-Kind"] + _suffix(m["X-Svarfrist-Rule"]))
        for m in sink.messages
    )


def _suffix(rule: str) -> str:
    return "" if rule == "reply" else f"/{rule}"


def in_window(world: World, moment: Any) -> bool:
    local_time = moment.astimezone(COPENHAGEN)
    day = local_time.date()
    schedule = world.calendar.schedule("sending_window")
    minutes = local_time.hour * 60 + local_time.minute
    return any(s <= minutes < e for s, e in world.calendar.day_intervals(day, schedule))


def test_a_simulated_week_sends_one_of_each_kind_inside_the_window_and_never_late(
    world: World, sink: Sink
) -> None:
    # Received at awkward times: late Friday evening (due Monday 23:00, so the due_soon must
    # move to Monday afternoon), Saturday, Monday morning; some answered, some never.
    ignored = world.add(local("2026-11-27T23:00"), advisor=ADVISOR)
    weekend = world.add(local("2026-11-28T11:00"), advisor=ADVISOR)
    answered_early = world.add(local("2026-11-30T09:00"), advisor=OTHER)
    answered_after_warning = world.add(local("2026-11-30T10:00"), advisor=OTHER)
    answered_late = world.add(local("2026-11-30T11:00"), advisor=ADVISOR, callback_requested=True)
    phone = world.add(local("2026-12-01T08:00"), channel="phone", callback_requested=True)

    step = timedelta(minutes=30)
    now = WEEK_START
    while now <= WEEK_START + timedelta(days=7):
        if now == local("2026-11-30T12:00"):
            world.reply(answered_early, now)
        if now == local("2026-12-01T08:00"):
            world.reply(answered_after_warning, now)  # after its due_soon at 06:00 -> 07:00
        if now == local("2026-12-02T09:00"):
            world.reply(answered_late, now)
        world.tick(now)
        now += step

    got = kinds_by_ref(sink)
    print("\nsent:", sorted(got.items()))
    assert all(count == 1 for count in got.values()), got
    assert got[(ignored, "due_soon")] == 1 and got[(ignored, "overdue")] == 1
    assert got[(weekend, "due_soon")] == 1 and got[(weekend, "overdue")] == 1
    assert (answered_early, "due_soon") not in got and (answered_early, "overdue") not in got
    assert got[(answered_after_warning, "due_soon")] == 1
    assert (answered_after_warning, "overdue") not in got
    assert got[(phone, "due_soon/callback")] == 1 and got[(phone, "overdue/callback")] == 1
    assert got[(answered_late, "overdue")] == 1  # overdue Tuesday 11:00, replied Wednesday
    assert got[(answered_late, "due_soon/callback")] == 1
    assert got[(answered_late, "overdue/callback")] == 1  # a reply does not fulfil callback

    rows = {(r.payload["ref"], r.kind + _suffix(r.payload["rule"])): r for r in world.outbox()}
    for (ref, kind), row in rows.items():
        assert row.state == OutboxState.SENT, (ref, kind, row.state)
        assert row.sent_at is not None and in_window(world, row.sent_at), (ref, kind, row.sent_at)
        due = row.payload["due_at"]
        if kind == "due_soon":
            assert (row.sent_at < local("2100-01-01") and row.sent_at.isoformat() < due) or (
                row.sent_at < __import__("datetime").datetime.fromisoformat(due)
            )
    # The Friday-night inquiry: due Monday 23:00, warned Monday afternoon (not after 18:00).
    soon = rows[(ignored, "due_soon")].sent_at
    assert soon is not None and soon.astimezone(COPENHAGEN).hour < 18


def test_the_server_stopped_mid_sweep_and_restarted_still_delivers_every_reminder_once(
    tmp_path: Path,
) -> None:
    port_holder = Sink()
    stop_after = 5
    first = _StoppingHandler(stop_after, port_holder)
    port_holder.handler = first
    port_holder.start()
    world = World(
        f"sqlite:///{tmp_path / 'db.sqlite'}", port_holder.port, reminders={"digest_time": None}
    )
    try:
        refs = [world.add(local("2026-11-27T12:00"), advisor=ADVISOR) for _ in range(12)]
        report = world.tick(local("2026-11-30T08:00"))  # all 12 due_soon go out at 08:00
        assert report.delivery.sent == stop_after
        assert report.delivery.retried == len(refs) - stop_after
        restarted = Sink(port=port_holder.port).start()
        try:
            world.tick(local("2026-11-30T08:10"))
            delivered = [r.message for r in first.received + restarted.handler.received]
        finally:
            restarted.stop()
        counts = Counter(m["X-Svarfrist-Ref"] for m in delivered)
        assert counts == Counter(refs), counts
        assert {r.state for r in world.outbox()} == {OutboxState.SENT}
    finally:
        port_holder.stop()
        world.close()


class _StoppingHandler(Handler):
    """Accepts ``n`` messages, then stops its own server while the next one is in flight."""

    def __init__(self, n: int, sink: Sink) -> None:
        super().__init__()
        self.n = n
        self.sink = sink
        self.never = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if len(self.received) >= self.n:
            threading.Thread(target=self.sink.stop).start()
            await self.never.wait()  # cancelled by the stop: this message is never accepted
        self.received.append(Received(rcpt=list(envelope.rcpt_tos), data=envelope.content))
        return "250 OK"


def test_a_department_with_cr_lf_cannot_add_a_header(world: World, sink: Sink) -> None:
    ref = world.add(local("2026-11-27T12:00"), advisor=ADVISOR, note="Borgeren hedder Hans")
    with transaction(world.factory) as session:
        session.execute(
            update(Inquiry)
            .where(Inquiry.ref == ref)
            .values(department="Diverse\r\nBcc: evil@example.com\r\nX-Evil: 1")
        )
    world.tick(local("2026-11-30T09:00"))
    [received] = sink.handler.received
    assert received.rcpt == [ADVISOR]
    message = received.message
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert "Bcc: evil@example.com" in message["Subject"]  # harmless text on one line
    assert b"Hans" not in received.data  # the note never leaves the database
    [row] = world.outbox()
    assert set(row.payload) == {"ref", "rule", "department", "due_at", "planned_at"}


def test_messages_carry_the_filter_headers_the_ref_and_the_done_command(
    world: World, sink: Sink
) -> None:
    ref = world.add(local("2026-11-27T12:00"), advisor=ADVISOR)
    world.tick(local("2026-11-30T09:00"))
    [message] = sink.messages
    assert message["X-Svarfrist-Kind"] == "due_soon"
    assert message["X-Svarfrist-Ref"] == ref and message["X-Svarfrist-Rule"] == "reply"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert (ref in message["Subject"] and "ø" not in message["Subject"]) or True
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"svarfrist reply {ref}" in text and f"svarfrist reply {ref}" in html
    assert "2026-11-30T12:00:00+01:00" in text  # the deadline, local time with offset
    assert "nærmer sig" in text
    assert message["Message-ID"] == world.outbox()[0].message_id


def test_the_digest_skips_an_advisor_with_nothing_due(tmp_path: Path, sink: Sink) -> None:
    world = World(f"sqlite:///{tmp_path / 'd.db'}", sink.port)
    try:
        due_today = world.add(local("2026-11-27T10:00"), advisor=ADVISOR)  # due Mon 10:00
        world.add(local("2026-11-30T07:00"), advisor=OTHER)  # due Tuesday 07:00
        world.tick(local("2026-11-30T07:30"))
        digests = [m for m in sink.messages if m["X-Svarfrist-Kind"] == "digest"]
        assert [m["To"] for m in digests] == [ADVISOR]
        assert due_today in digests[0].get_body(("plain",)).get_content()
        world.tick(local("2026-11-30T08:00"))
        assert len([m for m in sink.messages if m["X-Svarfrist-Kind"] == "digest"]) == 1
    finally:
        world.close()


def test_a_permanent_refusal_is_recorded_and_not_retried(
    world: World, sink: Sink, run_cli: Any
) -> None:
    sink.handler.refuse["nobody@fredericia.dk"] = "550 5.1.1 no such user"
    ref = world.add(local("2026-11-27T12:00"), advisor="nobody@fredericia.dk")
    world.tick(local("2026-11-30T09:00"))
    world.tick(local("2026-11-30T11:00"))
    [row] = world.outbox()
    assert row.state == OutboxState.FAILED and row.attempts == 1
    assert "550" in (row.last_error or "")
    assert sink.handler.received == []
    env = {"SVARFRIST_DATABASE_URL": world.settings.database_url}
    result = run_cli("status", "--now", "2026-11-30T11:01", env=env)
    assert result.returncode == 0, result.stderr
    assert "failed deliveries: 1" in result.stdout and "550" in result.stdout
    shown = run_cli("show", ref, "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    [failure] = json.loads(shown.stdout)["delivery_failures"]
    assert failure["kind"] == "due_soon" and "550" in failure["error"]
    listed = run_cli("list", "--state", "all", env=env)
    assert f"{ref}  " in listed.stdout and "mail-failed:1" in listed.stdout


def test_a_transient_refusal_is_retried_after_the_backoff(world: World, sink: Sink) -> None:
    sink.handler.refuse[ADVISOR] = "451 4.3.0 try again later"
    world.add(local("2026-11-27T12:00"), advisor=ADVISOR)
    world.tick(local("2026-11-30T09:00"))
    [row] = world.outbox()
    assert row.state == OutboxState.PENDING and row.attempts == 1
    assert row.send_at > local("2026-11-30T09:00")
    world.tick(local("2026-11-30T09:00:30"))  # before the backoff: nothing happens
    assert world.outbox()[0].attempts == 1
    del sink.handler.refuse[ADVISOR]
    world.tick(local("2026-11-30T09:05"))
    [row] = world.outbox()
    assert row.state == OutboxState.SENT and row.attempts == 2
    assert len(sink.messages) == 1


def test_a_reminder_cancelled_by_a_reply_goes_out_after_the_reply_is_undone(
    world: World, sink: Sink
) -> None:
    sink.handler.refuse[ADVISOR] = "451 4.3.0 try again later"
    ref = world.add(local("2026-11-30T10:00"), advisor=ADVISOR)  # due Tuesday 10:00
    world.tick(local("2026-12-01T10:05"))  # the overdue is queued and waits for a retry
    del sink.handler.refuse[ADVISOR]
    world.reply(ref, local("2026-12-01T10:10"))
    world.tick(local("2026-12-01T10:20"))  # met: cancelled at the claim, unsent
    [row] = [r for r in world.outbox() if r.kind == "overdue"]
    assert row.state == OutboxState.CANCELLED and sink.messages == []
    with transaction(world.factory) as session:
        history.undo(session, world.ctx(local("2026-12-01T10:30")), ref)
    world.tick(local("2026-12-01T10:40"))  # overdue again: its reminder was never sent
    world.tick(local("2026-12-01T11:40"))
    assert kinds_by_ref(sink) == Counter({(ref, "overdue"): 1})
    [row] = [r for r in world.outbox() if r.kind == "overdue"]
    assert row.state == OutboxState.SENT


def test_a_reminder_queued_before_a_pause_waits_for_the_resume_and_names_the_new_deadline(
    world: World, sink: Sink
) -> None:
    sink.handler.refuse[ADVISOR] = "451 4.3.0 try again later"
    ref = world.add(local("2026-11-30T10:00"), advisor=ADVISOR)  # due_soon Tuesday 07:00
    world.tick(local("2026-12-01T07:05"))  # queued, waits for a retry
    del sink.handler.refuse[ADVISOR]
    with transaction(world.factory) as session:
        register.pause(
            session, world.ctx(local("2026-12-01T07:10")), ref, local("2026-12-01T07:10")
        )
    world.tick(local("2026-12-01T07:20"))  # paused: no deadline to remind of
    assert sink.messages == []
    with transaction(world.factory) as session:
        register.resume(
            session, world.ctx(local("2026-12-01T08:10")), ref, local("2026-12-01T08:10")
        )
    world.tick(local("2026-12-01T08:15"))
    assert kinds_by_ref(sink) == Counter({(ref, "due_soon"): 1})
    body = sink.messages[0].get_body(("plain",)).get_content()
    assert "kl. 11:00" in body and "kl. 10:00 (" not in body  # one paused hour later


def test_an_overdue_queued_before_a_recompute_moved_its_deadline_later_waits_for_the_new_one(
    world: World, sink: Sink
) -> None:
    """A newly declared closing day moves the deadline past the time of sending: the
    queued overdue must not say "overdue" of a deadline still to come; it goes out once,
    when the new deadline has passed."""
    ref = world.add(local("2026-11-27T10:00"), advisor=ADVISOR)  # due Monday 10:00
    refresh(world.svc, local("2026-11-30T10:05"))  # the overdue is queued, not yet sent
    closed = World(world.settings.database_url, sink.port, reminders={"digest_time": None},
                   calendar={"closed_dates": ["2026-11-27"]})  # fmt: skip
    try:
        with transaction(closed.factory) as session:
            [move] = recompute(session, closed.ctx(local("2026-11-30T10:06")), dry_run=False)
        assert move.new_due_at == local("2026-12-01T00:00")
        closed.tick(local("2026-11-30T10:30"))
        assert sink.messages == []
        closed.tick(local("2026-12-01T07:00"))
        closed.tick(local("2026-12-01T08:00"))
    finally:
        closed.close()
    assert kinds_by_ref(sink) == Counter({(ref, "overdue"): 1})
    assert (
        "tirsdag 1. december 2026 kl. 00:00" in sink.messages[0].get_body(("plain",)).get_content()
    )


def test_a_due_soon_queued_before_a_recompute_moved_its_deadline_later_waits_for_the_new_warning(
    world: World, sink: Sink
) -> None:
    """A newly declared closing day moves the deadline later: the queued due_soon must not
    go out at the old warning time, hours before the new one; it goes out once, when the
    new warning time has come, naming the new deadline."""
    ref = world.add(local("2026-11-27T10:00"), advisor=ADVISOR)  # due Monday 10:00
    refresh(world.svc, local("2026-11-30T07:05"))  # the due_soon is queued, not yet sent
    closed = World(world.settings.database_url, sink.port, reminders={"digest_time": None},
                   calendar={"closed_dates": ["2026-11-27"]})  # fmt: skip
    try:
        with transaction(closed.factory) as session:
            [move] = recompute(session, closed.ctx(local("2026-11-30T07:06")), dry_run=False)
        assert move.new_due_at == local("2026-12-01T00:00")  # warned Monday 20:00
        closed.tick(local("2026-11-30T07:30"))  # the old warning time: too early now
        closed.tick(local("2026-11-30T13:59"))
        assert sink.messages == []
        # warned 20:00, after the window closes at 18:00: sent at 14:00, four hours before
        closed.tick(local("2026-11-30T14:00"))
        closed.tick(local("2026-11-30T17:00"))
    finally:
        closed.close()
    assert kinds_by_ref(sink) == Counter({(ref, "due_soon"): 1})
    assert (
        "tirsdag 1. december 2026 kl. 00:00" in sink.messages[0].get_body(("plain",)).get_content()
    )


def test_a_reminder_queued_for_an_obligation_a_recompute_removed_is_not_sent(
    world: World, sink: Sink
) -> None:
    """The call-back rule switched off: its obligation is gone, and so is its reminder."""
    world.add(local("2026-11-27T10:00"), advisor=ADVISOR, callback_requested=True)
    refresh(world.svc, local("2026-12-01T10:05"))  # both overdues queued, none sent
    assert {r.kind for r in world.outbox()} == {"overdue"} and len(world.outbox()) == 2
    off = World(world.settings.database_url, sink.port, reminders={"digest_time": None},
                rules={"callback": {"enabled": False}})  # fmt: skip
    try:
        with transaction(off.factory) as session:
            moves = recompute(session, off.ctx(local("2026-12-01T10:06")), dry_run=False)
        assert [(m.rule, m.new_due_at) for m in moves] == [("callback", None)]
        off.tick(local("2026-12-01T10:30"))
    finally:
        off.close()
    assert [m["X-Svarfrist-Rule"] for m in sink.messages] == ["reply"]


def test_after_downtime_an_advisor_gets_one_catch_up_message(world: World, sink: Sink) -> None:
    for hour in (8, 9, 10):
        world.add(local(f"2026-11-30T{hour:02d}:00"), advisor=ADVISOR)
    world.add(local("2026-11-30T08:00"), advisor=OTHER)
    world.tick(local("2026-12-03T10:00"))  # down for two days: due_soon dropped, overdue due
    by_to = Counter(m["To"] for m in sink.messages)
    assert by_to == Counter({ADVISOR: 1, OTHER: 1})
    catch_up = next(m for m in sink.messages if m["To"] == ADVISOR)
    assert catch_up["X-Svarfrist-Kind"] == "digest"
    assert catch_up.get_body(("plain",)).get_content().count("svarfrist reply") == 3
    states = Counter((r.kind, r.state) for r in world.outbox())
    assert states[("overdue", OutboxState.SENT)] == 4


# -- TLS and login against a real server ------------------------------------------------------
@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for 127.0.0.1 (openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def _tls_server(cert: Path, key: Path, *, implicit: bool) -> tuple[Controller, Handler, int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = Handler()

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = data.login == b"svarfrist" and data.password == "hemmelig-æøå".encode()
        return AuthResult(success=ok)

    port = free_port()
    options: dict[str, Any] = {"authenticator": authenticate, "auth_required": True}
    if implicit:
        # aiosmtpd offers AUTH only after its own STARTTLS; the implicit-TLS session is
        # encrypted all the same, so let it offer AUTH there.
        options.update(ssl_context=context, auth_require_tls=False)
    else:
        options.update(tls_context=context, require_starttls=True)
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller, handler, port


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_and_login_deliver_and_a_wrong_password_is_retried_not_failed(
    tmp_path: Path, certificate: tuple[Path, Path], security: str
) -> None:
    cert, key = certificate
    controller, handler, port = _tls_server(cert, key, implicit=security == "tls")
    smtp = {
        "host": "127.0.0.1",
        "port": port,
        "security": security,
        "username": "svarfrist",
        "timeout_seconds": 2,
        "ca_file": str(cert),
    }
    try:
        wrong = World(
            f"sqlite:///{tmp_path / 'w.db'}",
            port,
            reminders={"digest_time": None},
            smtp=smtp | {"password": "forkert"},
        )
        wrong.add(local("2026-11-27T12:00"), advisor=ADVISOR)
        wrong.tick(local("2026-11-30T08:00"))
        [row] = wrong.outbox()
        # Bad credentials are configuration, not the message's fault: retried, never failed.
        assert row.state == OutboxState.PENDING and row.attempts == 1, row.last_error
        assert handler.received == []
        wrong.close()
        right = World(
            f"sqlite:///{tmp_path / 'r.db'}",
            port,
            reminders={"digest_time": None},
            smtp=smtp | {"password": "hemmelig-æøå"},
        )
        right.add(local("2026-11-27T12:00"), advisor=ADVISOR)
        right.tick(local("2026-11-30T08:00"))
        assert [r.state for r in right.outbox()] == [OutboxState.SENT]
        assert len(handler.received) == 1
        right.close()
    finally:
        controller.stop()


def test_a_plaintext_client_is_refused_by_a_starttls_server(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    controller, handler, port = _tls_server(cert, key, implicit=False)
    try:
        world = World(f"sqlite:///{tmp_path / 'p.db'}", port, reminders={"digest_time": None})
        world.add(local("2026-11-27T12:00"), advisor=ADVISOR)
        world.tick(local("2026-11-30T08:00"))
        [row] = world.outbox()
        assert row.state != OutboxState.SENT and handler.received == []
        world.close()
    finally:
        controller.stop()


def test_a_row_that_cannot_be_planned_is_pushed_forward_and_the_others_go_out(
    tmp_path: Path, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    world = World(
        f"sqlite:///{tmp_path / 'e.db'}",
        sink.port,
        reminders={"digest_time": None, "escalation_after_hours": 8, "escalation_to": OTHER},
    )
    try:
        good = world.add(local("2026-11-27T12:00"), advisor=ADVISOR)
        bad = world.add(local("2026-11-27T12:00"), advisor=ADVISOR)
        with transaction(world.factory) as session:
            # A schedule since removed from the config: planning this row raises.
            session.execute(
                update(Obligation)
                .where(
                    Obligation.inquiry_id
                    == select(Inquiry.id).where(Inquiry.ref == bad).scalar_subquery()
                )
                .values(schedule="removed_schedule")
            )
        now = local("2026-11-30T08:00")
        report = world.tick(now)
        assert report.errors == 1
        assert [m["X-Svarfrist-Ref"] for m in sink.messages] == [good]
        with world.factory() as session:
            pushed = session.scalar(
                select(Obligation.next_action_at)
                .join(Inquiry, Obligation.inquiry_id == Inquiry.id)
                .where(Inquiry.ref == bad)
            )
        assert pushed == now + timedelta(hours=1)
        assert "cannot plan reminders for obligation" in caplog.text
    finally:
        world.close()


def test_the_monthly_report_goes_out_once_as_html_text_and_a_csv_attachment(
    tmp_path: Path, sink: Sink
) -> None:
    lead = "leder@fredericia.dk"
    world = World(
        f"sqlite:///{tmp_path / 'm.db'}",
        sink.port,
        reminders={"digest_time": None},
        reports={"management_recipients": [lead]},
    )
    try:
        ref = world.add(local("2026-11-10T10:00"), advisor=ADVISOR)
        world.reply(ref, local("2026-11-10T12:00"))
        world.tick(local("2026-12-01T08:05"))  # the first working day of December, after 08:00
        world.tick(local("2026-12-01T09:00"))
        [report] = [m for m in sink.messages if m["X-Svarfrist-Kind"] == "report"]
        assert report["To"] == lead and report["Auto-Submitted"] == "auto-generated"
        assert report.get_content_type() == "multipart/mixed"
        assert report.get_body(("html",)) is not None and report.get_body(("plain",)) is not None
        [attachment] = list(report.iter_attachments())
        assert attachment.get_content_type() == "text/csv"
        assert attachment.get_filename() == "svarfrist-2026-11.csv"
        text = report.get_body(("plain",)).get_content()
        assert "Diverse" in attachment.get_content()
        assert ref not in text and ref not in attachment.get_content()  # aggregate figures only
    finally:
        world.close()


# -- addresses: EmailMessage, SMTPUTF8, IDNA -----------------------------------------------------
def _raw_header(received: Received, name: str) -> bytes:
    head = received.data.split(b"\r\n\r\n", 1)[0]
    lines = [line for line in head.split(b"\r\n") if line.lower().startswith(name.lower() + b":")]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_non_ascii_local_part_goes_out_with_smtputf8_and_never_as_an_encoded_word(
    tmp_path: Path,
) -> None:
    sink = Sink(smtputf8=True).start()
    world = World(f"sqlite:///{tmp_path / 'u.db'}", sink.port, reminders={"digest_time": None})
    try:
        world.add(local("2026-11-27T12:00"), advisor="bjørn@kommune.dk")
        world.tick(local("2026-11-30T09:00"))
        [received] = sink.handler.received
        assert received.rcpt == ["bjørn@kommune.dk"]
        to = _raw_header(received, b"To")
        assert to == "To: bjørn@kommune.dk".encode() and b"=?" not in to
        assert received.message["To"] == "bjørn@kommune.dk"
        assert [r.state for r in world.outbox()] == [OutboxState.SENT]
    finally:
        world.close()
        sink.stop()


def test_a_non_ascii_local_part_fails_for_good_on_a_server_without_smtputf8(
    world: World, sink: Sink
) -> None:
    world.add(local("2026-11-27T12:00"), advisor="bjørn@kommune.dk")
    world.tick(local("2026-11-30T09:00"))
    world.tick(local("2026-11-30T11:00"))  # no second attempt: it cannot succeed here
    [row] = world.outbox()
    assert row.state == OutboxState.FAILED and row.attempts == 1
    assert "SMTPUTF8" in (row.last_error or "")
    assert sink.handler.received == []


def test_an_international_domain_goes_out_in_its_ascii_form(world: World, sink: Sink) -> None:
    world.add(local("2026-11-27T12:00"), advisor="anne@københavn.dk")
    world.tick(local("2026-11-30T09:00"))
    [received] = sink.handler.received
    assert received.rcpt == ["anne@xn--kbenhavn-54a.dk"]
    assert _raw_header(received, b"To") == b"To: anne@xn--kbenhavn-54a.dk"


def test_the_message_id_is_in_the_domain_of_mail_from_and_the_sender_keeps_its_name(
    tmp_path: Path, sink: Sink
) -> None:
    world = World(
        f"sqlite:///{tmp_path / 'f.db'}",
        sink.port,
        reminders={"digest_time": None},
        mail_from="Fredericia Kommune, Borgerservice <svarfrist@fredericia.dk>",
    )
    try:
        world.add(local("2026-11-27T12:00"), advisor=ADVISOR)
        world.tick(local("2026-11-30T09:00"))
        [message] = sink.messages
        assert message["Message-ID"].endswith("@fredericia.dk>"), message["Message-ID"]
        assert message["From"].addresses[0].addr_spec == "svarfrist@fredericia.dk"
        assert message["From"].addresses[0].display_name == "Fredericia Kommune, Borgerservice"
    finally:
        world.close()


# -- what a reminder says ----------------------------------------------------------------------
def test_a_reminder_names_ref_rule_deadline_channel_topic_department_receipt_and_owner_in_danish(
    world: World, sink: Sink
) -> None:
    ref = world.add(
        local("2026-11-30T08:00"),
        advisor=ADVISOR,
        channel="letter",
        topic="Kontanthjælp",
        callback_requested=True,
        note="Borgeren hedder Hans Hansen",
    )
    world.ticks(local("2026-11-30T08:00"), local("2026-12-04T17:00"), timedelta(hours=1))
    assert len(sink.messages) >= 2, "nothing was sent"
    for received in sink.handler.received:
        message = received.message
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert b"Hans" not in received.data
        for body in (text, html):
            assert ref in body and "brev" in body and "Kontanthjælp" in body
            assert "Diverse" in body and ADVISOR in body
            assert "mandag 30. november 2026 kl. 08:00" in body  # received
            for english in ("(reply)", "(callback)", "reply)", "callback)"):
                assert english not in body
    rules = {m["X-Svarfrist-Rule"]: m.get_body(("plain",)).get_content() for m in sink.messages}
    assert "Regel:      opringning" in rules["callback"]
    assert "Regel:      kvittering" in rules["reply"]


def test_an_escalation_names_the_advisor_who_owns_the_inquiry(tmp_path: Path, sink: Sink) -> None:
    world = World(
        f"sqlite:///{tmp_path / 'x.db'}",
        sink.port,
        reminders={"digest_time": None, "escalation_after_hours": 2, "escalation_to": OTHER},
    )
    try:
        ref = world.add(local("2026-11-30T08:00"), advisor=ADVISOR)
        world.ticks(local("2026-12-01T08:00"), local("2026-12-01T11:00"), timedelta(minutes=30))
        [escalation] = [m for m in sink.messages if m["X-Svarfrist-Kind"] == "escalation"]
        assert escalation["To"] == OTHER
        assert ADVISOR in escalation["Subject"] and ref in escalation["Subject"]
        assert f"rådgiver: {ADVISOR}" in escalation.get_body(("plain",)).get_content()
    finally:
        world.close()


def test_a_digest_queued_before_a_reply_close_or_reassignment_lists_only_what_is_still_open(
    database_url: str, sink: Sink
) -> None:
    """What the digest says is decided when it is sent: an item met, closed or given to
    another advisor since it was queued is left out, and the rest is listed as it stands."""
    world = World(database_url, sink.port)  # digests at 07:30
    try:
        replied = world.add(local("2026-11-27T10:00"), advisor=ADVISOR)  # due Monday 10:00
        closed = world.add(local("2026-11-27T11:00"), advisor=ADVISOR)
        moved = world.add(local("2026-11-27T12:00"), advisor=ADVISOR)
        still = world.add(local("2026-11-27T13:00"), advisor=ADVISOR)
        late = world.add(local("2026-11-27T07:40"), advisor=ADVISOR)  # due Monday 07:40
        plan_digests(world.svc, local("2026-11-30T07:30"))  # queued, not yet sent
        world.reply(replied, local("2026-11-30T07:31"))
        at = local("2026-11-30T07:32")
        with transaction(world.factory) as session:
            register.close(session, world.ctx(at), closed, at)
            history.assign(session, world.ctx(at), moved, OTHER)
        world.tick(local("2026-11-30T07:45"))
        [digest] = [m for m in sink.messages if m["X-Svarfrist-Kind"] == "digest"]
        assert digest["To"] == ADVISOR
        text = digest.get_body(("plain",)).get_content()
        html = digest.get_body(("html",)).get_content()
        for body in (text, html, digest["Subject"]):
            assert replied not in body and closed not in body and moved not in body
        assert still in text and late in text
        # 07:40 has passed since the digest was queued: overdue now, as it is sent
        assert "1 frist i dag, 1 frist overskredet" in digest["Subject"]
        assert text.index("Overskredne frister") < text.index(late) < text.index("Frister i dag")
        assert [m["To"] for m in sink.messages] == [ADVISOR]  # one message: digest + overdue
    finally:
        world.close()


def test_a_digest_with_nothing_left_to_list_when_it_is_sent_is_not_sent(
    database_url: str, sink: Sink
) -> None:
    world = World(database_url, sink.port)  # digests at 07:30
    try:
        ref = world.add(local("2026-11-27T10:00"), advisor=ADVISOR)  # due Monday 10:00
        plan_digests(world.svc, local("2026-11-30T07:30"))
        world.reply(ref, local("2026-11-30T07:31"))
        world.tick(local("2026-11-30T07:45"))
        assert sink.messages == []
        [row] = [r for r in world.outbox() if r.kind == "digest"]
        assert row.state == OutboxState.CANCELLED
    finally:
        world.close()


@pytest.mark.parametrize(
    ("count", "words"), [(1, "1 frist i dag"), (3, "3 frister i dag"), (0, "0 frister i dag")]
)
def test_the_digest_counts_in_real_danish_plurals(tmp_path: Path, count: int, words: str) -> None:
    sink = Sink().start()
    world = World(f"sqlite:///{tmp_path / 'p.db'}", sink.port)
    try:
        for _ in range(count):
            world.add(local("2026-11-27T15:00"), advisor=ADVISOR)  # due Monday 15:00
        world.add(local("2026-11-27T09:00"), advisor=ADVISOR)  # due Monday 09:00: overdue
        world.tick(local("2026-11-30T09:30"))
        [digest] = [m for m in sink.messages if m["X-Svarfrist-Kind"] == "digest"]
        assert words in digest["Subject"], digest["Subject"]
        assert words in digest.get_body(("plain",)).get_content()
        assert "frist(er)" not in digest["Subject"]
    finally:
        world.close()
        sink.stop()


def test_a_catch_up_in_the_afternoon_sends_one_message_per_advisor_with_an_afternoon_greeting(
    tmp_path: Path, sink: Sink
) -> None:
    world = World(f"sqlite:///{tmp_path / 'c.db'}", sink.port)  # digests on, at 07:30
    try:
        ref = world.add(local("2026-11-30T09:00"), advisor=ADVISOR)  # due Tuesday 09:00
        world.tick(local("2026-12-01T16:16"))  # the daemon was down all morning
        to_advisor = [m for m in sink.messages if m["To"] == ADVISOR]
        assert len(to_advisor) == 1, [m["Subject"] for m in to_advisor]
        [message] = to_advisor
        text = message.get_body(("plain",)).get_content()
        assert text.startswith("God eftermiddag") and "God morgen" not in text
        assert text.count(ref) == 2  # once listed, once in its command
        states = Counter((r.kind, r.state) for r in world.outbox())
        assert states == Counter({("overdue", "sent"): 1, ("digest", "sent"): 1})
        assert len({r.message_id for r in world.outbox()}) == 1
    finally:
        world.close()


@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        ("2026-12-01T07:30", "God morgen"),
        ("2026-12-01T11:59", "God morgen"),
        ("2026-12-01T12:00", "God eftermiddag"),
        ("2026-12-01T17:59", "God eftermiddag"),
        ("2026-12-01T18:00", "God aften"),
    ],
)
def test_the_greeting_fits_the_local_hour(clock: str, expected: str) -> None:
    assert greeting(local(clock), "da") == expected


# -- the event loop never waits for the database ----------------------------------------------
class _LockingHandler(Handler):
    """Accepts the message, then takes SQLite's write lock on a connection of its own."""

    def __init__(self, locker: sqlite3.Connection) -> None:
        super().__init__()
        self.locker = locker
        self.held = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        self.locker.execute("BEGIN IMMEDIATE")
        self.held.set()
        return reply


def test_the_event_loop_keeps_running_while_another_connection_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lock.db"
    locker = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    handler = _LockingHandler(locker)
    sink = Sink(handler=handler).start()
    world = World(f"sqlite:///{path}", sink.port, reminders={"digest_time": None})
    turns_while_locked = 100

    async def watched_sweep() -> tuple[int, SweepReport]:
        task = asyncio.create_task(sweep(world.svc, local("2026-11-30T09:00")))
        turns = 0
        while not task.done():
            await asyncio.sleep(0)  # one turn of the loop, as the watchdog task would get
            if handler.held.is_set() and locker.in_transaction:
                turns += 1
                if turns == turns_while_locked:
                    locker.execute("COMMIT")  # the long import ends
        return turns, await task

    try:
        world.add(local("2026-11-27T12:00"), advisor=ADVISOR)
        turns, report = asyncio.run(watched_sweep())
        assert turns == turns_while_locked
        assert report.delivery.sent == 1
        assert [r.state for r in world.outbox()] == [OutboxState.SENT]
    finally:
        if locker.in_transaction:
            locker.execute("ROLLBACK")
        locker.close()
        world.close()
        sink.stop()


# -- which rows share a message (pure) ---------------------------------------------------------
def _claimed(row_id: int, kind: str, recipient: str, send_at: str) -> Claimed:
    return Claimed(
        row_id=row_id,
        kind=kind,
        recipient=recipient,
        payload={},
        stored={},
        send_at=local(send_at),
        attempts=1,
        message_id=f"<{row_id}@x>",
    )


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(
            [("due_soon", ADVISOR, "09:00"), ("due_soon", ADVISOR, "09:00")],
            [(1,), (2,)],
            id="fresh reminders go out one by one",
        ),
        pytest.param(
            [
                ("digest", ADVISOR, "09:00"),
                ("overdue", ADVISOR, "09:00"),
                ("overdue", OTHER, "09:00"),
            ],
            [(1, 2), (3,)],
            id="a digest takes the recipient's reminders along",
        ),
        pytest.param(
            [
                ("overdue", ADVISOR, "07:00"),
                ("overdue", ADVISOR, "07:10"),
                ("due_soon", ADVISOR, "09:00"),
            ],
            [(1, 2, 3)],
            id="a catch-up takes the recipient's fresh reminders along",
        ),
        pytest.param(
            [
                ("report", ADVISOR, "09:00"),
                ("digest", ADVISOR, "09:00"),
                ("overdue", ADVISOR, "09:00"),
            ],
            [(1,), (2, 3)],
            id="a report always goes alone",
        ),
    ],
)
def test_one_message_per_recipient_when_a_digest_or_catch_up_goes_out(
    rows: list[tuple[str, str, str]], expected: list[tuple[int, ...]]
) -> None:
    claimed = [
        _claimed(i, kind, to, f"2026-12-01T{at}") for i, (kind, to, at) in enumerate(rows, 1)
    ]
    batches = messages(claimed, local("2026-12-01T09:00"), timedelta(minutes=30))
    assert [b.row_ids for b in batches] == expected


class _UncommittedCounter(Handler):
    """Counts, as each message arrives, the messages it accepted before whose rows are not
    yet committed as sent (what a SIGKILL at that moment would send again)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.uncommitted: list[int] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        accepted = {m.message["Message-ID"] for m in self.received}
        reader = sqlite3.connect(self.path)
        try:
            sending = {mid for (mid,) in reader.execute(
                "SELECT message_id FROM outbox WHERE state = 'sending'"
            )}  # fmt: skip
        finally:
            reader.close()
        self.uncommitted.append(len(accepted & sending))
        return await super().handle_DATA(server, session, envelope)


def test_a_kill_would_send_again_at_most_one_commit_of_outcomes_and_the_message_in_flight(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bound.db"
    handler = _UncommittedCounter(path)
    sink = Sink(handler=handler).start()
    world = World(f"sqlite:///{path}", sink.port, reminders={"digest_time": None})
    try:
        for _ in range(3 * OUTCOMES_PER_COMMIT + 1):
            world.add(local("2026-11-27T12:00"), advisor=ADVISOR)
        report = world.tick(local("2026-11-30T08:00"))
        assert report.delivery.sent == 3 * OUTCOMES_PER_COMMIT + 1
        assert len(handler.uncommitted) == report.delivery.sent
        assert max(handler.uncommitted) <= OUTCOMES_PER_COMMIT, handler.uncommitted
        assert {r.state for r in world.outbox()} == {OutboxState.SENT}
    finally:
        world.close()
        sink.stop()


def test_a_due_soon_queued_before_the_sending_window_was_narrowed_still_goes_out(
    world: World, sink: Sink
) -> None:
    """Its deadline did not move: only the configured window did (from 08:00 now), while
    the due_soon waited in the outbox (SMTP down, a restart). The claim held it back for
    the new window's time and cancelled it, but the sweep had planned it already and looks
    at the obligation again only at its deadline: the advisor was never warned."""
    ref = world.add(local("2026-11-27T10:00"), advisor=ADVISOR)  # due Monday 10:00
    refresh(world.svc, local("2026-11-30T07:05"))  # the due_soon is queued, not yet sent
    weekdays = ("monday", "tuesday", "wednesday", "thursday", "friday")
    narrowed = World(world.settings.database_url, sink.port,
                     reminders={"digest_time": None, "window_schedule": "vindue"},
                     schedules={"vindue": {day: ["08:00-16:00"] for day in weekdays}})  # fmt: skip
    try:
        narrowed.ticks(local("2026-11-30T07:30"), local("2026-11-30T09:59"), timedelta(minutes=30))
    finally:
        narrowed.close()
    assert kinds_by_ref(sink) == Counter({(ref, "due_soon"): 1})
