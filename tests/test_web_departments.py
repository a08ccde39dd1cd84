"""``web.restrict_departments`` in the HTTP API, over a real uvicorn on SQLite and PostgreSQL:
a token tied to departments lists, reads, acts on and registers only in those departments;
an advisor tied to none sees nothing; an admin tied to none sees all; another department's
ref is an unknown ref (404) and nothing is written on any refusal. The list never shows a
note, restricted or not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from register_support import NOW, engine_for, session_on
from web_server import EMAIL, Web, register_rows, web_app

from tracker.store import access
from tracker.web.auth import new_token, token_digest

NOTE = "Borgeren hedder Jens og bor på Vestergade 3"
DIVERSE, TEKNIK, BORN = "Diverse", "Teknik og Miljø", "Børn og Unge"
TIED = {
    "diverse-advisor": ("advisor", (DIVERSE,)),
    "teknik-lead": ("lead", (TEKNIK,)),
    "two-advisor": ("advisor", (DIVERSE, BORN)),
    "diverse-admin": ("admin", (DIVERSE,)),
}
"""Tokens tied to departments, beside web_app's one per role tied to none."""


@contextmanager
def restricted(database_url: str, restrict: bool = True) -> Iterator[tuple[Web, dict[str, str]]]:
    """The app (``restrict_departments`` as given) with an inquiry in each department,
    registered by the admin token (tied to none: it sees all), and the tied tokens."""
    with web_app(database_url, web={"restrict_departments": restrict}) as web:
        tokens = {name: new_token() for name in TIED}
        with engine_for(database_url, init=False) as engine, session_on(engine) as session:
            for name, (role, departments) in TIED.items():
                access.add_token(
                    session,
                    name=name,
                    role_name=role,
                    digest=token_digest(tokens[name]),
                    now=NOW,
                    departments=departments,
                    configured=web.settings.departments,
                )
        with web.client("admin") as admin:
            for department in (DIVERSE, TEKNIK, BORN):
                created = admin.post(
                    "/api/v1/inquiries", json={**EMAIL, "department": department, "note": NOTE}
                )
                assert created.status_code == 201, created.text
        yield web, tokens


REFS = {DIVERSE: "2026-000001", TEKNIK: "2026-000002", BORN: "2026-000003"}


