"""``web.restrict_departments`` in the staff pages, over a real uvicorn on SQLite and
PostgreSQL, by URL and by the pages' own forms: *Mine frister*, ``/afdeling``, an inquiry's
page, its actions and *Registrér henvendelse* keep to the user's departments; another
department's inquiry is a 404 page, nothing written. A one-click mail link still works: the
link itself is the authorisation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from page_support import NEW_INQUIRY, PASSWORD, SECRET, as_user, browser, post_form
from register_support import NOW, engine_for, session_on
from web_server import EMAIL, Web, register_rows, web_app

from tracker.mail import links
from tracker.store import access
from tracker.web.auth import hash_password

NOTE = "Borgeren hedder Jens og bor på Vestergade 3"
DIVERSE, TEKNIK, BORN = "Diverse", "Teknik og Miljø", "Børn og Unge"
BASE = "https://svarfrist.fredericia.dk"
ANNA, LENE, OLE = "anna@fredericia.dk", "lene@fredericia.dk", "ole@fredericia.dk"
PEOPLE = {
    ANNA: ("advisor", (DIVERSE,)),
    LENE: ("lead", (TEKNIK,)),
    OLE: ("advisor", ()),
}
# Each inquiry is Anna's (her Mine frister would show every one of them unrestricted).
REFS = {DIVERSE: "2026-000001", TEKNIK: "2026-000002", BORN: "2026-000003"}
OPTION = re.compile(r'<option value="([^"]*)"')


@contextmanager
def restricted(database_url: str) -> Iterator[Web]:
    web_settings = {
        "secret_key": SECRET,
        "insecure_http": True,
        "base_url": BASE,
        "restrict_departments": True,
    }
    with web_app(database_url, web=web_settings) as web:
        password_hash = hash_password(PASSWORD)
        with engine_for(database_url, init=False) as engine, session_on(engine) as session:
            for email, (role, departments) in PEOPLE.items():
                access.add_user(
                    session,
                    email=email,
                    role_name=role,
                    password_hash=password_hash,
                    now=NOW,
                    departments=departments,
                    configured=web.settings.departments,
                )
        with web.client("admin") as admin:
            for department in REFS:
                body = {**EMAIL, "department": department, "advisor": ANNA, "note": NOTE}
                assert admin.post("/api/v1/inquiries", json=body).status_code == 201
        yield web


def refs_on(html: str) -> set[str]:
    return set(re.findall(r"2026-\d{6}", html))


def test_mine_frister_shows_only_the_users_departments(database_url: str) -> None:
    with restricted(database_url) as web:
        with as_user(web, ANNA) as anna:
            mine = anna.get("/")
        with as_user(web, OLE) as ole:
            nothing = ole.get("/")
    assert mine.status_code == 200 and refs_on(mine.text) == {REFS[DIVERSE]}
    assert NOTE not in mine.text
    assert nothing.status_code == 200 and refs_on(nothing.text) == set()


def test_a_lead_is_offered_and_shown_only_their_departments(database_url: str) -> None:
    with restricted(database_url) as web, as_user(web, LENE) as lene:
        offered = lene.get("/afdeling")
        own = lene.get("/afdeling", params={"afdeling": TEKNIK})
        other = lene.get("/afdeling", params={"afdeling": DIVERSE})
    assert OPTION.findall(offered.text) == [TEKNIK]
    assert own.status_code == 200 and refs_on(own.text) == {REFS[TEKNIK]}
    assert other.status_code == 422 and refs_on(other.text) == set()


def test_another_departments_inquiry_page_is_404_and_its_note_unread(database_url: str) -> None:
    with restricted(database_url) as web, as_user(web, ANNA) as anna:
        own = anna.get(f"/henvendelser/{REFS[DIVERSE]}")
        other = anna.get(f"/henvendelser/{REFS[TEKNIK]}")
        unknown = anna.get("/henvendelser/2026-999999")
    assert own.status_code == 200 and NOTE in own.text
    assert other.status_code == unknown.status_code == 404
    assert NOTE not in other.text and TEKNIK not in other.text


def test_an_action_on_another_departments_inquiry_is_404_with_nothing_written(
    database_url: str,
) -> None:
    with restricted(database_url) as web, as_user(web, ANNA) as anna:
        own_page = f"/henvendelser/{REFS[DIVERSE]}"
        before = register_rows(database_url)
        for handling in ("reply", "close", "undo"):
            refused = post_form(
                anna, own_page, f"/henvendelser/{REFS[TEKNIK]}/handling", {"handling": handling}
            )
            assert refused.status_code == 404, (handling, refused.text)
        assert register_rows(database_url) == before
        done = post_form(anna, own_page, f"{own_page}/handling", {"handling": "reply"})
        assert done.status_code == 303, done.text


def test_the_registration_form_offers_and_accepts_only_the_users_departments(
    database_url: str,
) -> None:
    with restricted(database_url) as web, as_user(web, ANNA) as anna:
        form = anna.get("/henvendelser/ny")
        select = form.text.split('name="department"', 1)[1].split("</select>", 1)[0]
        assert OPTION.findall(select) == [DIVERSE]
        before = register_rows(database_url)
        refused = post_form(
            anna, "/henvendelser/ny", "/henvendelser/ny", {**NEW_INQUIRY, "department": TEKNIK}
        )
        assert refused.status_code == 403
        # the message beside the department field, which is marked invalid
        assert (
            '<p id="err-department" class="field-error">'
            "Du kan kun registrere i dine egne afdelinger.</p>"
        ) in refused.text
        assert 'name="department" aria-invalid="true" aria-describedby="err-department"' in (
            refused.text
        )
        assert register_rows(database_url) == before
        done = post_form(
            anna, "/henvendelser/ny", "/henvendelser/ny", {**NEW_INQUIRY, "department": DIVERSE}
        )
        assert done.status_code == 303, done.text


def test_a_mail_link_still_acts_on_an_inquiry_outside_the_recipients_departments(
    database_url: str,
) -> None:
    maker = links.maker(BASE, SECRET)
    assert maker is not None
    with restricted(database_url) as web, browser(web) as client:
        url = maker.url(ref=REFS[TEKNIK], rule="reply", action="reply", recipient=ANNA, now=NOW)
        assert url is not None
        path = url.removeprefix(BASE)
        assert client.get(path).status_code == 200
        done = client.post(path)
        assert done.status_code == 200, done.text
        with web.client("admin") as admin:
            shown = admin.get(f"/api/v1/inquiries/{REFS[TEKNIK]}").json()
    assert shown["replied_at"] is not None
