"""Offices apart, over a real uvicorn on SQLite and PostgreSQL: a token or user tied to one
office never sees another office's inquiries, by list, by API filter, by URL or by page;
one tied to none (``*``) sees every office, as every caller did before offices."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from page_support import PASSWORD, SECRET, browser, csrf_of
from register_support import NOW, engine_for, session_on
from web_server import EMAIL, Web, web_app

from tracker.store import access
from tracker.web.auth import hash_password, new_token, token_digest

NOTE = "Borgeren hedder Jens og bor på Vestergade 3"
NORD = "Borgerservice Nord"
OFFICES = {"nord": {"departments": [NORD], "default_recipient": "nord@example.dk"}}
TIED = {"nord-advisor": "nord", "default-advisor": "default"}
REFS = {"default": "2026-000001", "nord": "2026-000002"}
NORA = "nora@fredericia.dk"


@contextmanager
def two_offices(database_url: str) -> Iterator[tuple[Web, dict[str, str]]]:
    """The app with an inquiry in each office (registered by the admin token, tied to no
    office), a token of each office and Nora, an advisor of nord."""
    web_settings = {"secret_key": SECRET, "insecure_http": True}
    with web_app(database_url, web=web_settings, offices=OFFICES) as web:
        tokens = {name: new_token() for name in TIED}
        with engine_for(database_url, init=False) as engine, session_on(engine) as session:
            for name, office in TIED.items():
                access.add_token(
                    session,
                    name=name,
                    role_name="advisor",
                    digest=token_digest(tokens[name]),
                    now=NOW,
                    office=office,
                )
            access.add_user(
                session,
                email=NORA,
                role_name="advisor",
                password_hash=hash_password(PASSWORD),
                now=NOW,
                office="nord",
            )
        with web.client("admin") as admin:
            first = admin.post("/api/v1/inquiries", json={**EMAIL, "note": NOTE})
            second = admin.post(
                "/api/v1/inquiries",
                json={**EMAIL, "department": NORD, "office": "nord", "note": NOTE},
            )
            assert first.status_code == second.status_code == 201, second.text
            assert (first.json()["office"], second.json()["office"]) == ("default", "nord")
        yield web, tokens


def client(web: Web, token: str) -> httpx.Client:
    return httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def refs(c: httpx.Client, **params: str) -> list[str]:
    response = c.get("/api/v1/inquiries", params={"state": "all", **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return [i["ref"] for i in items]


def test_a_token_of_one_office_sees_only_that_office(database_url: str) -> None:
    with two_offices(database_url) as (web, tokens):
        with client(web, tokens["nord-advisor"]) as nord:
            assert refs(nord) == [REFS["nord"]]
            assert refs(nord, office="default") == []  # asking for another office: nothing
            assert refs(nord, office="nord") == [REFS["nord"]]
            other = nord.get(f"/api/v1/inquiries/{REFS['default']}")
            acted = nord.post(f"/api/v1/inquiries/{REFS['default']}/reply", json={})
            own = nord.get(f"/api/v1/inquiries/{REFS['nord']}")
            unknown = nord.get("/api/v1/inquiries", params={"office": "vest"})
        with client(web, tokens["default-advisor"]) as top:
            assert refs(top) == [REFS["default"]]
            assert top.get(f"/api/v1/inquiries/{REFS['nord']}").status_code == 404
        with web.client("admin") as admin:
            assert sorted(refs(admin)) == sorted(REFS.values())
            assert refs(admin, office="nord") == [REFS["nord"]]
    assert other.status_code == 404 and NOTE not in other.text
    assert acted.status_code == 404
    assert own.status_code == 200 and own.json()["office"] == "nord"
    assert unknown.status_code == 422 and "vest" in unknown.json()["error"]


def test_a_token_of_one_office_registers_there_and_nowhere_else(database_url: str) -> None:
    with two_offices(database_url) as (web, tokens), client(web, tokens["nord-advisor"]) as c:
        mine = c.post("/api/v1/inquiries", json={**EMAIL, "department": NORD})
        elsewhere = c.post("/api/v1/inquiries", json={**EMAIL, "office": "default"})
    assert mine.status_code == 201 and mine.json()["office"] == "nord"
    assert elsewhere.status_code == 403


def test_a_user_of_one_office_gets_404_for_another_office_s_inquiry_page(
    database_url: str,
) -> None:
    with two_offices(database_url) as (web, _), browser(web) as nora:
        page = nora.get("/login")
        form = {"csrf": csrf_of(page.text), "email": NORA, "password": PASSWORD, "next": "/"}
        assert nora.post("/login", data=form).status_code == 303
        own = nora.get(f"/henvendelser/{REFS['nord']}")
        other = nora.get(f"/henvendelser/{REFS['default']}")
    assert own.status_code == 200
    assert other.status_code == 404 and NOTE not in other.text
