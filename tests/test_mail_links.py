"""One-click links in reminder mails (tracker.mail.links): which mails carry them, what a
token says, and that mails keep the command line without the web app's address or key."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from daemon_world import ADVISOR, World, local
from smtp_sink import Sink

from tracker.mail import links
from tracker.mail.render import MailConfig, render, render_combined

KEY = "s" * 32
BASE = "https://svarfrist.fredericia.dk"
LINK = re.compile(re.escape(BASE) + r"/m/[A-Za-z0-9_.\-]+")
WEB = {"base_url": BASE + "/", "secret_key": KEY}


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink().start()
    yield server
    server.stop()


def world_with(tmp_path: Path, sink: Sink, **overrides: Any) -> World:
    overrides.setdefault("reminders", {"digest_time": None})
    return World(f"sqlite:///{tmp_path / 'links.db'}", sink.port, **overrides)


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


DAY = timedelta(days=1)


def read(url: str, now: datetime) -> links.Link:
    token = url.removeprefix(f"{BASE}/m/")
    return links.read(token, key=KEY, now=now, max_age=timedelta(days=14))


def test_a_due_soon_mail_carries_a_link_naming_the_obligation_and_the_recipient(
    tmp_path: Path, sink: Sink
) -> None:
    world = world_with(tmp_path, sink, web=WEB)
    try:
        ref = world.add(local("2026-11-27T12:00"), advisor=ADVISOR)
        sent_at = local("2026-11-30T09:00")
        world.tick(sent_at)
    finally:
        world.close()
    [message] = sink.messages
    text, html = bodies(message)
    [url] = LINK.findall(text)
    assert f'<a href="{url}">Markér: svar sendt ({ref})</a>' in html
    assert "svarfrist reply" not in text and "svarfrist reply" not in html
    assert "med ét klik (svar sendt)" in text
    link = read(url, sent_at + timedelta(days=13))
    assert (link.ref, link.rule, link.action, link.recipient) == (ref, "reply", "reply", ADVISOR)
    assert link.issued_at == sent_at.astimezone(UTC)
    assert len(link.link_id) >= 16


@pytest.mark.parametrize(
    "web",
    [
        pytest.param({"secret_key": KEY}, id="no-base-url"),
        pytest.param({"base_url": BASE}, id="no-secret-key"),
    ],
)
def test_without_the_address_or_the_key_mails_keep_the_command_line(
    tmp_path: Path, sink: Sink, web: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tracker.daemon.sweep"):
        world = world_with(tmp_path, sink, web=web)
    try:
        ref = world.add(local("2026-11-27T12:00"), advisor=ADVISOR)
        world.tick(local("2026-11-30T09:00"))
    finally:
        world.close()
    [message] = sink.messages
    text, html = bodies(message)
    assert f"svarfrist reply {ref}" in text and f"svarfrist reply {ref}" in html
    assert "/m/" not in text and "/m/" not in html
    # An office that set base_url learns at start why its mails carry no links (it was
    # silent: the daemon's unit does not load the web app's key unless told to).
    warned = [r.getMessage() for r in caplog.records if "no web.secret_key" in r.getMessage()]
    assert len(warned) == ("base_url" in web)


def test_a_secret_key_file_signs_the_links_too(tmp_path: Path, sink: Sink) -> None:
    (tmp_path / "key").write_text(KEY + "\n", encoding="utf-8")
    web = {"base_url": BASE, "secret_key_file": str(tmp_path / "key")}
    world = world_with(tmp_path, sink, web=web)
    try:
        ref = world.add(local("2026-11-27T12:00"), advisor=ADVISOR)
        world.tick(local("2026-11-30T09:00"))
    finally:
        world.close()
    [url] = LINK.findall(bodies(sink.messages[0])[0])
    assert read(url, local("2026-11-30T10:00")).ref == ref


def test_every_item_of_a_digest_has_its_own_link(tmp_path: Path, sink: Sink) -> None:
    world = world_with(tmp_path, sink, web=WEB, reminders={"digest_time": "08:00"})
    try:
        today = world.add(local("2026-11-27T15:00"), advisor=ADVISOR)  # due Monday 15:00
        late = world.add(local("2026-11-27T09:00"), advisor=ADVISOR)  # due Monday 09:00
        world.tick(local("2026-11-30T09:30"))
    finally:
        world.close()
    [digest] = [m for m in sink.messages if m["X-Svarfrist-Kind"] == "digest"]
    text, html = bodies(digest)
    found = {read(u, local("2026-11-30T10:00")).ref: u for u in LINK.findall(text)}
    assert set(found) == {today, late}
    for ref, url in found.items():  # the text and the HTML part offer the same link
        assert f'<a href="{url}">svar sendt ({ref})</a>' in html
    ids = {read(u, local("2026-11-30T10:00")).link_id for u in found.values()}
    assert len(ids) == 2  # each obligation's link is its own, used once


def test_a_call_back_reminder_links_to_ringet_op_in_english_where_configured(
    tmp_path: Path, sink: Sink
) -> None:
    world = world_with(tmp_path, sink, web=WEB, reminders={"digest_time": None, "language": "en"})
    try:
        ref = world.add(
            local("2026-11-27T12:00"), advisor=ADVISOR, channel="phone", callback_requested=True
        )
        world.ticks(local("2026-11-27T12:00"), local("2026-12-01T12:00"), timedelta(hours=1))
    finally:
        world.close()
    callbacks = [m for m in sink.messages if m["X-Svarfrist-Rule"] == "callback"]
    assert callbacks
    for message in callbacks:
        text, _ = bodies(message)
        [url] = LINK.findall(text)
        link = read(url, local("2026-12-01T12:00"))
        assert (link.ref, link.action) == (ref, "callback")
        assert "with one click (called back)" in text


def test_a_token_is_refused_when_altered_signed_elsewhere_or_too_old() -> None:
    maker = links.maker(BASE, KEY)
    assert maker is not None
    now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    closing = maker.url(
        ref="2026-000001", rule="answer", action="close", recipient=ADVISOR, now=now
    )
    assert closing is None
    url = str(
        maker.url(ref="2026-000001", rule="reply", action="reply", recipient=ADVISOR, now=now)
    )
    token = url.removeprefix(f"{BASE}/m/")
    assert links.read(token, key=KEY, now=now, max_age=timedelta(days=1)).ref == "2026-000001"
    cases = {
        # The signature's first character: the last one of a base64 signature carries padding
        # bits, and a change there may decode to the same bytes.
        "altered": (_altered_signature(token), KEY, now),
        "other key": (token, "o" * 32, now),
        "truncated": (token[:20], KEY, now),
        "too old": (token, KEY, now + timedelta(days=1, seconds=1)),
        "from the future": (token, KEY, now - timedelta(minutes=1)),
    }
    refusals = {}
    for name, (candidate, key, at) in cases.items():
        with pytest.raises(links.LinkError) as caught:
            links.read(candidate, key=key, now=at, max_age=timedelta(days=1))
        refusals[name] = caught.value.refusal
    assert refusals == {
        "altered": links.Refusal.FORGED,
        "other key": links.Refusal.FORGED,
        "truncated": links.Refusal.FORGED,
        "too old": links.Refusal.EXPIRED,
        "from the future": links.Refusal.EXPIRED,
    }
    # A daemon whose clock is ahead of the web app's by less than the allowed clock skew
    # signs links that work at once; beyond it they are refused as from the future.
    skew = timedelta(minutes=5)
    ahead = links.read(token, key=KEY, now=now - timedelta(minutes=4), max_age=DAY, skew=skew)
    assert ahead.ref == "2026-000001"
    late = links.read(token, key=KEY, now=now + DAY, max_age=DAY, skew=skew)
    assert late.ref == "2026-000001"
    for at in (now - timedelta(minutes=5, seconds=1), now + DAY + timedelta(seconds=1)):
        with pytest.raises(links.LinkError) as caught:
            links.read(token, key=KEY, now=at, max_age=DAY, skew=skew)
        assert caught.value.refusal is links.Refusal.EXPIRED
    assert KEY not in repr(maker)


def _altered_signature(token: str) -> str:
    payload, _, signature = token.rpartition(".")
    first = "A" if signature[0] != "A" else "B"
    return f"{payload}.{first}{signature[1:]}"


def parsed(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _payload(ref: str, rule: str = "reply") -> dict[str, str]:
    return {
        "ref": ref,
        "rule": rule,
        "department": "Diverse",
        "due_at": "2026-11-30T11:00:00+00:00",
    }


def _config(language: str = "da") -> MailConfig:
    commands = {"reply": "reply", "callback": "callback", "answer": "close"}
    return MailConfig(
        mail_from="svarfrist@fredericia.dk",
        language=language,
        commands=commands,
        links=links.maker(BASE, KEY),
    )


def test_an_escalation_links_in_the_name_of_the_lead_it_goes_to() -> None:
    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    lead = "leder@fredericia.dk"
    envelope = render(
        kind="escalation",
        payload=_payload("2026-000007") | {"advisor": ADVISOR},
        recipient=lead,
        message_id="<e.1@fredericia.dk>",
        config=_config(),
        now=now,
    )
    [url] = LINK.findall(bodies(parsed(envelope.data))[0])
    assert read(url, now).recipient == lead


def test_a_catch_up_message_links_every_reminder_and_closing_keeps_the_command() -> None:
    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    items = [
        ("due_soon", _payload("2026-000001")),
        ("overdue", _payload("2026-000002", "callback")),
        ("overdue", _payload("2026-000003", "answer")),
    ]
    envelope = render_combined(
        items=items,
        recipient=ADVISOR,
        message_id="<c.1@fredericia.dk>",
        config=_config("en"),
        now=now,
    )
    content = bodies(parsed(envelope.data))[0]
    found = {read(u, now).ref: read(u, now).action for u in LINK.findall(content)}
    assert found == {"2026-000001": "reply", "2026-000002": "callback"}
    assert "reply sent: " in content and "called back: " in content
    assert "svarfrist close 2026-000003" in content  # closing is not a click in a mail


# An office's own rule: nord calls a citizen who phoned back within four working hours.
NORD_RULES = {
    "opfoelgning": {"hours": 4, "channels": ["phone"], "fulfilled_by": "callback"},
    "reply": {"fulfilled_by": "close"},  # nord's reply obligation ends only when closed
}
NORD_OFFICE = {"departments": ["Borgerservice Nord"], "rules": NORD_RULES}


@pytest.mark.parametrize("web", [pytest.param(WEB, id="links"), pytest.param({}, id="commands")])
def test_a_reminder_names_the_action_its_own_office_s_rule_is_fulfilled_by(
    tmp_path: Path, sink: Sink, web: dict[str, str]
) -> None:
    world = world_with(tmp_path, sink, web=web, offices={"nord": NORD_OFFICE})
    received = local("2026-11-27T12:00")  # a Friday
    try:
        nord_phone = world.add(
            received, channel="phone", department="Borgerservice Nord", office="nord",
            advisor="a@fredericia.dk",
        )  # fmt: skip
        nord_mail = world.add(
            received, channel="email", department="Borgerservice Nord", office="nord",
            advisor="b@fredericia.dk",
        )  # fmt: skip
        top_mail = world.add(received, channel="email", advisor="c@fredericia.dk")
        world.ticks(received, local("2026-11-30T17:00"), timedelta(minutes=30))
    finally:
        world.close()
    texts: dict[tuple[str, str], list[str]] = {}
    for message in sink.messages:
        key = (str(message["X-Svarfrist-Ref"]), str(message["X-Svarfrist-Rule"]))
        texts.setdefault(key, []).append("".join(bodies(message)))
    wanted = {
        (nord_phone, "opfoelgning"): "callback",
        (nord_mail, "reply"): "close",
        (top_mail, "reply"): "reply",
    }
    assert set(wanted) <= set(texts)
    for (ref, rule), action in wanted.items():
        for content in texts[ref, rule]:
            urls = LINK.findall(content)
            if not web or action == "close":  # closing is never a click in a mail
                assert not urls, (ref, rule)
                assert f"svarfrist {action} {ref}" in content, (ref, rule)
                continue
            assert {read(u, received + timedelta(days=5)).action for u in urls} == {action}
            assert "svarfrist " not in content, (ref, rule)
