"""``/fravaer`` over real HTTP against a real uvicorn on SQLite and PostgreSQL: a lead adds
and removes anyone's absence, an advisor only their own; refusals in Danish beside the field
with nothing written; every change needs the CSRF token and is audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from page_support import USERS, csrf_of, logged_in, page_app, post_form
from register_support import dump
from sqlalchemy import select
from web_server import Web

from tracker.store.db import make_engine
from tracker.store.models import Absence, Event

ABSENT = {"fra": "2026-11-30", "til": "2026-12-04", "stedfortraeder": USERS["lead"]}


@pytest.fixture
def web(database_url: str) -> Iterator[Web]:
    with page_app(database_url) as served:
        yield served


def cover_tables(database_url: str) -> dict[str, list[tuple[object, ...]]]:
    """The tables an absence writes (logging in writes the user's last log-in)."""
    tables = dump(database_url)
    return {name: tables[name] for name in ("absences", "events", "teams", "team_members")}


def stored(database_url: str) -> list[tuple[str, str, str | None, str]]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Absence.advisor, Absence.last_day, Absence.substitute, Absence.actor)
            )
            return [(a, str(d), s, actor) for a, d, s, actor in rows]
    finally:
        engine.dispose()


def test_a_lead_adds_an_advisors_absence_sees_it_listed_and_removes_it(
    web: Web, database_url: str
) -> None:
    with logged_in(web, "lead") as client:
        added = post_form(client, "/fravaer", "/fravaer", {"raadgiver": USERS["advisor"], **ABSENT})
        assert added.status_code == 303, added.text
        assert added.headers["location"] == "/fravaer?udfoert=absence_added"
        page = client.get("/fravaer?udfoert=absence_added")
        assert "Fraværet er gemt." in page.text
        assert USERS["advisor"] in page.text and "2026-12-04" in page.text
        assert stored(database_url) == [
            (USERS["advisor"], "2026-12-04", USERS["lead"], USERS["lead"])
        ]
        (absence_id,) = [
            line.split("/fravaer/")[1].split("/")[0]
            for line in page.text.splitlines()
            if "/slet" in line
        ]
        removed = post_form(client, "/fravaer", f"/fravaer/{absence_id}/slet", {})
        assert removed.status_code == 303, removed.text
        assert "Fraværet er slettet." in client.get(removed.headers["location"]).text
    assert stored(database_url) == []
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            kinds = list(conn.scalars(select(Event.kind).order_by(Event.id)))
    finally:
        engine.dispose()
    assert kinds == ["absence_added", "absence_removed"]


def test_an_advisor_registers_only_their_own_absence_and_cannot_remove_anothers(
    web: Web, database_url: str
) -> None:
    with logged_in(web, "lead") as lead:
        post_form(lead, "/fravaer", "/fravaer", {"raadgiver": USERS["admin"], **ABSENT})
    with logged_in(web, "advisor") as client:
        page = client.get("/fravaer")
        assert 'id="raadgiver"' not in page.text  # no choice of advisor
        assert USERS["admin"] not in page.text.split("<main")[1]  # only their own listed
        own = post_form(client, "/fravaer", "/fravaer", {"raadgiver": USERS["lead"], **ABSENT})
        assert own.status_code == 303, own.text
        other_id = next(
            str(i) for i, (a, *_) in enumerate(stored(database_url), start=1)
            if a == USERS["admin"]
        )  # fmt: skip
        refused = post_form(client, "/fravaer", f"/fravaer/{other_id}/slet", {})
        assert refused.status_code == 404
    advisors = sorted(a for a, *_ in stored(database_url))
    assert advisors == sorted([USERS["admin"], USERS["advisor"]])


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"fra": "2026-12-10", "til": "2026-12-01"}, "til", "Slutdatoen ligger før startdatoen."),
        ({"fra": "2026-11-01", "til": "2026-11-02"}, "til", "Slutdatoen er allerede passeret."),
        ({"fra": "i morgen", "til": "2026-12-01"}, "fra", "Skriv en dato som 2026-11-25."),
        ({"fra": "2026-12-01", "til": "2026-12-02", "stedfortraeder": "lene"},
         "stedfortraeder", "Skriv én e-mailadresse."),
        ({"fra": "2026-12-01", "til": "2026-12-02", "raadgiver": USERS["lead"],
          "stedfortraeder": USERS["lead"].upper()},
         "stedfortraeder", "Stedfortræderen kan ikke være den fraværende selv."),
    ],
)  # fmt: skip
def test_a_refused_absence_shows_the_danish_message_beside_its_field_and_writes_nothing(
    web: Web, database_url: str, fields: dict[str, str], field: str, words: str
) -> None:
    with logged_in(web, "lead") as client:
        before = cover_tables(database_url)
        answer = post_form(client, "/fravaer", "/fravaer", {"raadgiver": USERS["advisor"]} | fields)
    assert answer.status_code == 422
    assert f'<p id="err-{field}" class="field-error">{words}</p>' in answer.text
    assert cover_tables(database_url) == before


def test_without_the_csrf_token_nothing_is_added(web: Web, database_url: str) -> None:
    with logged_in(web, "lead") as client:
        csrf_of(client.get("/fravaer").text)
        answer = client.post("/fravaer", data={"raadgiver": USERS["advisor"], **ABSENT})
    assert answer.status_code == 403
    assert stored(database_url) == []


def test_a_manager_has_no_absence_page(web: Web) -> None:
    with logged_in(web, "manager") as client:
        assert client.get("/fravaer").status_code == 403
