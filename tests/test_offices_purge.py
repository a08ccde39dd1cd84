"""Retention per office, through the real console script on SQLite and PostgreSQL: each
municipality of a shared deployment keeps its closed inquiries' notes for its own
``retention_days``; ``purge --office`` erases one office's alone; an office no longer
configured keeps the top level's retention, so its notes are not kept for ever."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from register_support import cli_env, engine_for
from sqlalchemy import select

from tracker.store.models import Event

NOTE = "Borgeren hedder Jens; ring efter kl. 14"
BASE = """
default_recipient = "top@example.dk"
departments = ["Diverse"]
retention_days = 30
"""
OFFICES = """
[offices.nord]
departments = ["Borgerservice Nord"]
retention_days = 90

[offices.syd]
departments = ["Borgerservice Syd"]
"""
GONE = """
[offices.gammel]
departments = ["Gammel"]
"""
NOW = "2026-12-01T12:00"  # before the real clock: purge refuses a future --now
DEPARTMENT = {
    "default": "Diverse",
    "nord": "Borgerservice Nord",
    "syd": "Borgerservice Syd",
    "gammel": "Gammel",
}


class Cli:
    def __init__(self, run_cli: Any, database_url: str, tmp_path: Path) -> None:
        self.run_cli, self.database_url, self.config = run_cli, database_url, tmp_path / "s.toml"

    def configure(self, text: str) -> None:
        self.config.write_text(text, encoding="utf-8")

    def __call__(self, *args: str) -> Any:
        return self.run_cli(*args, env=cli_env(self.database_url, self.config))

    def ok(self, *args: str) -> Any:
        result = self(*args)
        assert result.returncode == 0, result.stderr
        return result

    def add_closed(self, office: str, closed: str) -> str:
        view = json.loads(
            self.ok(
                "add", "--channel", "email", "--office", office,
                "--department", DEPARTMENT[office], "--note", NOTE,
                "--received", "2026-06-01T10:00", "--now", "2026-06-01T10:00", "--json",
            ).stdout
        )  # fmt: skip
        ref = str(view["ref"])
        self.ok("close", ref, "--at", closed, "--now", NOW)
        return ref

    def note(self, ref: str) -> str | None:
        shown = json.loads(self.ok("show", ref, "--json", "--now", NOW).stdout)
        return shown["note"]  # type: ignore[no-any-return]


@pytest.fixture
def cli(run_cli: Any, database_url: str, tmp_path: Path) -> Cli:
    bound = Cli(run_cli, database_url, tmp_path)
    bound.configure(BASE + OFFICES)
    bound.ok("init")
    return bound


def test_each_office_keeps_notes_for_its_own_retention(cli: Cli) -> None:
    # closed 40 days before NOW: past the top level's 30 days, within nord's 90
    top, nord, syd = (cli.add_closed(o, "2026-10-22T10:00") for o in ("default", "nord", "syd"))
    old_nord = cli.add_closed("nord", "2026-08-01T10:00")  # 122 days: past nord's 90 too
    result = cli.ok("purge", "--now", NOW)
    assert "3 inquiries" in result.stdout
    assert "default 30 days, nord 90 days, syd 30 days" in result.stdout
    assert cli.note(nord) == NOTE
    assert cli.note(top) is None and cli.note(syd) is None and cli.note(old_nord) is None
    with engine_for(cli.database_url, init=False) as engine, engine.connect() as conn:
        events = [dict(r) for r in conn.execute(select(Event)).mappings()]
    [purged] = [e for e in events if e["kind"] == "purged"]
    details = purged["details"]
    assert details["count"] == 3 and details["closed_before"].startswith("2026-11-01")
    assert details["offices"]["nord"]["count"] == 1
    assert details["offices"]["nord"]["closed_before"].startswith("2026-09-02")
    assert NOTE not in json.dumps([list(map(str, e.values())) for e in events])


def test_purge_of_one_office_erases_its_notes_alone(cli: Cli) -> None:
    top, nord = (
        cli.add_closed("default", "2026-08-01T10:00"),
        cli.add_closed("nord", "2026-08-01T10:00"),
    )
    result = cli.ok("purge", "--office", "nord", "--now", NOW)
    assert "1 inquiries closed more than 90 days ago (office nord)" in result.stdout
    assert cli.note(nord) is None and cli.note(top) == NOTE
    refused = cli("purge", "--office", "vest", "--now", NOW)
    assert refused.returncode == 2 and refused.stderr.startswith("error:")
    assert cli.note(top) == NOTE


def test_an_office_no_longer_configured_keeps_the_top_level_s_retention(cli: Cli) -> None:
    cli.configure(BASE + OFFICES + GONE)
    gone = cli.add_closed("gammel", "2026-10-22T10:00")
    cli.configure(BASE + OFFICES)
    cli.ok("purge", "--now", NOW)
    cli.configure(BASE + OFFICES + GONE)  # to show it again
    assert cli.note(gone) is None
