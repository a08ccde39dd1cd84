"""Offices in the register, through the real console script on SQLite and PostgreSQL: each
inquiry's deadlines follow its own office's closed days and rules; ``--office`` scopes the
commands; an unknown office is exit 2; a deployment from before offices upgrades with
``svarfrist init`` and keeps every deadline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from register_support import cli_env, engine_for

from tracker.store import schema

# Nord closes Monday 7 December 2026 and calls back within 48 hours of its own opening
# hours (09:00-12:00 on weekdays); the top level (office default) keeps the built-in rules.
CONFIG = """
default_recipient = "top@example.dk"
departments = ["Diverse", "Teknik og Miljø"]

[offices.nord]
default_recipient = "nord@example.dk"
departments = ["Borgerservice Nord"]

[offices.nord.calendar]
closed_dates = [2026-12-07]

[offices.nord.schedules.aabent]
monday = ["09:00-12:00"]
tuesday = ["09:00-12:00"]
wednesday = ["09:00-12:00"]
thursday = ["09:00-12:00"]
friday = ["09:00-12:00"]

[offices.nord.rules.callback]
hours = 48
schedule = "aabent"
"""
RECEIVED = "2026-12-04T10:00"  # Friday
NOW = "2026-12-04T11:00"


class Cli:
    def __init__(self, run_cli: Any, env: dict[str, str]) -> None:
        self.run_cli, self.env = run_cli, env

    def __call__(self, *args: str) -> Any:
        return self.run_cli(*args, env=self.env)

    def ok(self, *args: str) -> Any:
        result = self(*args)
        assert result.returncode == 0, result.stderr
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)


@pytest.fixture
def cli(run_cli: Any, database_url: str, tmp_path: Path) -> Cli:
    config = tmp_path / "svarfrist.toml"
    config.write_text(CONFIG, encoding="utf-8")
    bound = Cli(run_cli, cli_env(database_url, config))
    bound.ok("init")
    return bound


def add(cli: Cli, *extra: str, department: str = "Diverse") -> dict[str, Any]:
    data: dict[str, Any] = cli.json(
        "add", "--channel", "phone", "--callback", "--department", department,
        "--received", RECEIVED, "--now", NOW, *extra,
    )  # fmt: skip
    return data


def due(view: dict[str, Any], rule: str) -> str:
    return str(next(o["due_at"] for o in view["obligations"] if o["rule"] == rule))


def test_the_same_received_time_gives_each_office_its_own_deadlines(cli: Cli) -> None:
    top = add(cli)
    nord = add(cli, "--office", "nord", department="Borgerservice Nord")
    assert (top["office"], nord["office"]) == ("default", "nord")
    # default: the built-in callback rule on the built-in working days
    assert due(top, "callback") == "2026-12-08T10:00:00+01:00"
    # nord: 48 h of 3 h a day = 16 opening days from Friday 10:00, Monday 7 Dec closed,
    # 24 and 31 December closed (default closed days), so Monday 4 January 2027 at 10:00
    assert due(nord, "callback") == "2027-01-04T10:00:00+01:00"
    shown = cli.json("show", nord["ref"], "--now", NOW)
    assert shown["office"] == "nord"
    assert due(shown, "callback") == due(nord, "callback")


def test_an_action_recomputes_on_the_inquiry_s_own_office(cli: Cli) -> None:
    nord = add(cli, "--office", "nord", department="Borgerservice Nord")
    cli.ok("pause", nord["ref"], "--at", "2026-12-04T10:30", "--now", NOW)
    cli.ok("resume", nord["ref"], "--at", "2026-12-04T10:30", "--now", NOW)
    after = cli.json("show", nord["ref"], "--now", NOW)
    assert due(after, "callback") == due(nord, "callback")


def test_office_scopes_list_show_and_recompute(cli: Cli) -> None:
    top = add(cli)
    nord = add(cli, "--office", "nord", department="Borgerservice Nord")
    listed = cli.json("list", "--office", "nord", "--now", NOW)
    assert [i["ref"] for i in listed] == [nord["ref"]]
    assert all("office" in i for i in cli.json("list", "--now", NOW))
    assert [i["ref"] for i in cli.json("list", "--office", "default", "--now", NOW)] == [top["ref"]]
    other = cli("show", top["ref"], "--office", "nord", "--now", NOW)
    assert other.returncode == 2 and other.stdout == ""
    assert cli.json("recompute", "--office", "nord", "--now", NOW)["moved"] == []


@pytest.mark.parametrize(
    "args",
    [
        ("add", "--channel", "phone", "--department", "Diverse"),
        ("list",),
        ("show", "2026-000001"),
        ("recompute",),
    ],
    ids=["add", "list", "show", "recompute"],
)
def test_an_unknown_office_is_exit_2_naming_the_known_offices(
    cli: Cli, args: tuple[str, ...]
) -> None:
    result = cli(*args, "--office", "vest", "--now", NOW)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: unknown office 'vest' (known offices: default, nord)"
    ]


def test_a_department_of_another_office_is_refused(cli: Cli) -> None:
    result = cli(
        "add", "--office", "nord", "--channel", "phone", "--department", "Diverse", "--now", NOW
    )
    assert result.returncode == 2
    assert "unknown department 'Diverse'" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_an_existing_register_upgrades_with_init_and_keeps_every_deadline(
    cli: Cli, database_url: str
) -> None:
    refs = [add(cli)["ref"], add(cli, "--department", "Teknik og Miljø")["ref"]]
    cli.ok("callback", refs[0], "--at", "2026-12-04T10:30", "--now", NOW)
    before = {v["ref"]: v for v in cli.json("list", "--state", "all", "--now", NOW)}
    with engine_for(database_url, init=False) as engine, engine.begin() as connection:
        config = schema.alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, "0011")
    assert cli("list", "--now", NOW).returncode != 0  # the schema is behind: init first
    cli.ok("init")
    after = {v["ref"]: v for v in cli.json("list", "--state", "all", "--now", NOW)}
    assert after == before
    assert {v["office"] for v in after.values()} == {"default"}
    assert cli.json("recompute", "--now", NOW)["moved"] == []


def test_due_and_calendar_take_the_office_s_calendar_and_rules(cli: Cli) -> None:
    args = ("due", "--rule", "callback", "--received", RECEIVED)
    assert cli.json(*args)["due_at"] == "2026-12-08T10:00:00+01:00"
    assert cli.json(*args, "--office", "nord")["due_at"] == "2027-01-04T10:00:00+01:00"
    closed = cli.json("calendar", "--year", "2026", "--office", "nord")
    top = cli.json("calendar", "--year", "2026")
    assert "2026-12-07" in str(closed) and "2026-12-07" not in str(top)
    unknown = cli(*args, "--office", "vest")
    assert unknown.returncode == 2 and "unknown office 'vest'" in unknown.stderr


def test_an_action_is_checked_against_its_own_office_s_rules(cli: Cli) -> None:
    # syd calls nobody back: a call-back is nothing to fulfil there, as at `add`
    syd = '\n[offices.syd]\ndepartments = ["Borgerservice Syd"]\n\n'
    syd += "[offices.syd.rules.callback]\nenabled = false\n"
    Path(cli.env["SVARFRIST_CONFIG"]).write_text(CONFIG + syd, encoding="utf-8")
    top, there = add(cli), add(cli, "--office", "syd", department="Borgerservice Syd")
    assert "callback" not in [o["rule"] for o in there["obligations"]]
    refused = cli("callback", there["ref"], "--at", NOW, "--now", NOW)
    assert refused.returncode == 2 and "nothing to fulfil" in refused.stderr
    assert [e["event"] for e in cli.json("show", there["ref"], "--now", NOW)["history"]] == [
        "created"
    ]
    cli.ok("callback", top["ref"], "--at", NOW, "--now", NOW)
