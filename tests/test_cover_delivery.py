"""Cover in delivery, end to end against a real SMTP server (aiosmtpd on 127.0.0.1) on SQLite
and PostgreSQL: an absent advisor's reminders and digests reach their substitute or team,
decided when sent (an absence added after planning counts), and say whose inquiry it is; a
reassigned inquiry's planned reminders go to its new advisor."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from daemon_world import ADVISOR, World, local
from smtp_sink import Sink

from tracker.daemon.sweep import refresh
from tracker.store import cover, history, outbox
from tracker.store.db import transaction

SUBSTITUTE = "ole@fredericia.dk"
FRIDAY = local("2026-12-04T16:00")  # due_soon Monday 12:00, overdue Monday 16:00
MONDAY_DUE_SOON = local("2026-12-07T12:00")
MONDAY_OVERDUE = local("2026-12-07T16:00")
COVER_DA = (
    "Henvendelsen tilhører anne@fredericia.dk, som er fraværende til og med fredag "
    "11. december 2026; du modtager den som stedfortræder."
)


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink().start()
    yield server
    server.stop()


@pytest.fixture
def world(database_url: str, sink: Sink) -> Iterator[World]:
    w = World(database_url, sink.port, reminders={"digest_time": None})
    yield w
    w.close()


def absent(world: World, advisor: str, substitute: str | None = None, *, now: object) -> None:
    with transaction(world.factory) as session:
        cover.add_absence(
            session, world.ctx(now), advisor, first=date(2026, 12, 7), last=date(2026, 12, 11),
            substitute=substitute,
        )  # fmt: skip


def team(world: World, *members: str) -> None:
    with transaction(world.factory) as session:
        cover.add_team(session, world.ctx(FRIDAY), "Borgerservice", members)


def sent_to(sink: Sink) -> list[tuple[str, str]]:
    return sorted((str(m["To"]), str(m["X-Svarfrist-Kind"])) for m in sink.messages)


def text_of(message: object) -> str:
    body = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    return str(body.get_content())


def test_a_reminder_planned_before_the_absence_goes_to_the_substitute_and_not_the_advisor(
    world: World, sink: Sink
) -> None:
    world.add(FRIDAY, advisor=ADVISOR)
    refresh(world.svc, MONDAY_DUE_SOON)  # planned for anne, not yet sent
    assert [r.recipient for r in world.outbox()] == [ADVISOR]
    absent(world, ADVISOR, SUBSTITUTE, now=MONDAY_DUE_SOON)
    world.tick(MONDAY_DUE_SOON)
    world.tick(MONDAY_OVERDUE)
    assert sent_to(sink) == [(SUBSTITUTE, "due_soon"), (SUBSTITUTE, "overdue")]
    assert [r.recipient for r in world.outbox()] == [SUBSTITUTE, SUBSTITUTE]  # as sent
    for message in sink.messages:
        assert COVER_DA in " ".join(text_of(message).split())
        assert ADVISOR in message.get_body(preferencelist=("html",)).get_content()


def test_without_a_substitute_each_present_team_member_gets_a_copy_and_absent_ones_none(
    world: World, sink: Sink
) -> None:
    team(world, ADVISOR, "bo@fredericia.dk", "carl@fredericia.dk", "dora@fredericia.dk")
    absent(world, ADVISOR, now=FRIDAY)
    absent(world, "dora@fredericia.dk", now=FRIDAY)
    world.add(FRIDAY, advisor=ADVISOR)
    world.tick(MONDAY_DUE_SOON)
    assert sent_to(sink) == [("bo@fredericia.dk", "due_soon"), ("carl@fredericia.dk", "due_soon")]
    for message in sink.messages:
        assert "som medlem af rådgiverens team" in " ".join(text_of(message).split())
    world.tick(MONDAY_DUE_SOON + timedelta(minutes=30))  # the copies are not sent twice
    assert len(sink.messages) == 2


def test_a_team_members_copy_that_fails_is_counted_for_its_inquiry_and_office(
    world: World, sink: Sink
) -> None:
    team(world, ADVISOR, "bo@fredericia.dk", "carl@fredericia.dk")
    absent(world, ADVISOR, now=FRIDAY)
    sink.handler.refuse["carl@fredericia.dk"] = "550 5.1.1 no such user"
    ref = world.add(FRIDAY, advisor=ADVISOR)
    world.tick(MONDAY_DUE_SOON)
    assert sent_to(sink) == [("bo@fredericia.dk", "due_soon")]
    with world.factory() as session:
        [failed] = outbox.failures(session, office="default")  # status --office default
        assert failed.recipient == "carl@fredericia.dk" and failed.key.startswith("cover:")
        assert [f.key for f in outbox.delivery_failures(session, [ref])[ref]] == [failed.key]


def test_a_substitute_who_is_absent_too_passes_it_to_the_default_recipient_without_a_team(
    world: World, sink: Sink
) -> None:
    absent(world, ADVISOR, SUBSTITUTE, now=FRIDAY)
    absent(world, SUBSTITUTE, now=FRIDAY)
    world.add(FRIDAY, advisor=ADVISOR)
    world.tick(MONDAY_DUE_SOON)
    assert sent_to(sink) == [("team@fredericia.dk", "due_soon")]
    assert "som kontorets modtager" in " ".join(text_of(sink.messages[0]).split())


def test_an_absence_that_ended_no_longer_diverts_reminders(world: World, sink: Sink) -> None:
    with transaction(world.factory) as session:
        cover.add_absence(
            session, world.ctx(FRIDAY), ADVISOR, first=date(2026, 12, 4), last=date(2026, 12, 6),
            substitute=SUBSTITUTE,
        )  # fmt: skip
    world.add(FRIDAY, advisor=ADVISOR)
    world.tick(MONDAY_DUE_SOON)
    assert sent_to(sink) == [(ADVISOR, "due_soon")]
    assert "fraværende" not in text_of(sink.messages[0])


def test_a_substitutes_digest_lists_the_absent_advisors_items_in_their_own_section(
    database_url: str, sink: Sink
) -> None:
    world = World(database_url, sink.port)  # digests at 07:30
    try:
        own = world.add(FRIDAY, advisor=SUBSTITUTE)
        theirs = world.add(FRIDAY, advisor=ADVISOR)
        absent(world, ADVISOR, SUBSTITUTE, now=FRIDAY)
        world.tick(local("2026-12-07T07:30"))
    finally:
        world.close()
    assert sent_to(sink) == [(SUBSTITUTE, "digest")]
    text = text_of(sink.messages[0])
    mine, covered = text.split("Disse henvendelser tilhører anne@fredericia.dk")
    assert own in mine and theirs not in mine
    assert theirs in covered and own not in covered
    assert "du modtager dem som stedfortræder" in " ".join(covered.split())


def test_a_substitutes_digest_counts_the_absent_advisors_items_in_its_subject(
    database_url: str, sink: Sink
) -> None:
    """A substitute with nothing of their own is not told "0 today, 0 overdue" above the
    absent advisor's deadlines: the subject and the summary count every item listed."""
    world = World(database_url, sink.port)  # digests at 07:30
    try:
        world.add(local("2026-12-03T16:00"), advisor=ADVISOR)  # overdue since Friday
        world.add(FRIDAY, advisor=ADVISOR)  # due today
        world.add(FRIDAY, advisor=SUBSTITUTE)  # due today, the substitute's own
        absent(world, ADVISOR, SUBSTITUTE, now=FRIDAY)
        world.tick(local("2026-12-07T07:30"))
    finally:
        world.close()
    [message] = sink.messages
    summary = "2 frister i dag, 1 frist overskredet"
    assert str(message["Subject"]).endswith(summary)
    assert f"Dagens oversigt for 2026-12-07: {summary}." in text_of(message)
    html = message.get_body(preferencelist=("html",)).get_content()
    assert summary in " ".join(html.split())


