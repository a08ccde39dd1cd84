"""The staff pages over real HTTP against a real uvicorn: log in and out, roles, the forms
and actions through the register's own functions, escaping, SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from page_support import (
    PASSWORD,
    USERS,
    browser,
    csrf_of,
    log_in,
    logged_in,
    page_app,
    post_form,
)
from register_support import NOW, context, engine_for, session_on
from sqlalchemy import select
from web_server import EMAIL, Web, register_rows, web_app

from tracker.errors import BadInputError
from tracker.sla import Channel
from tracker.store import access
from tracker.store.db import make_engine, session_factory
from tracker.store.models import Event, LoginAttempt, User
from tracker.store.register import EventKind, NewInquiry, add
from tracker.web.pages import texts
from tracker.web.pages.login import THROTTLE_FAILURES

NOTE = "Borgeren hedder Jens og bor på Vestergade 3"
NEW = {
    "channel": "email",
    "department": "Diverse",
    "topic": "",
    "advisor": USERS["advisor"],
    "received_at": "2026-11-26T10:00",
    "note": NOTE,
}


@pytest.fixture
def web(database_url: str) -> Iterator[Web]:
    with page_app(database_url) as served:
        yield served


def register(client: httpx.Client, **fields: str) -> str:
    """Registers through the form; returns the inquiry page's path."""
    answer = post_form(client, "/henvendelser/ny", "/henvendelser/ny", {**NEW, **fields})
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.endswith("?udfoert=add")
    return location.split("?")[0]


def kinds(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(Event.kind).order_by(Event.id)))
    finally:
        engine.dispose()


# -- log in ---------------------------------------------------------------------------------
def test_logging_in_sets_a_signed_httponly_lax_cookie_and_records_the_time(web: Web) -> None:
    with browser(web) as client:
        answer = log_in(client)
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=43200" in cookie
        assert "secure" not in cookie  # web.insecure_http in these tests
        assert client.get("/").status_code == 200
    engine = make_engine(web.database_url)
    try:
        with session_factory(engine)() as session:
            last = session.scalar(select(User.last_login_at).where(User.email == USERS["advisor"]))
    finally:
        engine.dispose()
    assert last == NOW


def test_the_cookie_is_secure_unless_insecure_http_is_set(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'secure.db'}"
    with page_app(url, web={"secret_key": "k" * 40}) as web, browser(web) as client:
        cookie = client.get("/login").headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie


def test_a_wrong_password_and_an_unknown_address_get_the_same_words(web: Web) -> None:
    with browser(web) as client:
        wrong = log_in(client, password="forkert")
        page = client.get("/login")
        unknown = client.post(
            "/login",
            data={"csrf": csrf_of(page.text), "email": "nobody@x.dk", "password": PASSWORD},
        )
    for answer in (wrong, unknown):
        assert answer.status_code == 400
        assert "Forkert e-mail eller adgangskode." in answer.text
        assert "set-cookie" not in answer.headers


def test_five_failures_on_an_address_refuse_it_even_with_the_right_password(web: Web) -> None:
    with browser(web) as client:
        for _ in range(THROTTLE_FAILURES):
            assert log_in(client, password="forkert").status_code == 400
        refused = log_in(client)
        assert refused.status_code == 429
        assert "For mange forkerte forsøg" in refused.text
        assert log_in(client, "lead").status_code == 303  # another address is not throttled
    engine = make_engine(web.database_url)
    try:
        with session_factory(engine)() as session:
            keys = session.scalars(select(LoginAttempt.key)).all()
    finally:
        engine.dispose()
    assert len(keys) == THROTTLE_FAILURES and USERS["advisor"] not in keys  # hashed only


def test_logging_out_forgets_the_session(web: Web) -> None:
    with logged_in(web) as client:
        answer = post_form(client, "/", "/logout", {})
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
        assert client.get("/").status_code == 303


