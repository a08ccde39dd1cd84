"""Offices apart, over a real uvicorn on SQLite and PostgreSQL: a token or user tied to one
office never sees another office's inquiries, by list, by API filter, by URL or by page,
nor another office's figures in a report (the API's, the reports page's, its CSV's); one
tied to none (``*``) sees every office, as every caller did before offices."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from page_support import PASSWORD, SECRET, as_user, browser, csrf_of, post_form
from register_support import NOW, engine_for, session_on
from sqlalchemy import select
from web_server import EMAIL, Web, register_rows, web_app

from tracker.store import access
from tracker.store.models import Event
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


def test_a_user_of_one_office_cannot_undo_in_another_office_s_inquiry(
    database_url: str,
) -> None:
    """The admin replies to default's inquiry; Nora, of nord, posts undo (and the other
    actions) to it: 404, the reply stays and nothing is written; in her own office's
    inquiry her undo works."""
    with two_offices(database_url) as (web, _), as_user(web, NORA) as nora:
        with web.client("admin") as admin:
            for ref in REFS.values():
                assert admin.post(f"/api/v1/inquiries/{ref}/reply", json={}).status_code == 200
        own = f"/henvendelser/{REFS['nord']}"
        before = register_rows(web.database_url)
        for handling in ("undo", "close", "pause"):
            refused = post_form(
                nora, own, f"/henvendelser/{REFS['default']}/handling", {"handling": handling}
            )
            assert refused.status_code == 404, (handling, refused.text)
            assert NOTE not in refused.text
        assert register_rows(web.database_url) == before
        assert post_form(nora, own, f"{own}/handling", {"handling": "undo"}).status_code == 303
    kinds = [e[0] for e in _events(web.database_url, REFS["default"])]
    assert kinds == ["created", "replied"]
    assert [e[0] for e in _events(web.database_url, REFS["nord"])][-1] == "undone"


def _events(database_url: str, ref: str) -> list[tuple[str]]:
    with engine_for(database_url, init=False) as engine, engine.connect() as conn:
        rows = conn.execute(select(Event.kind).where(Event.ref == ref).order_by(Event.id))
        return [tuple(r) for r in rows]


# -- reports: a caller of one office gets that office's figures, never another's ------------
LEADS = {"nord-lead": "nord", "all-lead": "*"}
LEAD_USERS = {"nanna@fredericia.dk": "nord", "lars@fredericia.dk": "*"}


@contextmanager
def reporting(database_url: str) -> Iterator[tuple[Web, dict[str, str]]]:
    """:func:`two_offices` and a second inquiry in default (so the offices' figures differ:
    default 2, nord 1), with a lead token and a lead user (who may read reports) of nord and
    of every office."""
    with two_offices(database_url) as (web, _):
        tokens = {name: new_token() for name in LEADS}
        with engine_for(database_url, init=False) as engine, session_on(engine) as session:
            for name, office in LEADS.items():
                access.add_token(
                    session,
                    name=name,
                    role_name="lead",
                    digest=token_digest(tokens[name]),
                    now=NOW,
                    office=office,
                )
            for email, office in LEAD_USERS.items():
                access.add_user(
                    session,
                    email=email,
                    role_name="lead",
                    password_hash=hash_password(PASSWORD),
                    now=NOW,
                    office=office,
                )
        with web.client("admin") as admin:
            third = admin.post("/api/v1/inquiries", json={**EMAIL, "note": NOTE})
            assert third.status_code == 201, third.text
        yield web, tokens


def report(c: httpx.Client, **params: str) -> httpx.Response:
    return c.get("/api/v1/report", params={"by": "office", **params})


def counts(response: httpx.Response) -> dict[str, int]:
    assert response.status_code == 200, response.text
    return {r["key"]: r["count"] for r in response.json()["rows"]}


def test_the_report_api_counts_only_the_callers_office(database_url: str) -> None:
    with reporting(database_url) as (web, tokens):
        with client(web, tokens["nord-lead"]) as nord:
            own = report(nord)
            by_department = nord.get("/api/v1/report")
            asked_own = report(nord, office="nord")
            other = report(nord, office="default")
            unknown = report(nord, office="vest")
        with client(web, tokens["all-lead"]) as everyone:
            every = report(everyone)
            chosen = report(everyone, office="nord")
            default = report(everyone, office="default")
    assert counts(own) == counts(asked_own) == {"nord": 1}
    assert own.json()["total"] == 1
    assert [(r["key"], r["count"]) for r in by_department.json()["rows"]] == [
        ("Borgerservice Nord", 1)
    ]
    assert by_department.json()["total"] == 1
    assert other.status_code == 403
    assert other.json()["field"] == "office" and "rows" not in other.json()
    assert "total" not in other.text and "2" not in other.text
    assert unknown.status_code == 422 and "vest" in unknown.json()["error"]
    assert counts(every) == {"default": 2, "nord": 1}
    assert counts(chosen) == {"nord": 1}
    assert counts(default) == {"default": 2} and default.json()["total"] == 2


def csv_counts(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    lines = response.content.decode("utf-8-sig").strip().splitlines()
    return {line.split(";")[0]: line.split(";")[1] for line in lines[1:]}


def test_the_reports_page_and_its_csv_count_only_the_users_office(database_url: str) -> None:
    with reporting(database_url) as (web, _):
        with as_user(web, "nanna@fredericia.dk") as nanna:
            page = nanna.get("/rapporter", params={"gruppering": "office"})
            csv = nanna.get("/rapporter.csv", params={"gruppering": "office"})
            by_department = nanna.get("/rapporter.csv")
            other_page = nanna.get(
                "/rapporter", params={"gruppering": "office", "kontor": "default"}
            )
            other_csv = nanna.get("/rapporter.csv", params={"kontor": "default"})
        with as_user(web, "lars@fredericia.dk") as lars:
            every_page = lars.get("/rapporter", params={"gruppering": "office"})
            every_csv = lars.get("/rapporter.csv", params={"gruppering": "office"})
            chosen_csv = lars.get(
                "/rapporter.csv", params={"gruppering": "office", "kontor": "default"}
            )
            unknown = lars.get("/rapporter", params={"kontor": "vest"})
    assert csv_counts(csv) == {"nord": "1"}
    assert csv_counts(by_department) == {"Borgerservice Nord": "1"}
    assert page.status_code == 200
    assert ">nord<" in page.text and ">default<" not in page.text
    assert 'name="kontor"' not in page.text  # one office: nothing to choose
    assert other_page.status_code == other_csv.status_code == 403
    assert "Diverse" not in other_csv.text and ">default<" not in other_page.text
    assert "text/csv" not in other_csv.headers["content-type"]
    assert csv_counts(every_csv) == {"default": "2", "nord": "1"}
    assert csv_counts(chosen_csv) == {"default": "2"}
    assert every_page.status_code == 200 and "Kontor" in every_page.text
    assert 'name="kontor"' in every_page.text
    assert unknown.status_code == 422


def _answered(admin: Any, plan: Iterable[tuple[str, str, int]]) -> None:
    """(office, department, n): n e-mail inquiries registered and replied to on time."""
    for office, department, n in plan:
        for _ in range(n):
            body = {**EMAIL, "department": department, "office": office}
            added = admin.post("/api/v1/inquiries", json=body)
            assert added.status_code == 201, added.text
            ref = added.json()["ref"]
            at = {"at": "2026-11-25T11:00"}
            assert admin.post(f"/api/v1/inquiries/{ref}/reply", json=at).status_code == 200


def test_the_public_page_shows_one_office_with_kontor(database_url: str) -> None:
    web_settings = {"secret_key": SECRET, "insecure_http": True}
    with web_app(database_url, web=web_settings, offices=OFFICES) as web:
        with web.client("admin") as admin:
            _answered(admin, (("default", "Diverse", 6), ("nord", NORD, 5)))
        with httpx.Client(base_url=web.url) as anonymous:
            every = anonymous.get("/offentlig/svartider.json").json()
            nord = anonymous.get("/offentlig/svartider.json", params={"kontor": "nord"}).json()
            default = anonymous.get("/offentlig/svartider.json", params={"kontor": "default"})
            page = anonymous.get("/offentlig/svartider", params={"kontor": "nord"})
            unknown = anonymous.get("/offentlig/svartider", params={"kontor": "vest"})
            unknown_feed = anonymous.get("/offentlig/svartider.json", params={"kontor": "vest"})

    def answered(feed: dict[str, Any]) -> dict[str | None, Any]:
        rows = {d["department"]: d["rules"]["reply"]["answered"] for d in feed["departments"]}
        return {**rows, None: feed["all"]["reply"]["answered"]}

    assert answered(every)[None] == 11
    assert answered(nord) == {NORD: 5, None: 5}
    assert answered(default.json())[None] == 6
    assert answered(default.json())["Diverse"] == 6 and NORD not in answered(default.json())
    assert page.status_code == 200 and NORD in page.text and "Diverse" not in page.text
    assert unknown.status_code == unknown_feed.status_code == 404


def test_the_page_of_every_office_gives_no_figure_an_office_page_suppresses(
    database_url: str,
) -> None:
    # Diverse in both offices: 6 answered in default, 3 in nord (suppressed on nord's page,
    # and with it NORD's 5, the total less them). The page of every office showed Diverse's
    # 9 and NORD's 5: 9 less default's 6 gave nord's 3.
    offices = {"nord": {**OFFICES["nord"], "departments": [NORD, "Diverse"]}}
    web_settings = {"secret_key": SECRET, "insecure_http": True}
    with web_app(database_url, web=web_settings, offices=offices) as web:
        with web.client("admin") as admin:
            _answered(admin, (("default", "Diverse", 6), ("nord", "Diverse", 3), ("nord", NORD, 5)))
        with httpx.Client(base_url=web.url) as anonymous:
            feeds = {
                key: anonymous.get("/offentlig/svartider.json", params=params).json()
                for key, params in (
                    ("every", {}),
                    ("default", {"kontor": "default"}),
                    ("nord", {"kontor": "nord"}),
                )
            }

    def answered(feed: dict[str, Any]) -> dict[str | None, Any]:
        rows = {d["department"]: d["rules"]["reply"]["answered"] for d in feed["departments"]}
        return {**rows, None: feed["all"]["reply"]["answered"]}

    every, default, nord = (answered(feeds[k]) for k in ("every", "default", "nord"))
    assert (default["Diverse"], default[None]) == (6, 6)
    assert nord == {NORD: None, "Diverse": None, None: 8}
    assert (every["Diverse"], every[NORD], every[None]) == (None, None, 14)
    for key, n in every.items():  # less the offices' own pages: nothing they suppress
        if n is not None:
            parts = [page.get(key) for page in (default, nord) if key in page]
            assert None not in parts and sum(parts) == n, key


OPTION = re.compile(r'<option value="([^"]*)"')


def test_the_department_list_offers_and_lists_the_users_offices_only(database_url: str) -> None:
    with reporting(database_url) as (web, _):
        with as_user(web, "nanna@fredericia.dk") as nanna:
            offered = nanna.get("/afdeling")
            own = nanna.get("/afdeling", params={"afdeling": NORD})
            other = nanna.get("/afdeling", params={"afdeling": "Diverse"})
            other_office = nanna.get("/afdeling", params={"afdeling": NORD, "kontor": "default"})
        with as_user(web, "lars@fredericia.dk") as lars:
            every = lars.get("/afdeling")
            nord = lars.get("/afdeling", params={"afdeling": NORD, "kontor": "nord"})
            diverse = lars.get("/afdeling", params={"afdeling": "Diverse"})
            diverse_in_nord = lars.get(
                "/afdeling", params={"afdeling": "Diverse", "kontor": "nord"}
            )
            unknown = lars.get("/afdeling", params={"afdeling": NORD, "kontor": "vest"})
    # nanna (lead of nord): nord's departments, nothing to choose of offices
    assert OPTION.findall(offered.text) == [NORD] and 'name="kontor"' not in offered.text
    assert own.status_code == 200 and REFS["nord"] in own.text and NOTE not in own.text
    assert other.status_code == 422 and "err-afdeling" in other.text
    assert REFS["default"] not in other.text
    assert other_office.status_code == 403 and "err-kontor" not in other_office.text
    assert "Du har kun adgang til dit eget kontor." in other_office.text
    assert REFS["nord"] not in other_office.text
    # lars (lead of every office): every office's departments, by office, and the offices
    assert '<optgroup label="nord">' in every.text and '<optgroup label="default">' in every.text
    assert {NORD, "Diverse", "nord", "default", ""} <= set(OPTION.findall(every.text))
    assert nord.status_code == 200 and REFS["nord"] in nord.text
    assert '<th scope="col">Kontor</th>' in nord.text and "<td>nord</td>" in nord.text
    assert '<th scope="col">Kontor</th>' not in own.text  # one office: no office column
    assert diverse.status_code == 200 and REFS["default"] in diverse.text
    assert REFS["nord"] not in diverse.text
    assert diverse_in_nord.status_code == 422 and REFS["default"] not in diverse_in_nord.text
    assert unknown.status_code == 422 and "err-kontor" in unknown.text
    assert REFS["nord"] not in unknown.text