def test_a_team_member_with_a_digest_of_their_own_gets_one_message_with_the_absent_advisors(
    database_url: str, sink: Sink
) -> None:
    """Every covering team member, not only the first, gets the absent advisor's items as a
    section of their own digest: one message each, never a second digest."""
    world = World(database_url, sink.port)  # digests at 07:30
    try:
        team(world, ADVISOR, "bo@fredericia.dk", "carl@fredericia.dk")
        theirs = world.add(FRIDAY, advisor=ADVISOR)
        bos = world.add(FRIDAY, advisor="bo@fredericia.dk")
        carls = world.add(FRIDAY, advisor="carl@fredericia.dk")
        absent(world, ADVISOR, now=FRIDAY)
        world.tick(local("2026-12-07T07:30"))
    finally:
        world.close()
    assert sent_to(sink) == [("bo@fredericia.dk", "digest"), ("carl@fredericia.dk", "digest")]
    for message, own in zip(
        sorted(sink.messages, key=lambda m: str(m["To"])), [bos, carls], strict=True
    ):
        text = text_of(message)
        mine, covered = text.split("Disse henvendelser tilhører anne@fredericia.dk")
        assert own in mine and theirs not in mine
        assert theirs in covered and own not in covered


def test_a_reminder_claimed_while_its_inquiry_was_reassigned_goes_to_the_new_advisor(
    world: World, sink: Sink
) -> None:
    ref = world.add(FRIDAY, advisor=ADVISOR)
    refresh(world.svc, MONDAY_DUE_SOON)
    with transaction(world.factory) as session:  # another sender holds the row...
        claimed = outbox.claim(session, now=MONDAY_DUE_SOON, limit=10, lease=timedelta(hours=1))
    with transaction(world.factory) as session:  # ...while the inquiry changes hands
        moved = history.assign(session, world.ctx(MONDAY_DUE_SOON), ref, "bo@fredericia.dk")
    assert moved.moved_messages == 0
    with transaction(world.factory) as session:  # ...and gives it back (shutdown)
        outbox.release(session, [r.id for r in claimed])
    asyncio.run(_sweep(world, MONDAY_DUE_SOON))
    assert sent_to(sink) == [("bo@fredericia.dk", "due_soon")]


