"""``/api/v1/absences`` and ``/api/v1/teams`` over real HTTP against a real uvicorn server, on
SQLite and PostgreSQL: the command line's shapes and refusals, the roles, nothing written on
a refusal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from register_support import cli_env, write_config
from web_server import Web, register_rows, web_app

ANNE = "anne@fredericia.dk"
BO = "bo@fredericia.dk"


@pytest.fixture
def web(database_url: str) -> Iterator[Web]:
    with web_app(database_url) as served:
        yield served


def absence(**fields: Any) -> dict[str, Any]:
    return {"advisor": ANNE, "from": "2026-11-30", "to": "2026-12-04", **fields}


def test_a_lead_adds_lists_and_removes_an_absence(web: Web) -> None:
    with web.client("lead") as client:
        made = client.post("/api/v1/absences", json=absence(substitute="Bo@Fredericia.dk"))
        assert made.status_code == 201, made.text
        body = made.json()
        assert made.headers["location"] == f"/api/v1/absences/{body['id']}"
        assert {k: body[k] for k in ("advisor", "from", "to", "substitute", "actor")} == {
            "advisor": ANNE,
            "from": "2026-11-30",
            "to": "2026-12-04",
            "substitute": BO,  # lower-cased on the way in, as the command line does
            "actor": "lead-bot",
        }
        assert client.get("/api/v1/absences").json() == [body]
        assert client.get("/api/v1/absences", params={"advisor": BO}).json() == []
        gone = client.delete(f"/api/v1/absences/{body['id']}")
        assert gone.status_code == 200 and gone.json() == body
        assert client.get("/api/v1/absences").json() == []
        again = client.delete(f"/api/v1/absences/{body['id']}")
    assert again.status_code == 404 and again.json()["error"] == f"no absence {body['id']}"


def test_past_absences_are_listed_only_when_asked_and_as_the_command_line_lists_them(
    web: Web, run_cli: Any, tmp_path: Path
) -> None:
    # The app's clock is 2026-11-26: an absence added a month earlier that ended on the 20th
    # is history.
    env = cli_env(web.database_url, write_config(tmp_path / "svarfrist.toml"))
    added = run_cli("absence", "add", ANNE, "--from", "2026-10-26", "--to", "2026-11-20",
                    "--now", "2026-10-26T09:00", env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = run_cli("absence", "list", "--all", "--json", env=env)
    with web.client("admin") as client:
        assert client.get("/api/v1/absences").json() == []
        every = client.get("/api/v1/absences", params={"every": "true"}).json()
    assert every == json.loads(listed.stdout)
    assert [a["to"] for a in every] == ["2026-11-20"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"from": "2026-12-05", "to": "2026-12-01"}, "to"),
        ({"to": "2026-11-20", "from": "2026-11-19"}, "to"),  # over before today
        ({"from": "1. december"}, "from"),
        ({"advisor": "not an address"}, "advisor"),
        ({"substitute": ANNE}, "substitute"),  # covering for oneself
    ],
)
def test_a_bad_absence_is_refused_naming_its_field_and_nothing_is_written(
    web: Web, fields: dict[str, str], field: str
) -> None:
    before = register_rows(web.database_url)
    with web.client("lead") as client:
        refused = client.post("/api/v1/absences", json=absence(**fields))
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == field
    assert "--" not in refused.json()["error"]  # the API's words: no command-line option
    assert register_rows(web.database_url) == before


@pytest.mark.parametrize("absence_id", ["3000000000", "99999999999999999999"])
def test_an_absence_id_past_what_the_database_holds_is_unknown_not_a_database_failure(
    web: Web, absence_id: str
) -> None:
    before = register_rows(web.database_url)
    with web.client("lead") as client:
        gone = client.delete(f"/api/v1/absences/{absence_id}")
    assert gone.status_code == 404, gone.text
    assert gone.json() == {"error": f"no absence {absence_id}", "field": None, "code": "unknown"}
    assert register_rows(web.database_url) == before


def test_unknown_fields_and_wrong_types_are_refused(web: Web) -> None:
    with web.client("lead") as client:
        extra = client.post("/api/v1/absences", json=absence(reason="ferie"))
        typed = client.post("/api/v1/teams", json={"name": "Team Nord", "members": ANNE})
    assert extra.status_code == 422 and typed.status_code == 422


def test_advisor_and_manager_tokens_may_not_manage_cover(web: Web) -> None:
    for role in ("advisor", "manager"):
        with web.client(role) as client:
            assert client.get("/api/v1/absences").status_code == 403
            assert client.post("/api/v1/absences", json=absence()).status_code == 403
            assert client.get("/api/v1/teams").status_code == 403
    with web.client(None) as client:
        assert client.get("/api/v1/teams").status_code == 401


def test_teams_are_made_grown_shrunk_and_removed(web: Web) -> None:
    with web.client("lead") as client:
        made = client.post("/api/v1/teams", json={"name": "Team Nord", "members": [ANNE]})
        assert made.status_code == 200, made.text
        assert made.json()["members"] == [ANNE]
        grown = client.post("/api/v1/teams", json={"name": "Team Nord", "members": [BO]})
        assert grown.json()["members"] == [ANNE, BO]
        assert [t["name"] for t in client.get("/api/v1/teams").json()] == ["Team Nord"]
        shrunk = client.delete("/api/v1/teams/Team Nord", params={"member": ANNE})
        assert shrunk.status_code == 204
        assert client.get("/api/v1/teams").json()[0]["members"] == [BO]
        assert client.delete("/api/v1/teams/Team Nord").status_code == 204
        assert client.get("/api/v1/teams").json() == []
        unknown = client.delete("/api/v1/teams/Team Nord")
        assert unknown.status_code == 404 and "no team" in unknown.json()["error"]
        empty = client.post("/api/v1/teams", json={"name": "Team Syd", "members": []})
    assert empty.status_code == 422


def test_a_team_whose_name_holds_a_slash_is_removed_by_its_name(web: Web) -> None:
    # A name is any printable text: "Nord/Syd" was made, and its removal was 404 "no such path"
    with web.client("lead") as client:
        made = client.post("/api/v1/teams", json={"name": "Nord/Syd", "members": [ANNE, BO]})
        assert made.status_code == 200, made.text
        shrunk = client.delete("/api/v1/teams/Nord%2FSyd", params={"member": ANNE})
        assert shrunk.status_code == 204, shrunk.text
        assert client.get("/api/v1/teams").json()[0]["members"] == [BO]
        assert client.delete("/api/v1/teams/Nord/Syd").status_code == 204
        assert client.get("/api/v1/teams").json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Team Nord", "members": []}, "members"),
        ({"name": "Team Nord", "members": [ANNE, "not an address"]}, "members"),
        ({"name": " ", "members": [ANNE]}, "name"),
        ({"name": "x" * 65, "members": [ANNE]}, "name"),
    ],
)
def test_a_bad_team_is_refused_naming_its_field_and_nothing_is_written(
    web: Web, body: dict[str, Any], field: str
) -> None:
    before = register_rows(web.database_url)
    with web.client("lead") as client:
        refused = client.post("/api/v1/teams", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == field, refused.text
    assert "--" not in refused.json()["error"]  # the API's words: no command-line option
    assert register_rows(web.database_url) == before


@pytest.mark.parametrize(
    ("member", "status", "error"),
    [
        ("anne", 422, None),  # not an address: the field it came in
        (BO, 404, f"team 'Team Nord' has no member {BO}"),  # not a member: a mistake
    ],
)
def test_removing_a_member_refuses_a_non_address_and_a_non_member_writing_nothing(
    web: Web, member: str, status: int, error: str | None
) -> None:
    with web.client("lead") as client:
        made = client.post("/api/v1/teams", json={"name": "Team Nord", "members": [ANNE]})
        assert made.status_code == 200, made.text
        before = register_rows(web.database_url)
        refused = client.delete("/api/v1/teams/Team Nord", params={"member": member})
        assert client.get("/api/v1/teams").json()[0]["members"] == [ANNE]
    assert refused.status_code == status, refused.text
    if error is None:
        assert refused.json()["field"] == "member", refused.text
        assert "--" not in refused.json()["error"]
    else:
        assert refused.json() == {"error": error, "field": None, "code": "unknown"}
    assert register_rows(web.database_url) == before


def test_the_openapi_document_names_the_cover_routes(web: Web) -> None:
    with web.client(None) as client:
        paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/absences"])
    assert "delete" in paths["/api/v1/absences/{absence_id}"]
    assert {"get", "post"} <= set(paths["/api/v1/teams"])
