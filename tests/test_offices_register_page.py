"""*Registrér henvendelse* with several offices, through the real server on SQLite and
PostgreSQL: a user of one office registers into it and is offered its departments only; a
user of every office chooses the office, with each office's departments grouped under it,
and a department, topic or office the chosen office does not have gets a Danish message
beside the field with nothing written."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from page_support import NEW_INQUIRY, SECRET, add_office_user, as_user, post_form
from register_support import engine_for, session_on
from sqlalchemy import select
from web_server import Web, register_rows, web_app

from tracker.store.models import Inquiry

NORD = "Borgerservice Nord"
OFFICES = {
    "nord": {
        "departments": [NORD],
        "topics": ["Sygedagpenge"],
        "default_recipient": "nord@example.dk",
    }
}
PEOPLE = {"nora@fredericia.dk": "nord", "alma@fredericia.dk": "*"}
OPTION = re.compile(r'<option value="([^"]*)"')
FORM = "/henvendelser/ny"


@contextmanager
def offices_app(database_url: str) -> Iterator[Web]:
    web_settings = {"secret_key": SECRET, "insecure_http": True}
    with web_app(database_url, web=web_settings, offices=OFFICES) as web:
        for email, office in PEOPLE.items():
            add_office_user(database_url, email, office)
        yield web


def options(html: str, name: str) -> list[str]:
    select_html = html.split(f'name="{name}"', 1)[1].split("</select>", 1)[0]
    return OPTION.findall(select_html)


def offices_of(database_url: str) -> list[tuple[str, str]]:
    with engine_for(database_url, init=False) as engine, session_on(engine) as session:
        rows = session.execute(select(Inquiry.office, Inquiry.department).order_by(Inquiry.id))
        return [(r.office, r.department) for r in rows]


def test_a_user_of_one_office_registers_into_it_with_its_departments_only(
    database_url: str,
) -> None:
    with offices_app(database_url) as web, as_user(web, "nora@fredericia.dk") as nora:
        form = nora.get(FORM).text
        assert 'name="office"' not in form  # no choice: their own office
        assert options(form, "department") == [NORD]
        assert options(form, "topic") == ["", "Sygedagpenge"]
        # an office named in the post is not hers to choose: she registers into her own
        new = {**NEW_INQUIRY, "department": NORD, "office": "default"}
        done = post_form(nora, FORM, FORM, new)
        assert done.status_code == 303, done.text
        refused = post_form(nora, FORM, FORM, NEW_INQUIRY)  # "Diverse": not nord's
        assert refused.status_code == 422
        assert '<p id="err-department" class="field-error">' in refused.text
    assert offices_of(database_url) == [("nord", NORD)]


def test_a_user_of_every_office_chooses_the_office_and_its_department(
    database_url: str,
) -> None:
    with offices_app(database_url) as web, as_user(web, "alma@fredericia.dk") as alma:
        form = alma.get(FORM).text
        assert options(form, "office") == ["default", "nord"]
        assert '<option value="default" selected>' in form
        departments = form.split('name="department"', 1)[1].split("</select>", 1)[0]
        assert '<optgroup label="nord">' in departments
        assert departments.rindex(NORD) > departments.index('<optgroup label="nord">')
        assert NORD in options(form, "department") and "Diverse" in options(form, "department")

        before = register_rows(database_url)
        mixed = post_form(alma, FORM, FORM, {**NEW_INQUIRY, "office": "nord"})  # Diverse
        assert mixed.status_code == 422
        assert '<p id="err-department" class="field-error">' in mixed.text
        assert '<option value="nord" selected>' in mixed.text  # the choice is kept
        unknown = post_form(alma, FORM, FORM, {**NEW_INQUIRY, "office": "vest"})
        assert unknown.status_code == 422
        assert '<p id="err-office" class="field-error">' in unknown.text
        assert 'name="office" aria-invalid="true" aria-describedby="err-office"' in unknown.text
        assert "Traceback" not in unknown.text
        assert register_rows(database_url) == before

        nord = {**NEW_INQUIRY, "office": "nord", "department": NORD, "topic": "Sygedagpenge"}
        assert post_form(alma, FORM, FORM, nord).status_code == 303
        assert post_form(alma, FORM, FORM, {**NEW_INQUIRY, "office": "default"}).status_code == 303
    assert offices_of(database_url) == [("nord", NORD), ("default", "Diverse")]
