"""``/m/{token}``, the one-click link of a reminder mail, against a real uvicorn on SQLite and
PostgreSQL: GET never writes, POST acts once, every refusal is a 4xx page writing nothing."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta

import httpx
from register_support import NOW, dump
from sqlalchemy import func, select
from web_server import EMAIL, Web, register_rows, web_app

from tracker.mail import links
from tracker.store.db import make_engine, session_factory
from tracker.store.models import Event, Obligation, UsedLink

KEY = "k" * 32
BASE = "https://svarfrist.fredericia.dk"
RECIPIENT = "anna@fredericia.dk"
PHONE = {**EMAIL, "channel": "phone", "callback_requested": True}
MAKER = links.maker(BASE, KEY)


@contextmanager
def linked_app(database_url: str, **overrides: object) -> Iterator[Web]:
    web = {"secret_key": KEY, "base_url": BASE, **overrides}
    with web_app(database_url, web=web) as app:
        yield app


def link_path(ref: str, rule: str = "reply", *, issued: datetime = NOW) -> str:
    assert MAKER is not None
    url = MAKER.url(ref=ref, rule=rule, action=rule, recipient=RECIPIENT, now=issued)
    assert url is not None and url.startswith(f"{BASE}/m/")
    return url.removeprefix(BASE)


def create(web: Web, body: dict[str, object] = EMAIL) -> str:
    with web.client() as client:
        created = client.post("/api/v1/inquiries", json=body)
        assert created.status_code == 201, created.text
        return str(created.json()["ref"])


def events(database_url: str, kind: str) -> list[Event]:
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(Event).where(Event.kind == kind)))
    finally:
        engine.dispose()


def test_get_shows_a_confirmation_with_a_real_button_and_writes_nothing(database_url: str) -> None:
    with linked_app(database_url) as web, httpx.Client(base_url=web.url) as browser:
        ref = create(web)
        path = link_path(ref)
        before = register_rows(database_url)
        page = browser.get(path)
        assert register_rows(database_url) == before
    assert page.status_code == 200
    html = page.text
    assert 'lang="da"' in html and "Bekræft: svar sendt" in html
    assert ref in html and "kvittering" in html and "torsdag 26. november 2026 kl. 10:00" in html
    assert f'<form method="post" action="{path}">' in html
    assert '<button type="submit">' in html
    assert "<script" not in html  # nothing submits the form by itself
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"


def test_post_replies_once_with_the_audit_trail_saying_via_e_mail_link(database_url: str) -> None:
    with linked_app(database_url) as web, httpx.Client(base_url=web.url) as browser:
        ref = create(web)
        path = link_path(ref)
        done = browser.post(path)
        assert done.status_code == 200, done.text
        assert "Registreret: svar sendt" in done.text and ref in done.text
        with web.client() as client:
            shown = client.get(f"/api/v1/inquiries/{ref}").json()
        again = browser.post(path)
        assert again.status_code == 410 and "allerede brugt" in again.text
        rows_after = register_rows(database_url)
        assert browser.get(path).status_code == 410
    assert shown["replied_at"].startswith("2026-11-26T13:00")  # NOW, in local time
    [event] = events(database_url, "replied")
    assert event.actor == f"{RECIPIENT} (via e-mail-link)"
    assert event.ref == ref and event.at == NOW
    assert len(rows_after["used_links"]) == 1


def test_callback_link_records_the_call_back(database_url: str) -> None:
    with linked_app(database_url) as web, httpx.Client(base_url=web.url) as browser:
        ref = create(web, PHONE)
        page = browser.get(link_path(ref, "callback"))
        assert page.status_code == 200 and "Bekræft: ringet op" in page.text
        assert browser.post(link_path(ref, "callback")).status_code == 200
        with web.client() as client:
            shown = client.get(f"/api/v1/inquiries/{ref}").json()
    assert shown["called_back_at"] is not None and shown["replied_at"] is None
    assert [e.actor for e in events(database_url, "called_back")] == [
        f"{RECIPIENT} (via e-mail-link)"
    ]


def test_forged_altered_and_expired_tokens_are_refused_and_write_nothing(
    database_url: str,
) -> None:
    with linked_app(database_url) as web, httpx.Client(base_url=web.url) as browser:
        ref = create(web)
        good = link_path(ref)
        head, _, signature = good.rpartition(".")
        altered = f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
        other_key = links.maker(BASE, "x" * 32)
        assert other_key is not None
        forged = str(
            other_key.url(ref=ref, rule="reply", action="reply", recipient=RECIPIENT, now=NOW)
        )
        expired = link_path(ref, issued=NOW - timedelta(days=14, seconds=1))
        before = dump(database_url)
        answers = {
            name: (browser.get(path), browser.post(path))
            for name, path in {
                "altered": altered,
                "forged": forged.removeprefix(BASE),
                "garbage": "/m/not-a-token",
                "expired": expired,
            }.items()
        }
        assert dump(database_url) == before
        fresh = link_path(ref, issued=NOW - timedelta(days=13, hours=23))
        assert browser.get(fresh).status_code == 200  # 14 days is the default
    for name in ("altered", "forged", "garbage"):
        for answer in answers[name]:
            assert answer.status_code == 400, name
            assert "Linket er ugyldigt" in answer.text
    for answer in answers["expired"]:
        assert answer.status_code == 410 and "Linket er udløbet" in answer.text


def test_link_days_sets_how_long_a_link_works(database_url: str) -> None:
    with (
        linked_app(database_url, link_days=2) as web,
        httpx.Client(base_url=web.url) as browser,
    ):
        ref = create(web)
        assert browser.get(link_path(ref, issued=NOW - timedelta(days=1))).status_code == 200
        assert browser.get(link_path(ref, issued=NOW - timedelta(days=3))).status_code == 410


def test_a_met_obligation_or_closed_inquiry_gives_409_and_writes_nothing(
    database_url: str,
) -> None:
    with linked_app(database_url) as web, httpx.Client(base_url=web.url) as browser:
        replied, closed = create(web), create(web)
        with web.client() as client:
            assert client.post(f"/api/v1/inquiries/{replied}/reply").status_code == 200
            assert client.post(f"/api/v1/inquiries/{closed}/close").status_code == 200
        before = dump(database_url)
        met_get, met_post = browser.get(link_path(replied)), browser.post(link_path(replied))
        closed_get, closed_post = browser.get(link_path(closed)), browser.post(link_path(closed))
        assert dump(database_url) == before
    for answer in (met_get, met_post):
        assert answer.status_code == 409 and "allerede opfyldt" in answer.text
    for answer in (closed_get, closed_post):
        assert answer.status_code == 409 and f"Henvendelse {closed} er lukket" in answer.text


def test_a_link_for_one_inquiry_never_acts_on_another(database_url: str) -> None:
    with linked_app(database_url) as web, httpx.Client(base_url=web.url) as browser:
        first, second = create(web), create(web)
        # Splice the second inquiry's ref into the first one's signed token: refused.
        # (payload.timestamp.signature; a compressed payload starts with a dot itself)
        payload, stamp, signature = link_path(first).removeprefix("/m/").rsplit(".", 2)
        other = link_path(second).removeprefix("/m/").rsplit(".", 2)[0]
        spliced = browser.post(f"/m/{other}.{stamp}.{signature}")
        assert spliced.status_code == 400
        assert browser.post(link_path(first)).status_code == 200
        with web.client() as client:
            one = client.get(f"/api/v1/inquiries/{first}").json()
            two = client.get(f"/api/v1/inquiries/{second}").json()
        unknown = browser.get(link_path("2099-999999"))
    assert payload != other
    assert one["replied_at"] is not None and two["replied_at"] is None
    assert [e.ref for e in events(database_url, "replied")] == [first]
    assert unknown.status_code == 404 and "findes ikke" in unknown.text


def test_without_a_secret_key_every_link_is_refused(database_url: str) -> None:
    with web_app(database_url) as web, httpx.Client(base_url=web.url) as browser:
        ref = create(web)
        answer = browser.post(link_path(ref))
    assert answer.status_code == 400


def test_pages_are_english_where_configured(database_url: str) -> None:
    with (
        linked_app(database_url, language="en") as web,
        httpx.Client(base_url=web.url) as browser,
    ):
        ref = create(web)
        page = browser.get(link_path(ref))
        refused = browser.get("/m/nonsense")
    assert 'lang="en"' in page.text and "Confirm: reply sent" in page.text
    assert "acknowledgement" in page.text
    assert refused.status_code == 400 and "The link is not valid" in refused.text


def test_fifty_concurrent_posts_of_one_link_fulfil_once_with_one_audit_event(
    database_url: str,
) -> None:
    clients = 50
    with linked_app(database_url) as web:
        ref = create(web)
        path = link_path(ref)
        start = threading.Barrier(clients)

        def click(_: int) -> int:
            with httpx.Client(base_url=web.url, timeout=60) as browser:
                start.wait()  # all fifty leave together
                return browser.post(path).status_code

        with ThreadPoolExecutor(clients) as pool:
            statuses = Counter(pool.map(click, range(clients)))
    assert statuses == Counter({200: 1, 410: clients - 1})
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            replies = session.scalar(
                select(func.count()).select_from(Event).where(Event.kind == "replied")
            )
            used = session.scalar(select(func.count()).select_from(UsedLink))
            met = session.scalars(select(Obligation.met_at)).all()
    finally:
        engine.dispose()
    assert replies == 1 and used == 1
    assert len(met) == 1 and met[0] is not None


def test_fifty_different_links_to_one_obligation_at_once_fulfil_it_once(
    database_url: str,
) -> None:
    # A due_soon mail and a digest both link the same obligation: each link is unused, so
    # only the register's lock and its "already replied" can stop the second.
    clients = 50
    with linked_app(database_url) as web:
        ref = create(web)
        paths = [link_path(ref) for _ in range(clients)]
        start = threading.Barrier(clients)

        def click(n: int) -> int:
            with httpx.Client(base_url=web.url, timeout=60) as browser:
                start.wait()
                return browser.post(paths[n]).status_code

        with ThreadPoolExecutor(clients) as pool:
            statuses = Counter(pool.map(click, range(clients)))
    assert statuses == Counter({200: 1, 409: clients - 1})
    assert len(events(database_url, "replied")) == 1
    assert len(dump(database_url)["used_links"]) == 1
