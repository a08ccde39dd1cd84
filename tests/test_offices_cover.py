"""Teams and absences belong to an office, over real HTTP and the real console script on
SQLite and PostgreSQL: a lead token of one office records them in its office and sees,
changes and removes only its office's; one of every office sees them all and names the
office; a team name is unique within its office; ``--office`` scopes the commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from page_support import add_office_user, as_user, logged_in, page_app, post_form
from register_support import cli_env, engine_for, session_on
from sqlalchemy import select
from web_server import Web, add_office_token, register_rows, web_app

from tracker.store.models import Absence

OFFICES = {"nord": {"departments": ["Borgerservice Nord"], "default_recipient": "n@example.dk"}}
ANNE = "anne@fredericia.dk"
NINA = "nina@fredericia.dk"


@contextmanager
def two_offices(database_url: str) -> Iterator[tuple[Web, httpx.Client]]:
    """The app with offices and a lead token of nord (the fixture's tokens: every office)."""
    with web_app(database_url, offices=OFFICES) as web:
        token = add_office_token(database_url, "nord-lead", "lead", "nord")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=web.url, headers=headers, timeout=60) as nord:
            yield web, nord


def absence(advisor: str) -> dict[str, Any]:
    return {"advisor": advisor, "from": "2026-11-30", "to": "2026-12-04"}


def test_a_lead_of_one_office_sees_and_manages_only_its_offices_cover(database_url: str) -> None:
    with two_offices(database_url) as (web, nord), web.client("lead") as everyone:
        theirs = everyone.post("/api/v1/absences", json=absence(ANNE)).json()
        assert theirs["office"] == "default"  # a caller of every office records in default
        everyone.post("/api/v1/teams", json={"name": "Team Syd", "members": [ANNE]})
        mine = nord.post("/api/v1/absences", json=absence(NINA))
        assert mine.status_code == 201 and mine.json()["office"] == "nord"
        made = nord.post("/api/v1/teams", json={"name": "Team Nord", "members": [NINA]})
        assert made.status_code == 200 and made.json()["office"] == "nord"

        assert [a["advisor"] for a in nord.get("/api/v1/absences").json()] == [NINA]
        assert [t["name"] for t in nord.get("/api/v1/teams").json()] == ["Team Nord"]
        assert [a["advisor"] for a in everyone.get("/api/v1/absences").json()] == [ANNE, NINA]
        assert len(everyone.get("/api/v1/teams").json()) == 2

        before = register_rows(database_url)
        assert nord.delete(f"/api/v1/absences/{theirs['id']}").status_code == 404
        assert nord.delete("/api/v1/teams/Team Syd").status_code == 404
        assert register_rows(database_url) == before
        # a name is unique within an office: nord's own "Team Syd" is another team
        own = nord.post("/api/v1/teams", json={"name": "Team Syd", "members": [NINA]})
        assert own.status_code == 200 and own.json()["office"] == "nord"
        assert own.json()["members"] == [NINA] and ANNE not in own.text

        assert nord.delete(f"/api/v1/absences/{mine.json()['id']}").status_code == 200
        assert nord.delete("/api/v1/teams/Team Nord").status_code == 204
        assert nord.delete("/api/v1/teams/Team Syd").status_code == 204  # nord's
        assert [(t["name"], t["office"]) for t in everyone.get("/api/v1/teams").json()] == [
            ("Team Syd", "default")
        ]
        gone = everyone.delete("/api/v1/teams/Team Syd", params={"office": "nord"})
        assert gone.status_code == 404
        assert everyone.delete("/api/v1/teams/Team Syd").status_code == 204  # default's


