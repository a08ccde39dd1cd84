"""Bad input and attack on the staff pages' forms, over real HTTP: each refused with a
Danish message beside its field (aria-invalid, aria-describedby), a 4xx status, and
nothing written, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from page_support import USERS, browser, csrf_of, logged_in, page_app, post_form
from web_server import Web, register_rows

NEW = {
    "channel": "email",
    "department": "Diverse",
    "topic": "",
    "advisor": USERS["advisor"],
    "received_at": "2026-11-26T10:00",
    "note": "",
}
# (field, value, the message beside the field): NOW is 2026-11-26 13:00 in Copenhagen,
# clock_skew_minutes is 5.
REGISTRATION = [
    ("channel", "fax", "Vælg en værdi fra listen."),
    ("channel", "", "Vælg en værdi fra listen."),
    ("department", "Ukendt afdeling", "Vælg en værdi fra listen."),
    ("department", "Diverse\x00", "Teksten indeholder et ugyldigt tegn (NUL)."),
    ("topic", "Ukendt emne", "Vælg en værdi fra listen."),
    ("advisor", "ikke en adresse", "Skriv én e-mailadresse."),
    ("advisor", "a@b.dk, c@d.dk", "Skriv én e-mailadresse."),
    ("received_at", "i går", "Skriv et tidspunkt som 2026-11-25T10:00."),
    ("received_at", "2026-11-26T13:10", "Tidspunktet ligger i fremtiden."),
    ("received_at", "2031-01-01T10:00", "Tidspunktet ligger i fremtiden."),
    ("received_at", "1850-01-01T10:00", "Tidspunktet ligger før 1900."),
    ("received_at", "2026-03-29T02:30", "Det tidspunkt findes ikke (sommertiden begynder)."),
    ("callback_requested", "måske", "Ugyldig værdi: vælg ja eller nej."),
    ("note", "x" * 4001, "Teksten er for lang."),
    ("note", "før\x00efter", "Teksten indeholder et ugyldigt tegn (NUL)."),
]


@pytest.fixture
def web(database_url: str) -> Iterator[Web]:
    with page_app(database_url) as served:
        yield served


def beside(html: str, field: str) -> str:
    """The message shown beside ``field``, checking the field points at it."""
    found = re.search(rf'<p id="err-{re.escape(field)}" class="field-error">([^<]*)</p>', html)
    assert found, f"no message beside {field}"
    assert f'aria-invalid="true" aria-describedby="err-{field}" autofocus' in html
    return found.group(1).replace("&#39;", "'")


def test_every_bad_registration_field_is_refused_beside_it_and_writes_nothing(web: Web) -> None:
    before = register_rows(web.database_url)
    with logged_in(web) as client:
        token = csrf_of(client.get("/henvendelser/ny").text)
        for field, value, message in REGISTRATION:
            answer = client.post("/henvendelser/ny", data={**NEW, field: value, "csrf": token})
            assert answer.status_code == 422, (field, value)
            assert beside(answer.text, field) == message, (field, value)
            assert "Henvendelsen blev ikke gemt." in answer.text
    assert register_rows(web.database_url) == before


def test_bytes_that_are_not_utf8_are_refused_beside_their_field(web: Web) -> None:
    before = register_rows(web.database_url)
    with logged_in(web) as client:
        token = csrf_of(client.get("/henvendelser/ny").text)
        fields = "&".join(f"{k}={quote(v)}" for k, v in NEW.items() if k != "note")
        for raw in (b"%FF%FE", b"\xff\xfe", b"%C3%28"):
            body = f"csrf={token}&{fields}&note=".encode() + raw
            answer = client.post(
                "/henvendelser/ny",
                content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert answer.status_code == 422, raw
            assert beside(answer.text, "note") == "Teksten indeholder ugyldige tegn (ikke UTF-8)."
    assert register_rows(web.database_url) == before


def test_bad_action_times_are_refused_beside_the_time_field(web: Web) -> None:
    with logged_in(web) as client:
        created = post_form(client, "/henvendelser/ny", "/henvendelser/ny", NEW)
        path = created.headers["location"].split("?")[0]
        before = register_rows(web.database_url)
        token = csrf_of(client.get(path).text)
        for at, message in [
            ("nu", "Skriv et tidspunkt som 2026-11-25T10:00."),
            ("2026-11-26T13:10", "Tidspunktet ligger i fremtiden."),
            ("2026-11-26T09:00", "Tidspunktet ligger før henvendelsen blev modtaget."),
            ("\x00", "Skriv et tidspunkt som 2026-11-25T10:00."),
        ]:
            for action in ("reply", "pause", "close"):
                answer = client.post(
                    f"{path}/handling", data={"csrf": token, "handling": action, "at": at}
                )
                assert answer.status_code == 422, (action, at)
                assert beside(answer.text, action) == message, (action, at)
        unknown = client.post(f"{path}/handling", data={"csrf": token, "handling": "slet"})
        assert unknown.status_code == 422 and "Handlingen blev ikke udført" in unknown.text
        no_callback = client.post(f"{path}/handling", data={"csrf": token, "handling": "callback"})
        assert no_callback.status_code == 422
        assert "ingen frist, som handlingen opfylder" in no_callback.text
        assert register_rows(web.database_url) == before
    with logged_in(web, "lead") as lead:
        token = csrf_of(lead.get(path).text)
        answer = lead.post(
            f"{path}/handling", data={"csrf": token, "handling": "assign", "advisor": "nej"}
        )
        assert answer.status_code == 422
        assert beside(answer.text, "assign") == "Skriv én e-mailadresse."
    assert register_rows(web.database_url) == before
    # A closing dated before the recorded reply would count a late reply as on time.
    with logged_in(web) as client:
        token = csrf_of(client.get(path).text)
        replied = {"csrf": token, "handling": "reply", "at": "2026-11-26T12:00"}
        assert client.post(f"{path}/handling", data=replied).status_code == 303
        after_reply = register_rows(web.database_url)
        early = {"csrf": token, "handling": "close", "at": "2026-11-26T11:00"}
        answer = client.post(f"{path}/handling", data=early)
        assert answer.status_code == 422
        assert beside(answer.text, "close") == (
            "Tidspunktet ligger før et registreret svar, en opringning eller et endeligt svar."
        )
    assert register_rows(web.database_url) == after_reply


def test_a_calendar_year_that_is_not_one_is_refused_beside_the_year(web: Web) -> None:
    # "²" is a digit to str.isdigit that int() cannot read (was a 500); only ASCII digits are
    # a year here, as the select offers
    with logged_in(web) as client:
        for year, message in [
            ("næste", "Vælg en værdi fra listen."),
            ("²", "Vælg en værdi fra listen."),
            ("٢٠٢٦", "Vælg en værdi fra listen."),
            ("3000", "Tidspunktet ligger uden for de år, kalenderen kender."),
        ]:
            answer = client.get("/kalender", params={"aar": year})
            assert answer.status_code == 422, year
            assert f'<p id="err-aar" class="field-error">{message}</p>' in answer.text, year


def test_a_login_with_bytes_that_are_not_utf8_or_a_nul_is_a_wrong_login(web: Web) -> None:
    # An address or password that is not UTF-8 was a 500 (the driver could not encode it).
    email = quote(USERS["advisor"])
    with browser(web) as client:
        for fields in (
            b"email=%FF%FE&password=x",
            f"email={email}&password=%FF".encode(),
            b"email=a%00b%40x.dk&password=x",
            f"email={email}&password=%00".encode(),
        ):
            token = csrf_of(client.get("/login").text)
            answer = client.post(
                "/login",
                content=f"csrf={token}&".encode() + fields,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert answer.status_code == 400, fields
            assert "Forkert e-mail eller adgangskode." in answer.text, fields


def test_a_missing_wrong_or_foreign_csrf_token_is_403_and_writes_nothing(web: Web) -> None:
    before = register_rows(web.database_url)
    with logged_in(web) as client, logged_in(web) as other:
        foreign = csrf_of(other.get("/").text)
        for token in (None, "", "0" * 64, foreign):
            data = dict(NEW) | ({} if token is None else {"csrf": token})
            answer = client.post("/henvendelser/ny", data=data)
            assert answer.status_code == 403, token
            assert "Formularen var udløbet eller ugyldig." in answer.text
            assert client.post("/logout", data=data).status_code == 403
        assert client.get("/").status_code == 200  # still logged in
    with httpx.Client(base_url=web.url) as stranger:  # no session at all
        login = stranger.post("/login", data={"email": USERS["advisor"], "password": "x"})
        assert login.status_code == 403
    assert register_rows(web.database_url) == before


def test_an_oversized_or_non_form_body_is_refused_with_a_page(web: Web) -> None:
    limit = web.settings.web.max_body_bytes
    before = register_rows(web.database_url)
    with logged_in(web) as client:
        token = csrf_of(client.get("/henvendelser/ny").text)
        big = {**NEW, "csrf": token, "note": "x" * (limit + 1)}
        declared = client.post("/henvendelser/ny", data=big)
        assert declared.status_code == 413 and "Det indsendte er for stort." in declared.text
        body = f"csrf={token}&note={'x' * (limit + 1)}".encode()
        chunked = client.post(
            "/henvendelser/ny",
            content=iter([body[:1000], body[1000:]]),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert chunked.status_code == 413 and "Det indsendte er for stort." in chunked.text
        as_json = client.post("/henvendelser/ny", json={**NEW, "csrf": token})
        assert as_json.status_code == 415
    assert register_rows(web.database_url) == before