def client(web: Web, token: str) -> httpx.Client:
    return httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def listed(c: httpx.Client, **params: str) -> list[dict[str, Any]]:
    response = c.get("/api/v1/inquiries", params={"state": "all", **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    assert all("note" not in i for i in items)  # the list never shows a note
    assert NOTE not in response.text
    return items


def test_a_token_tied_to_departments_lists_only_theirs_and_never_a_note(database_url: str) -> None:
    with restricted(database_url) as (web, tokens):
        with client(web, tokens["diverse-advisor"]) as c:
            assert [i["ref"] for i in listed(c)] == [REFS[DIVERSE]]
        with client(web, tokens["two-advisor"]) as c:
            assert sorted(i["ref"] for i in listed(c)) == [REFS[DIVERSE], REFS[BORN]]
        with client(web, tokens["teknik-lead"]) as c:
            assert [i["department"] for i in listed(c)] == [TEKNIK]
        with web.client("admin") as c:  # an admin tied to no department: everything
            assert len(listed(c)) == 3
        with client(web, tokens["diverse-admin"]) as c:  # tied: held to it like anyone
            assert [i["ref"] for i in listed(c)] == [REFS[DIVERSE]]


def test_asking_for_another_department_lists_nothing(database_url: str) -> None:
    with restricted(database_url) as (web, tokens), client(web, tokens["diverse-advisor"]) as c:
        assert listed(c, department=TEKNIK) == []
        assert [i["ref"] for i in listed(c, department=DIVERSE)] == [REFS[DIVERSE]]
        assert listed(c, advisor=EMAIL["advisor"], department=BORN) == []


def test_an_advisor_tied_to_no_department_sees_nothing(database_url: str) -> None:
    with restricted(database_url) as (web, _tokens), web.client("advisor") as c:
        assert listed(c) == []
        for ref in REFS.values():
            assert c.get(f"/api/v1/inquiries/{ref}").status_code == 404


def test_another_departments_ref_is_an_unknown_ref_and_its_note_is_not_read(
    database_url: str,
) -> None:
    with restricted(database_url) as (web, tokens), client(web, tokens["diverse-advisor"]) as c:
        own = c.get(f"/api/v1/inquiries/{REFS[DIVERSE]}")
        assert own.status_code == 200 and own.json()["note"] == NOTE
        other = c.get(f"/api/v1/inquiries/{REFS[TEKNIK]}")
        unknown = c.get("/api/v1/inquiries/2026-999999")
    assert other.status_code == unknown.status_code == 404
    assert NOTE not in other.text
    # the same answer as for a ref that does not exist: its existence is not told
    assert other.json() == {
        "error": f"unknown ref '{REFS[TEKNIK]}'",
        "field": None,
        "code": "unknown_ref",
    }
    assert unknown.json()["field"] is None


@pytest.mark.parametrize("action", ["reply", "pause", "close"])
def test_acting_on_another_departments_inquiry_is_404_with_nothing_written(
    database_url: str, action: str
) -> None:
    with restricted(database_url) as (web, tokens), client(web, tokens["diverse-advisor"]) as c:
        before = register_rows(database_url)
        refused = c.post(f"/api/v1/inquiries/{REFS[TEKNIK]}/{action}", json={})
        assert refused.status_code == 404, refused.text
        assert register_rows(database_url) == before
        done = c.post(f"/api/v1/inquiries/{REFS[DIVERSE]}/{action}", json={})
        assert done.status_code == 200, done.text


def test_registering_in_another_department_is_403_about_the_department(database_url: str) -> None:
    with restricted(database_url) as (web, tokens):
        _register_as_tied_and_untied(web, tokens, database_url)


def _register_as_tied_and_untied(web: Web, tokens: dict[str, str], database_url: str) -> None:
    with client(web, tokens["diverse-advisor"]) as c:
        before = register_rows(database_url)
        refused = c.post("/api/v1/inquiries", json={**EMAIL, "department": TEKNIK})
        assert refused.status_code == 403
        assert refused.json() == {
            "error": f"department '{TEKNIK}' is not one of yours",
            "field": "department",
            "code": "department_scope",
        }
        assert register_rows(database_url) == before
        unknown = c.post("/api/v1/inquiries", json={**EMAIL, "department": "Økonomi"})
        assert unknown.status_code == 422 and unknown.json()["field"] == "department"
        assert register_rows(database_url) == before
        own = c.post("/api/v1/inquiries", json={**EMAIL, "department": DIVERSE})
        assert own.status_code == 201, own.text
    with web.client("advisor") as untied:  # tied to none: may register nowhere
        refused = untied.post("/api/v1/inquiries", json=EMAIL)
        assert refused.status_code == 403 and refused.json()["field"] == "department"


def test_without_the_setting_ties_change_nothing(database_url: str) -> None:
    with restricted(database_url, restrict=False) as (web, tokens):
        with client(web, tokens["diverse-advisor"]) as c:
            assert len(listed(c)) == 3
            assert c.get(f"/api/v1/inquiries/{REFS[TEKNIK]}").status_code == 200
            created = c.post("/api/v1/inquiries", json={**EMAIL, "department": TEKNIK})
            assert created.status_code == 201, created.text
        with web.client("advisor") as c:
            assert len(listed(c)) == 4


def test_a_report_counts_only_the_departments_of_a_caller_held_to_some(database_url: str) -> None:
    with restricted(database_url) as (web, tokens):
        with client(web, tokens["diverse-admin"]) as c:
            mine, by_rule = c.get("/api/v1/report"), c.get("/api/v1/report", params={"by": "rule"})
        with web.client("admin") as untied:  # tied to none: the whole register
            every = untied.get("/api/v1/report", params={"by": "rule"})
    assert mine.status_code == by_rule.status_code == every.status_code == 200, mine.text
    assert [(r["key"], r["count"]) for r in mine.json()["rows"]] == [(DIVERSE, 1)]
    assert mine.json()["total"] == 1 and mine.json()["departments"] == [DIVERSE]
    assert "departments" not in every.json()
    # the obligation passes too: each department's inquiry has the same obligations
    theirs = {r["key"]: r["count"] for r in by_rule.json()["rows"]}
    assert theirs and {r["key"]: r["count"] for r in every.json()["rows"]} == {
        rule: 3 * n for rule, n in theirs.items()
    }
