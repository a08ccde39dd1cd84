"""An audit trail that cannot be forged, commands that cannot destroy, a terminal-safe show.

Through the real console script, on SQLite and PostgreSQL (the ``cli`` fixture).
"""

from __future__ import annotations

import json
import os
import pwd
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from register_support import assert_refused, cli_env, dump, utc, write_config
from test_register import Cli, cli, events, ok, show

from tracker.core.validate import local_time

__all__ = ["cli"]  # the fixture, imported for the tests below

OS_USER = pwd.getpwuid(os.getuid()).pw_name
# The run of one short command, with room for a slow machine: recorded_at lies inside it.
SLACK = timedelta(seconds=5)


def add(cli: Cli, *extra: str) -> str:
    base = ("add", "--channel", "email", "--department", "Diverse")
    return str(ok(cli(*base, *extra)).stdout.strip())


def test_a_back_dated_command_records_the_real_clock_and_the_os_user(cli: Cli) -> None:
    before = datetime.now(UTC)
    ref = add(cli, "--now", "2020-01-02T10:05", "--actor", "someone.else")
    after = datetime.now(UTC)
    [created] = events(cli)
    assert created["at"] == utc("2020-01-02T10:05+01:00")  # what the command said
    assert created["as_of"] == utc("2020-01-02T10:05+01:00")
    assert before - SLACK <= created["recorded_at"] <= after + SLACK  # what really happened
    assert created["actor"] == "someone.else"
    assert created["os_user"] == OS_USER  # the password database's name, not $USER=tester
    text = ok(cli("show", ref)).stdout
    [line] = [x for x in text.splitlines() if x.startswith("history:")]
    assert "2020-01-02T10:05:00+01:00  created" in line
    assert f"by someone.else (os user {OS_USER})" in line
    assert line.endswith(f"recorded {local_time(created['recorded_at'])}")
    [entry] = json.loads(ok(cli("show", ref, "--json")).stdout)["history"]
    assert entry["event"] == "created"
    assert entry["as_of"] == "2020-01-02T10:05:00+01:00"
    assert entry["os_user"] == OS_USER and entry["actor"] == "someone.else"


def test_the_history_in_show_never_holds_the_note(cli: Cli) -> None:
    ref = add(cli, "--received", "2026-11-02T10:00", "--note", "hemmelig borger")
    ok(cli("reply", ref, "--at", "2026-11-02T11:00"))
    ok(cli("assign", ref, "--advisor", "bo@fredericia.dk"))
    ok(cli("undo", ref))
    text = ok(cli("show", ref)).stdout
    history = [x for x in text.splitlines() if x.startswith("history:")]
    assert [h.split()[2] for h in history] == ["created", "replied", "assigned", "undone:"]
    assert all("hemmelig" not in h for h in history)
    trail = json.loads(ok(cli("show", ref, "--json")).stdout)["history"]
    assert "hemmelig" not in json.dumps(trail)


def test_purge_refuses_a_now_in_the_future_and_erases_nothing(cli: Cli) -> None:
    ref = add(cli, "--received", "2026-09-01T10:00", "--note", "lige lukket")
    ok(cli("close", ref, "--at", "2026-09-01T10:05"))
    before = dump(cli.url)
    refused = cli("purge", "--now", "2099-01-01T00:00")
    assert_refused(refused, fragment="later than the real clock")
    assert dump(cli.url) == before
    assert show(cli, ref)["note"] == "lige lukket"
    # A clock a minute ahead of this one is within the skew: purge runs.
    ahead = (datetime.now(UTC) + timedelta(minutes=1)).isoformat(timespec="seconds")
    ok(cli("purge", "--now", ahead))
    assert show(cli, ref)["note"] is None


def test_show_escapes_control_characters_of_a_note(cli: Cli) -> None:
    note = "ok\x1b]0;pwned\x07\x1b[2J\rstatus:      closed\u202eevil"
    ref = add(cli, "--note", note)
    text = ok(cli("show", ref)).stdout
    assert not any(c in text for c in "\x1b\x07\r\u202e")
    [line] = [x for x in text.splitlines() if x.startswith("note:")]
    assert line == r"note:        ok\x1b]0;pwned\x07\x1b[2J\rstatus:      closed\u202eevil"
    assert [x for x in text.splitlines() if x.startswith("status:")] == ["status:      open"]
    assert show(cli, ref)["note"] == note  # JSON keeps the text, escaped by JSON itself


@pytest.fixture
def lite(run_cli: Any, tmp_path: Path) -> Cli:
    """A SQLite register in the directory the CLI runs in (svarfrist.db)."""
    url = f"sqlite:///{tmp_path / 'svarfrist.db'}"
    bound = Cli(run_cli, cli_env(url, write_config(tmp_path / "svarfrist.toml")), url)
    ok(bound("init"))
    add(bound, "--received", "2026-11-02T10:00")
    return bound


@pytest.mark.parametrize(
    "target", ["svarfrist.db", "svarfrist.db-wal", "svarfrist.db-shm", "svarfrist.db-journal"]
)
def test_report_output_refuses_the_database_s_own_files(
    lite: Cli, tmp_path: Path, target: str
) -> None:
    database = (tmp_path / "svarfrist.db").read_bytes()
    refused = lite("report", "--format", "csv", "--output", target, "--now", "2026-11-30T12:00")
    assert_refused(refused, fragment="a file of the database itself")
    assert (tmp_path / "svarfrist.db").read_bytes() == database
    assert not (tmp_path / "svarfrist.db-journal").exists()
    assert show(lite, "2026-000001")["ref"] == "2026-000001"


def test_report_output_refuses_a_symlink_to_the_database(lite: Cli, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "report.csv").symlink_to(tmp_path / "svarfrist.db")
    refused = lite("report", "--format", "csv", "--output", "elsewhere/report.csv")
    assert_refused(refused, fragment="a file of the database itself")
    assert show(lite, "2026-000001")["ref"] == "2026-000001"
    ok(lite("report", "--format", "csv", "--output", "report.csv", "--now", "2026-11-30T12:00"))
    assert (tmp_path / "report.csv").read_text(encoding="utf-8-sig").strip()


@pytest.mark.parametrize("target", ["elsewhere", "elsewhere/"])
def test_report_output_refuses_a_directory_and_leaves_nothing_behind(
    lite: Cli, tmp_path: Path, target: str
) -> None:
    # A directory is bad input (exit 2, one error line), not a failure of the environment,
    # and no temporary file of the refused report stays beside it.
    (tmp_path / "elsewhere").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    refused = lite("report", "--format", "csv", "--output", target, "--now", "2026-11-30T12:00")
    assert_refused(refused, fragment="is a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert list((tmp_path / "elsewhere").iterdir()) == []