async def _sweep(world: World, now: object) -> None:
    from tracker.daemon.sweep import sweep

    await sweep(world.svc, now)  # type: ignore[arg-type]


def test_an_escalation_of_an_absent_advisors_inquiry_still_goes_to_the_lead(
    database_url: str, sink: Sink
) -> None:
    world = World(
        database_url,
        sink.port,
        reminders={
            "digest_time": None,
            "escalation_after_hours": 1,
            "escalation_to": "leder@fredericia.dk",
        },
    )
    try:
        world.add(FRIDAY, advisor=ADVISOR)
        absent(world, ADVISOR, SUBSTITUTE, now=FRIDAY)
        world.ticks(MONDAY_DUE_SOON, local("2026-12-08T12:00"), timedelta(minutes=30))
    finally:
        world.close()
    assert sent_to(sink) == [
        ("leder@fredericia.dk", "escalation"),
        (SUBSTITUTE, "due_soon"),
        (SUBSTITUTE, "overdue"),
    ]
    escalation = next(m for m in sink.messages if m["X-Svarfrist-Kind"] == "escalation")
    assert "fraværende" not in text_of(escalation)


def test_with_nobody_else_an_absent_advisors_reminder_goes_to_their_offices_default_recipient(
    database_url: str, sink: Sink
) -> None:
    offices = {"vejle": {"default_recipient": "borgerservice@vejle.dk"}}
    w = World(database_url, sink.port, reminders={"digest_time": None}, offices=offices)
    try:
        absent(w, ADVISOR, now=FRIDAY)
        w.add(FRIDAY, advisor=ADVISOR, office="vejle")
        w.add(FRIDAY, advisor=ADVISOR)  # the default office's: the top level's recipient
        w.tick(MONDAY_DUE_SOON)
        assert sent_to(sink) == [
            ("borgerservice@vejle.dk", "due_soon"),
            ("team@fredericia.dk", "due_soon"),
        ]
        for message in sink.messages:
            assert "som kontorets modtager" in " ".join(text_of(message).split())
    finally:
        w.close()


def test_a_default_recipient_written_in_capitals_is_covered_when_absent(
    database_url: str, sink: Sink
) -> None:
    """An address setting is one address whatever its case (``validate.address``): the
    office's recipient, a person here, is on leave, and the unassigned inquiry's reminder
    reaches their substitute."""
    w = World(database_url, sink.port, reminders={"digest_time": None},
              default_recipient="Leder@Fredericia.DK")  # fmt: skip
    try:
        absent(w, "leder@fredericia.dk", SUBSTITUTE, now=FRIDAY)
        w.add(FRIDAY)  # no advisor: the default recipient's
        w.tick(MONDAY_DUE_SOON)
    finally:
        w.close()
    assert sent_to(sink) == [(SUBSTITUTE, "due_soon")]
    assert "tilhører leder@fredericia.dk" in " ".join(text_of(sink.messages[0]).split())


