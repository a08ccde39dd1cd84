"""Teams and absences belong to an office, over real HTTP and the real console script on
SQLite and PostgreSQL: a lead token of one office records them in its office and sees,
changes and removes only its office's; one of every office sees them all; ``--office``
scopes the commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from register_support import cli_env
from web_server import Web, add_office_token, register_rows, web_app

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
        taken = nord.post("/api/v1/teams", json={"name": "Team Syd", "members": [NINA]})
        assert taken.status_code == 409  # the name is another office's: not joined, not shown
        assert ANNE not in taken.text
        assert register_rows(database_url) == before

        assert nord.delete(f"/api/v1/absences/{mine.json()['id']}").status_code == 200
        assert nord.delete("/api/v1/teams/Team Nord").status_code == 204
        assert everyone.get("/api/v1/teams").json()[0]["name"] == "Team Syd"


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