@pytest.mark.parametrize(
    ("next_path", "target"),
    [
        ("/henvendelser/ny", "/henvendelser/ny"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
    ],
)
def test_after_logging_in_the_browser_goes_back_only_to_a_path_here(
    tmp_path: Any, next_path: str, target: str
) -> None:
    with page_app(f"sqlite:///{tmp_path / 'next.db'}") as web, browser(web) as client:
        page = client.get("/login", params={"next": next_path})
        answer = client.post(
            "/login",
            data={
                "csrf": csrf_of(page.text),
                "email": USERS["advisor"],
                "password": PASSWORD,
                "next": next_path,
            },
        )
    assert answer.status_code == 303 and answer.headers["location"] == target


def test_a_removed_user_is_logged_out_at_their_next_request(web: Web) -> None:
    with logged_in(web) as client:
        assert client.get("/").status_code == 200
        engine = make_engine(web.database_url)
        try:
            with session_factory(engine).begin() as session:
                access.remove_user(session, USERS["advisor"])
        finally:
            engine.dispose()
        assert client.get("/").status_code == 303


def test_a_page_without_a_session_sends_the_browser_to_log_in(web: Web) -> None:
    with browser(web) as client:
        answer = client.get("/henvendelser/ny")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/henvendelser/ny"
    with browser(web) as client:
        form = client.post("/henvendelser/2026-000001/handling", data={"handling": "reply"})
        assert form.headers["location"] == "/login?next=/"  # a POST is not repeated
        listed = client.get("/afdeling", params={"afdeling": "Teknik og Miljø"})
        login = client.get(listed.headers["location"])
        kept = re.search(r'name="next" value="([^"]*)"', login.text)
        assert kept is not None
        data = {"email": USERS["lead"], "password": PASSWORD, "next": kept.group(1)}
        back = client.post("/login", data={"csrf": csrf_of(login.text), **data})
    assert back.headers["location"] == "/afdeling?afdeling=Teknik+og+Milj%C3%B8"


def test_a_forged_cookie_counts_as_no_session(web: Web) -> None:
    with browser(web) as client:
        client.cookies.set(
            "svarfrist_session", "eyJzIjoieCIsInUiOiJhbm5hQGZyZWRlcmljaWEuZGsifQ.x.y"
        )
        assert client.get("/").status_code == 303


def test_without_a_secret_key_pages_say_so_and_the_api_still_serves(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'nokey.db'}"
    with web_app(url) as web, browser(web) as client:
        page = client.get("/login")
        assert page.status_code == 503 and "web.secret_key" in page.text
        assert page.headers["content-type"].startswith("text/html")
        with web.client() as api:
            assert api.post("/api/v1/inquiries", json=EMAIL).status_code == 201


# -- roles ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("advisor", "/afdeling", 403),
        ("advisor", "/rapporter", 403),
        ("manager", "/henvendelser/ny", 403),
        ("manager", "/", 303),  # to the reports
        ("lead", "/afdeling", 200),
        ("manager", "/rapporter", 200),
        ("admin", "/afdeling", 200),
        ("admin", "/rapporter", 200),
        ("advisor", "/kalender", 200),
    ],
)
def test_each_role_opens_only_its_pages(tmp_path: Any, role: str, path: str, status: int) -> None:
    with page_app(f"sqlite:///{tmp_path / 'roles.db'}") as web, logged_in(web, role) as client:
        answer = client.get(path)
    assert answer.status_code == status
    if status == 403:
        assert "Du har ikke adgang til denne side." in answer.text


def test_an_advisor_cannot_reassign_and_a_lead_can(web: Web) -> None:
    with logged_in(web) as advisor:
        path = register(advisor)
        refused = post_form(
            advisor, path, f"{path}/handling", {"handling": "assign", "advisor": "bo@x.dk"}
        )
        assert refused.status_code == 403
    with logged_in(web, "lead") as lead:
        done = post_form(
            lead, path, f"{path}/handling", {"handling": "assign", "advisor": "bo@x.dk"}
        )
        assert done.status_code == 303
        assert "bo@x.dk" in lead.get(path).text
    assert kinds(web.database_url) == ["created", "assigned"]


# -- register, list, act --------------------------------------------------------------------
def test_registering_through_the_form_shows_the_inquiry_and_lists_it_without_its_note(
    web: Web,
) -> None:
    with logged_in(web) as client:
        path = register(client)
        assert path == "/henvendelser/2026-000001"
        page = client.get(path)
        assert page.status_code == 200 and NOTE in page.text
        assert "Sådan er fristen regnet" in page.text and "Uret starter" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        mine = client.get("/").text
        assert "2026-000001" in mine and NOTE not in mine and "I tide" in mine
    with logged_in(web, "lead") as lead:
        listed = lead.get("/afdeling", params={"afdeling": "Diverse"}).text
        assert "2026-000001" in listed and NOTE not in listed
        unknown = lead.get("/afdeling", params={"afdeling": "Ukendt"})
        assert unknown.status_code == 422 and "Vælg en værdi fra listen." in unknown.text
        assert 'aria-describedby="err-afdeling"' in unknown.text
    assert kinds(web.database_url) == ["created"]