def test_the_commands_take_office(run_cli: Any, database_url: str, tmp_path: Path) -> None:
    config = tmp_path / "svarfrist.toml"
    config.write_text('[offices.nord]\ndepartments = ["Borgerservice Nord"]\n', encoding="utf-8")
    env = cli_env(database_url, config)

    def ok(*args: str) -> str:
        done = run_cli(
            *args, *(["--now", "2026-11-30T09:00"] if args != ("init",) else []), env=env
        )
        assert done.returncode == 0, done.stderr
        return str(done.stdout)

    ok("init")
    ok("absence", "add", ANNE, "--from", "2026-11-30", "--to", "2026-12-04")
    ok("absence", "add", NINA, "--from", "2026-11-30", "--to", "2026-12-04", "--office", "nord")
    listed = json.loads(ok("absence", "list", "--json", "--office", "nord"))
    assert [(a["advisor"], a["office"]) for a in listed] == [(NINA, "nord")]
    assert len(json.loads(ok("absence", "list", "--json"))) == 2  # every office
    first = json.loads(ok("absence", "list", "--json", "--office", "default"))[0]["id"]
    refused = run_cli("absence", "remove", str(first), "--office", "nord", env=env)
    assert refused.returncode == 2 and refused.stderr.startswith("error: no absence")
    unknown = run_cli("absence", "list", "--office", "vest", env=env)
    assert unknown.returncode == 2 and "unknown office 'vest'" in unknown.stderr


def test_a_caller_of_every_office_names_the_office_and_one_office_cannot(
    database_url: str,
) -> None:
    with two_offices(database_url) as (web, nord), web.client("lead") as everyone:
        made = everyone.post("/api/v1/absences", json={**absence(NINA), "office": "nord"})
        assert made.status_code == 201 and made.json()["office"] == "nord"
        team = everyone.post(
            "/api/v1/teams", json={"name": "Team Nord", "members": [NINA], "office": "nord"}
        )
        assert team.status_code == 200 and team.json()["office"] == "nord"
        assert [t["name"] for t in nord.get("/api/v1/teams").json()] == ["Team Nord"]
        # the office's own lead may name it, and nothing else
        assert nord.post("/api/v1/absences", json={**absence(ANNE), "office": "nord"}).is_success

        before = register_rows(database_url)
        other = nord.post("/api/v1/absences", json={**absence(ANNE), "office": "default"})
        assert other.status_code == 403 and other.json()["field"] == "office"
        other = nord.post(
            "/api/v1/teams", json={"name": "Team Syd", "members": [ANNE], "office": "default"}
        )
        assert other.status_code == 403 and other.json()["field"] == "office"
        unknown = everyone.post("/api/v1/absences", json={**absence(ANNE), "office": "vest"})
        assert unknown.status_code == 422 and unknown.json()["field"] == "office"
        assert "unknown office 'vest'" in unknown.json()["error"]
        assert register_rows(database_url) == before


def test_the_absence_page_offers_the_office_to_a_user_of_every_office(
    database_url: str,
) -> None:
    with page_app(database_url, offices=OFFICES) as web:
        add_office_user(database_url, "nord-lead@fredericia.dk", "nord", role="lead")
        form = {"raadgiver": NINA, "fra": "2026-11-30", "til": "2026-12-04"}
        with logged_in(web, "lead") as everyone:
            page = everyone.get("/fravaer")
            assert '<select id="kontor" name="kontor"' in page.text
            added = post_form(everyone, "/fravaer", "/fravaer", {**form, "kontor": "nord"})
            assert added.status_code == 303, added.text
            listed = everyone.get("/fravaer").text
            assert "<td>nord</td>" in listed
            refused = post_form(everyone, "/fravaer", "/fravaer", {**form, "kontor": "vest"})
            assert refused.status_code == 422 and 'id="err-kontor"' in refused.text
        with as_user(web, "nord-lead@fredericia.dk") as own:
            page = own.get("/fravaer")
            assert 'name="kontor"' not in page.text and NINA in page.text
            before = register_rows(database_url)
            other = post_form(own, "/fravaer", "/fravaer", {**form, "kontor": "default"})
            assert other.status_code == 403 and "adgang til dit eget kontor" in other.text
            assert register_rows(database_url) == before
            mine = post_form(own, "/fravaer", "/fravaer", {**form, "raadgiver": ANNE})
            assert mine.status_code == 303
        with engine_for(database_url, init=False) as engine, session_on(engine) as session:
            offices = {a.advisor: a.office for a in session.scalars(select(Absence))}
        assert offices == {NINA: "nord", ANNE: "nord"}
