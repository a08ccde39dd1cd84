"""``svarfrist absence`` and ``svarfrist team`` through the real console script on SQLite
and PostgreSQL: stored, listed, removed, audited; bad input refused with nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from register_support import assert_refused, cli_env, dump, write_config
from sqlalchemy import select

from tracker.store.db import make_engine
from tracker.store.models import Event

NOW = "2026-12-07T09:00:00+01:00"


@pytest.fixture
def env(run_cli: Any, tmp_path: Path, database_url: str) -> dict[str, str]:
    environment = cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))
    result = run_cli("init", env=environment)
    assert result.returncode == 0, result.stderr
    return environment


def _events(database_url: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Event.kind, Event.actor, Event.details).order_by(Event.id))
            return [(k, a, d) for k, a, d in rows]
    finally:
        engine.dispose()


def test_an_absence_is_added_listed_as_json_and_removed_with_each_step_audited(
    run_cli: Any, env: dict[str, str], database_url: str
) -> None:
    added = run_cli(
        "absence", "add", "Anne.Jensen@Fredericia.dk", "--from", "2026-12-07",
        "--to", "2026-12-24", "--substitute", "ole@fredericia.dk", "--now", NOW,
        "--actor", "leder@fredericia.dk", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "anne.jensen@fredericia.dk absent 2026-12-07 to 2026-12-24" in added.stdout
    listed = json.loads(run_cli("absence", "list", "--json", "--now", NOW, env=env).stdout)
    assert [(a["advisor"], a["from"], a["to"], a["substitute"]) for a in listed] == [
        ("anne.jensen@fredericia.dk", "2026-12-07", "2026-12-24", "ole@fredericia.dk")
    ]
    later = run_cli("absence", "list", "--now", "2027-01-05T09:00:00+01:00", env=env)
    assert later.stdout.strip() == "no absences"
    every = run_cli("absence", "list", "--all", "--now", "2027-01-05T09:00:00+01:00", env=env)
    assert "anne.jensen@fredericia.dk absent 2026-12-07 to 2026-12-24" in every.stdout
    removed = run_cli("absence", "remove", str(listed[0]["id"]), env=env)
    assert removed.returncode == 0, removed.stderr
    assert json.loads(run_cli("absence", "list", "--json", "--now", NOW, env=env).stdout) == []
    events = _events(database_url)
    assert [k for k, _, _ in events] == ["absence_added", "absence_removed"]
    assert events[0][1] == "leder@fredericia.dk"
    assert events[0][2] is not None and events[0][2]["substitute"] == "ole@fredericia.dk"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--from", "2026-12-24", "--to", "2026-12-07"), "is after its last day"),
        (("--from", "2026-12-07", "--to", "24-12-2026"), "--to"),
        (("--from", "2026-12-07", "--to", "2026-12-08", "--substitute", "ole"), "substitute 'ole'"),
        (("--from", "2026-12-07", "--to", "2026-12-08", "--substitute", "ANNE@x.dk"), "absent"),
        (("--from", "2026-11-02", "--to", "2026-11-03"), "in the past"),
        (("--from", "2026-12-07", "--to", "2028-12-07"), "longer than"),
        (("--from", "2062-12-07", "--to", "2062-12-08"), "days ahead"),
    ],
)
def test_bad_absence_input_exits_2_with_one_error_line_and_writes_nothing(
    run_cli: Any, env: dict[str, str], database_url: str, args: tuple[str, ...], fragment: str
) -> None:
    before = dump(database_url)
    result = run_cli("absence", "add", "anne@x.dk", *args, "--now", NOW, env=env)
    assert_refused(result, fragment=fragment)
    assert dump(database_url) == before


def test_an_address_that_is_not_one_is_refused_for_the_absent_advisor(
    run_cli: Any, env: dict[str, str], database_url: str
) -> None:
    before = dump(database_url)
    result = run_cli(
        "absence", "add", "anne jensen", "--from", "2026-12-07", "--to", "2026-12-08",
        "--now", NOW, env=env,
    )  # fmt: skip
    assert_refused(result, fragment="not one e-mail address")
    assert_refused(run_cli("absence", "remove", "99", env=env), fragment="no absence 99")
    for beyond in ("3000000000", "99999999999999999999"):  # past any id the database holds
        assert_refused(run_cli("absence", "remove", beyond, env=env), fragment="no absence")
    assert dump(database_url) == before


def test_a_team_is_created_grows_by_a_second_add_loses_a_member_and_is_removed(
    run_cli: Any, env: dict[str, str], database_url: str
) -> None:
    first = run_cli("team", "add", "Borgerservice", "--member", "Anne@x.dk", "--member",
                    "ole@x.dk", env=env)  # fmt: skip
    assert first.returncode == 0, first.stderr
    again = run_cli("team", "add", "Borgerservice", "--member", "mia@x.dk", env=env)
    assert again.stdout.strip() == "team Borgerservice: anne@x.dk, mia@x.dk, ole@x.dk"
    less = run_cli("team", "remove", "Borgerservice", "--member", "ole@x.dk", env=env)
    assert less.returncode == 0, less.stderr
    listed = json.loads(run_cli("team", "list", "--json", env=env).stdout)
    assert [(t["name"], t["members"]) for t in listed] == [
        ("Borgerservice", ["anne@x.dk", "mia@x.dk"])
    ]
    gone = run_cli("team", "remove", "Borgerservice", env=env)
    assert gone.returncode == 0, gone.stderr
    assert run_cli("team", "list", env=env).stdout.strip() == "no teams"
    kinds = [k for k, _, _ in _events(database_url)]
    assert kinds == ["team_added", "team_added", "team_members_removed", "team_removed"]


def test_a_team_without_members_or_with_a_bad_address_is_refused_with_nothing_written(
    run_cli: Any, env: dict[str, str], database_url: str
) -> None:
    before = dump(database_url)
    assert_refused(run_cli("team", "add", "Jobcenter", env=env), fragment="--member")
    assert_refused(
        run_cli("team", "add", "Jobcenter", "--member", "a@x.dk", "--member", "nej", env=env),
        fragment="not one e-mail address",
    )
    assert_refused(run_cli("team", "remove", "Ingen", env=env), fragment="no team")
    assert dump(database_url) == before


def test_removing_someone_who_is_not_a_member_is_refused_with_nothing_written(
    run_cli: Any, env: dict[str, str], database_url: str
) -> None:
    made = run_cli("team", "add", "Jobcenter", "--member", "a@x.dk", env=env)
    assert made.returncode == 0, made.stderr
    before = dump(database_url)
    stranger = run_cli(
        "team", "remove", "Jobcenter", "--member", "a@x.dk", "--member", "B@x.dk", env=env
    )
    assert_refused(stranger, fragment="team 'Jobcenter' has no member b@x.dk")
    assert dump(database_url) == before