def test_the_form_defaults_to_now_and_me(web: Web) -> None:
    with logged_in(web) as client:
        form = client.get("/henvendelser/ny").text
    assert 'value="2026-11-26T13:00"' in form  # NOW in Copenhagen
    assert f'value="{USERS["advisor"]}"' in form


def test_svar_sendt_from_the_list_then_undo_walk_the_register(web: Web) -> None:
    with logged_in(web) as client:
        path = register(client)
        done = post_form(client, "/", f"{path}/handling", {"handling": "reply", "next": "/"})
        assert done.status_code == 303 and done.headers["location"] == "/?udfoert=reply"
        assert "Svar sendt er registreret." in client.get(done.headers["location"]).text
        assert "Besvaret" in client.get("/").text
        again = post_form(client, path, f"{path}/handling", {"handling": "reply"})
        assert again.status_code == 409 and "der er allerede registreret et svar" in again.text
        undone = post_form(client, path, f"{path}/handling", {"handling": "undo"})
        assert undone.status_code == 303
        # The notice names what the undo reverted: whoever's change was the last.
        assert undone.headers["location"] == f"{path}?udfoert=undo&fortrudt=replied"
        assert "Fortrudt: Svar sendt." in client.get(undone.headers["location"]).text
        forged = client.get(f"{path}?udfoert=undo&fortrudt=%3Cb%3Ex").text
        assert "Sidste handling er fortrudt." in forged and "<b>x" not in forged
        assert "I tide" in client.get("/").text
    assert kinds(web.database_url) == ["created", "replied", "undone"]


EVENT_RE = re.compile(r'name="event" value="(\d+)"')


def test_the_undo_button_names_its_change_and_refuses_once_another_came(web: Web) -> None:
    """Anna's page offers to undo her pause (the button says so, the form carries its event);
    the lead then records the reply. Her button, pressed on the page she had, is refused
    (409, in Danish), nothing written: the reply is not reverted by surprise. The page drawn
    again names the reply, and undoes it."""
    with logged_in(web) as anna, logged_in(web, "lead") as lead:
        path = register(anna)
        paused = post_form(anna, path, f"{path}/handling", {"handling": "pause"})
        assert paused.status_code == 303
        page = anna.get(path).text
        assert "Fortryd: Sat på pause" in page
        assert f"Sat på pause, 2026-11-26 13:00, af {USERS['advisor']}" in page
        [seen] = EVENT_RE.findall(page)
        assert post_form(lead, path, f"{path}/handling", {"handling": "resume"}).status_code == 303
        assert post_form(lead, path, f"{path}/handling", {"handling": "reply"}).status_code == 303
        before = register_rows(web.database_url)
        stale = anna.post(
            f"{path}/handling", data={"csrf": csrf_of(page), "handling": "undo", "event": seen}
        )
        assert stale.status_code == 409
        assert "Handlingen blev ikke udført: henvendelsen er ændret" in stale.text
        assert "no longer event" not in stale.text  # the English sentence stays in the logs
        assert "Fortryd: Svar sendt" in stale.text  # what the button now undoes
        assert register_rows(web.database_url) == before
        [latest] = EVENT_RE.findall(stale.text)
        assert latest != seen
        forged = anna.post(
            f"{path}/handling", data={"csrf": csrf_of(page), "handling": "undo", "event": "x1"}
        )
        assert forged.status_code == 422 and "intet er fortrudt" in forged.text
        assert register_rows(web.database_url) == before
        undone = post_form(anna, path, f"{path}/handling", {"handling": "undo", "event": latest})
        assert undone.headers["location"] == f"{path}?udfoert=undo&fortrudt=replied"
        assert "Fortryd: Genoptaget" in anna.get(path).text
    assert kinds(web.database_url) == ["created", "paused", "resumed", "replied", "undone"]


def test_with_nothing_to_undo_the_button_names_no_change(web: Web) -> None:
    with logged_in(web) as client:
        path = register(client)
        page = client.get(path).text
    assert "Fortryd sidste handling" in page and "Fortryd:" not in page
    assert EVENT_RE.findall(page) == []