def test_an_unassigned_inquirys_reminder_retried_after_the_absence_goes_to_its_owner(
    database_url: str, sink: Sink
) -> None:
    """Whose a reminder is, is asked again when it is sent (``core.cover.owner``): for an
    inquiry without an advisor, the office's recipient, not the substitute that the first,
    failed, attempt was addressed to."""
    leder = "leder@fredericia.dk"
    w = World(database_url, sink.port, reminders={"digest_time": None}, default_recipient=leder)
    try:
        with transaction(w.factory) as session:
            away = cover.add_absence(
                session, w.ctx(FRIDAY), leder, first=date(2026, 12, 7), last=date(2026, 12, 7),
                substitute=SUBSTITUTE,
            )  # fmt: skip
        w.add(FRIDAY)  # no advisor: the default recipient's
        sink.handler.refuse[SUBSTITUTE] = "451 4.2.0 mailbox busy, try later"
        w.tick(MONDAY_DUE_SOON)  # to the substitute: refused for now, retried
        assert sent_to(sink) == []
        del sink.handler.refuse[SUBSTITUTE]
        with transaction(w.factory) as session:  # the office's recipient is back early
            cover.remove_absence(session, w.ctx(MONDAY_DUE_SOON), away.id)
        w.tick(MONDAY_DUE_SOON + timedelta(minutes=5))
    finally:
        w.close()
    assert sent_to(sink) == [(leder, "due_soon")]
    assert "fraværende" not in text_of(sink.messages[0])


def test_an_advisor_of_two_offices_is_covered_by_each_inquiry_s_own_office_s_team(
    database_url: str, sink: Sink
) -> None:
    """Anne works for both offices: her colleagues in each cover its inquiries. Her absence
    is hers wherever it was recorded; a team of another office never gets the mail."""
    offices = {"nord": {"departments": ["Borgerservice Nord"]}}
    w = World(database_url, sink.port, reminders={"digest_time": None}, offices=offices)
    try:
        with transaction(w.factory) as session:
            cover.add_team(session, w.ctx(FRIDAY), "Borgerservice", [ADVISOR, "bo@fredericia.dk"])
            nord = w.ctx(FRIDAY).office("nord")
            cover.add_team(session, nord, "Nord", [ADVISOR, "nina@fredericia.dk"])
            cover.add_absence(
                session, nord, ADVISOR, first=date(2026, 12, 7), last=date(2026, 12, 11)
            )
        top = w.add(FRIDAY, advisor=ADVISOR)
        theirs = w.add(FRIDAY, advisor=ADVISOR, department="Borgerservice Nord", office="nord")
        w.tick(MONDAY_DUE_SOON)
        got = sorted((str(m["To"]), str(m["X-Svarfrist-Ref"])) for m in sink.messages)
        assert got == [("bo@fredericia.dk", top), ("nina@fredericia.dk", theirs)]
    finally:
        w.close()


def test_a_substitute_named_by_one_office_covers_that_offices_inquiries_only(
    database_url: str, sink: Sink
) -> None:
    """Nord's lead names Nina, a colleague at Nord, as Anne's substitute: Nina gets Anne's
    Nord inquiries, and Anne's inquiries of the other office go to its own colleagues, as its
    teams cover them; never to someone of another office (another municipality, say)."""
    offices = {"nord": {"departments": ["Borgerservice Nord"]}}
    w = World(database_url, sink.port, reminders={"digest_time": None}, offices=offices)
    try:
        with transaction(w.factory) as session:
            cover.add_team(session, w.ctx(FRIDAY), "Borgerservice", [ADVISOR, "bo@fredericia.dk"])
            nord = w.ctx(FRIDAY).office("nord")
            cover.add_absence(
                session, nord, ADVISOR, first=date(2026, 12, 7), last=date(2026, 12, 11),
                substitute="nina@fredericia.dk",
            )  # fmt: skip
        top = w.add(FRIDAY, advisor=ADVISOR)
        theirs = w.add(FRIDAY, advisor=ADVISOR, department="Borgerservice Nord", office="nord")
        w.tick(MONDAY_DUE_SOON)
        got = sorted((str(m["To"]), str(m["X-Svarfrist-Ref"])) for m in sink.messages)
        assert got == [("bo@fredericia.dk", top), ("nina@fredericia.dk", theirs)]
    finally:
        w.close()
