"""End to end: a daemon sweep mails a due_soon reminder to a real SMTP server, and a real
Chromium follows the mail's one-click link to a real uvicorn, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browser_support import NARROW, axe_violations, chromium, scrolls_sideways
from daemon_world import ADVISOR, World, local
from smtp_sink import Sink
from sqlalchemy import select
from web_server import register_rows, web_app

from tracker.store.models import Event, Inquiry

KEY = "e2e-" + "k" * 28
SENT = local("2026-11-30T09:00")  # Monday: the due_soon reminders of Friday's inquiries
CLICKED = local("2026-11-30T09:30")  # the web app's clock


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink().start()
    yield server
    server.stop()


def mailed_links(sink: Sink, base: str) -> dict[str, str]:
    """ref -> the one-click link in its reminder's text part."""
    found = {}
    for message in sink.messages:
        text = message.get_body(("plain",))
        assert text is not None
        [url] = re.findall(re.escape(base) + r"/m/\S+", str(text.get_content()))
        found[str(message["X-Svarfrist-Ref"])] = url
    return found


def replied(world: World) -> dict[str, object]:
    with world.factory() as session:
        return {ref: at for ref, at in session.execute(select(Inquiry.ref, Inquiry.replied_at))}


def test_a_reminder_link_opened_in_chromium_confirms_then_replies_once(
    database_url: str, sink: Sink
) -> None:
    with web_app(database_url, clock=lambda: CLICKED, web={"secret_key": KEY}) as web:
        world = World(
            database_url,
            sink.port,
            reminders={"digest_time": None},
            web={"base_url": web.url, "secret_key": KEY},
        )
        try:
            first = world.add(local("2026-11-27T12:00"), advisor=ADVISOR)
            second = world.add(local("2026-11-27T12:30"), advisor=ADVISOR)
            world.tick(SENT)
            urls = mailed_links(sink, web.url)
            assert set(urls) == {first, second}
            with chromium() as browser:
                page = browser.new_context(viewport=NARROW).new_page()
                before = register_rows(database_url)
                opened = page.goto(urls[first])
                assert opened is not None and opened.status == 200
                assert register_rows(database_url) == before  # the GET changed nothing
                assert replied(world)[first] is None
                assert page.get_by_role("heading", level=1).inner_text() == "Bekræft: svar sendt"
                assert axe_violations(page) == []
                assert not scrolls_sideways(page)

                page.get_by_role("button", name="Bekræft: svar sendt").click()
                page.wait_for_load_state()
                assert "Registreret: svar sendt" in page.inner_text("h1")
                assert axe_violations(page) == []
                assert not scrolls_sideways(page)

                again = page.goto(urls[first])
                assert again is not None and again.status == 410
                assert "allerede brugt" in page.inner_text("main")
                assert axe_violations(page) == []
                forged = page.goto(f"{web.url}/m/not-a-link")
                assert forged is not None and forged.status == 400
                assert axe_violations(page) == []
                assert not scrolls_sideways(page)

                # Without JavaScript the button works just the same.
                plain = browser.new_context(java_script_enabled=False).new_page()
                plain.goto(urls[second])
                plain.get_by_role("button").click()
                plain.wait_for_load_state()
                assert "Registreret: svar sendt" in plain.inner_text("h1")
            state = replied(world)
            with world.factory() as session:
                actors = session.scalars(select(Event.actor).where(Event.kind == "replied")).all()
        finally:
            world.close()
    assert state[first] == CLICKED and state[second] == CLICKED
    assert sorted(actors) == [f"{ADVISOR} (via e-mail-link)"] * 2