def test_a_second_final_answer_is_refused_in_danish(web: Web) -> None:
    # The register's refusal had no code: the page showed its English sentence.
    promised = NewInquiry(
        channel=Channel.EMAIL, department="Diverse", received_at=NOW, answer_promised=True
    )
    with engine_for(web.database_url, init=False) as engine, session_on(engine) as session:
        path = f"/henvendelser/{add(session, context(web.settings), promised)}"
    with logged_in(web) as client:
        first = post_form(client, path, f"{path}/handling", {"handling": "answer"})
        again = post_form(client, path, f"{path}/handling", {"handling": "answer"})
    assert first.status_code == 303 and again.status_code == 409
    assert "der er allerede registreret et endeligt svar." in again.text
    assert "already answered" not in again.text


@pytest.mark.parametrize("action", ["pause", "resume", "close"])
def test_pause_resume_and_close_are_the_registers_own(tmp_path: Any, action: str) -> None:
    url = f"sqlite:///{tmp_path / 'acts.db'}"
    with page_app(url) as web, logged_in(web) as client:
        path = register(client)
        steps = {"pause": ["pause"], "resume": ["pause", "resume"], "close": ["close"]}[action]
        for step in steps:
            at = "2026-11-26T11:00" if step == "pause" else "2026-11-26T12:00"
            answer = post_form(client, path, f"{path}/handling", {"handling": step, "at": at})
            assert answer.status_code == 303, answer.text
    assert kinds(url) == [
        "created",
        *({"pause": "paused", "resume": "resumed", "close": "closed"}[s] for s in steps),
    ]


@pytest.mark.parametrize(
    "typed",
    ["2026-000001", " 2026-000001 ", "SF 2026-000001", "[SF 2026-000001]", "sv: [sf 2026-000001]"],
)
def test_the_menus_search_box_opens_an_inquiry_by_its_ref(web: Web, typed: str) -> None:
    """An advisor on the phone hears "SF 2026-000001" or copies "[SF 2026-000001]" from a
    mail's subject: the box in every staff page's menu goes straight to its page."""
    with logged_in(web) as client:
        register(client)
        mine = client.get("/")
        assert 'role="search"' in mine.text and 'name="ref"' in mine.text
        assert '<label for="find-ref">Henvendelse nr.</label>' in mine.text
        found = client.get("/henvendelser", params={"ref": typed}, follow_redirects=False)
        if typed.startswith("sv:"):  # not a ref: its page says there is none
            assert client.get(found.headers["location"]).status_code == 404
            return
        assert found.status_code == 303 and found.headers["location"] == "/henvendelser/2026-000001"
        assert client.get(found.headers["location"]).status_code == 200


def test_the_search_box_on_nothing_or_an_unknown_ref(web: Web) -> None:
    with logged_in(web) as client:
        empty = client.get("/henvendelser", params={"ref": "  "}, follow_redirects=False)
        assert empty.status_code == 303 and empty.headers["location"] == "/"
        unknown = client.get("/henvendelser", params={"ref": "SF 2026-999999"})
        unknown = client.get(unknown.headers["location"])
        assert unknown.status_code == 404 and "Der findes ingen henvendelse" in unknown.text
    with browser(web) as anonymous:  # the search is for staff: log in first
        asked = anonymous.get("/henvendelser", params={"ref": "2026-000001"})
        assert asked.status_code == 303 and asked.headers["location"].startswith("/login")


def test_an_unknown_ref_is_a_404_page(web: Web) -> None:
    with logged_in(web) as client:
        answer = client.get("/henvendelser/2026-999999")
        assert answer.status_code == 404 and "Der findes ingen henvendelse" in answer.text
        acted = post_form(client, "/", "/henvendelser/2026-999999/handling", {"handling": "reply"})
        assert acted.status_code == 404


def test_an_unknown_path_is_a_danish_page_and_the_api_keeps_json(web: Web) -> None:
    with browser(web) as client:
        page = client.get("/findes-ikke")
        assert page.status_code == 404 and "Siden findes ikke." in page.text
        api = client.get("/api/v1/findes-ikke")
        assert api.status_code == 404 and api.json()["error"] == "no such path"
        # A method the page does not take: said so in Danish, not "the value cannot be used".
        for method, path in (("DELETE", "/henvendelser/ny"), ("POST", "/kalender")):
            wrong = client.request(method, path)
            assert wrong.status_code == 405, (method, path)
            assert "Siden kan ikke bruges på den måde." in wrong.text
        # The page names what the path does take (RFC 9110): the form's GET and its POST.
        assert client.request("DELETE", "/henvendelser/ny").headers["allow"] == "GET, POST"


# -- reports and calendar -------------------------------------------------------------------
def test_reports_show_a_table_and_download_the_same_as_csv(web: Web) -> None:
    with logged_in(web) as advisor:
        register(advisor)
    with logged_in(web, "manager") as client:
        page = client.get("/rapporter", params={"fra": "2026-11-01", "til": "2026-11-30"})
        assert page.status_code == 200 and "Diverse" in page.text
        csv = client.get("/rapporter.csv", params={"fra": "2026-11-01", "gruppering": "channel"})
        assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
        assert csv.content.startswith(b"\xef\xbb\xbf") and b"email" in csv.content
        wrong = client.get("/rapporter", params={"fra": "2026-12-01", "til": "2026-11-01"})
        assert wrong.status_code == 422 and "Fra-datoen ligger efter til-datoen." in wrong.text
        assert 'aria-describedby="err-fra"' in wrong.text
        # A last day the report cannot reach is refused beside its own field, not "fra"'s.
        late = client.get("/rapporter", params={"fra": "2026-11-01", "til": "9999-12-31"})
        assert late.status_code == 422 and 'aria-describedby="err-til"' in late.text
        assert 'aria-describedby="err-fra"' not in late.text


def test_the_calendar_lists_a_years_closed_days_as_the_api_does(web: Web) -> None:
    with logged_in(web) as client:
        page = client.get("/kalender", params={"aar": "2026"})
        assert page.status_code == 200 and "Juledag" in page.text and "2026-12-25" in page.text
        assert client.get("/kalender", params={"aar": "abc"}).status_code == 422
        assert client.get("/kalender", params={"aar": "1700"}).status_code == 422


def test_english_pages_where_the_config_says_so(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'en.db'}"
    settings = {"web": {"secret_key": "k" * 40, "insecure_http": True, "language": "en"}}
    with page_app(url, **settings) as web, logged_in(web) as client:
        page = client.get("/")
        path = register(client)
        post_form(client, path, f"{path}/handling", {"handling": "pause"})
        inquiry = client.get(path).text
    assert '<html lang="en">' in page.text and "My deadlines" in page.text
    assert "Undo: Paused" in inquiry
    assert f"Paused, 2026-11-26 13:00, by {USERS['advisor']}" in inquiry


# -- escaping -------------------------------------------------------------------------------
HOSTILE = "<script>alert('x')</script>\"javascript:alert(1)"


def test_hostile_names_and_notes_are_escaped_everywhere(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'xss.db'}"
    overrides = {"departments": [HOSTILE, "Diverse"], "topics": [HOSTILE]}
    with page_app(url, **overrides) as web, logged_in(web, "admin") as client:
        path = register(
            client, department=HOSTILE, topic=HOSTILE, note=HOSTILE, advisor="o'brien@y.dk"
        )
        pages = [
            client.get(path).text,
            client.get("/afdeling", params={"afdeling": HOSTILE}).text,
            client.get("/rapporter").text,
            client.get("/henvendelser/ny").text,
        ]
        with logged_in(web) as advisor:
            pages.append(advisor.get("/").text)
    for html in pages:
        assert "<script>alert" not in html
        assert 'href="javascript:' not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&#34;javascript:alert(1)" in pages[0]
    assert "o&#39;brien@y.dk" in pages[0]
    stored = register_rows(url)["inquiries"][0]
    assert HOSTILE in stored and "o'brien@y.dk" in stored  # kept as typed, escaped when shown


def test_every_text_and_word_exists_in_danish_and_english() -> None:
    assert set(texts.DA) == set(texts.EN)
    assert set(texts.WORDS["da"]) == set(texts.WORDS["en"])
    # Every event of the history (and what an undo names) in words, not as its code.
    assert set(EventKind) <= set(texts.WORDS["da"])
    unknown = BadInputError("x").coded("no such code")
    assert texts.field_message("da", unknown) == "Værdien kan ikke bruges."
    assert texts.field_message("en", unknown) == "This value cannot be used."
