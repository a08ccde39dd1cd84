"""``svarfrist list`` for people: a header, aligned columns, the earliest next deadline first,
states in words, ``--department``, a line when empty; and ``--help`` that explains every
option and lists every value."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from register_support import (
    assert_refused,
    cli_env,
    context,
    engine_for,
    session_on,
    settings_for,
    utc,
    write_config,
)

from tracker.cli import COMMANDS
from tracker.sla import Channel
from tracker.store import register
from tracker.store.register import NewInquiry

NOW = "2026-11-30T11:00"


def seed(database_url: str) -> None:
    """000001 Diverse received first but due last; 000002 Teknik overdue; 000003 closed."""
    ctx = context(settings_for(database_url), now=utc("2026-11-30T11:00+01:00"))
    rows = [
        ("phone", True, "Diverse", "2026-11-26T12:00+01:00"),  # call-back: 48 h
        ("email", False, "Teknik og Miljø", "2026-11-27T10:00+01:00"),  # reply: 24 h
        ("email", False, "Diverse", "2026-11-27T11:00+01:00"),
    ]
    with engine_for(database_url) as engine, session_on(engine) as session:
        for channel, callback, department, received in rows:
            new = NewInquiry(
                channel=channel,
                department=department,
                received_at=utc(received),
                callback_requested=callback,
                note="Borgeren hedder Jens",
            )
            register.add(session, ctx, new)
        register.close(session, ctx, "2026-000003", utc("2026-11-27T12:00+01:00"))


def test_list_prints_a_header_and_aligned_columns_earliest_deadline_first(
    run_cli: Any, database_url: str, tmp_path: Path
) -> None:
    seed(database_url)
    env = cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))
    result = run_cli("list", "--state", "all", "--now", NOW, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == [
        "Ref.", "Modtaget", "Kanal", "Afdeling", "Status", "Næste frist", "Frister",
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == ["2026-000002", "2026-000001", "2026-000003"]
    for name in ("Modtaget", "Kanal", "Afdeling", "Status", "Næste frist", "Frister"):
        column = lines[0].index(name)  # aligned: each column starts where its header does
        for line in lines[1:]:
            assert line[column - 2 : column] == "  " and line[column] != " ", (name, line)
    assert "kvittering: overskredet" in lines[1] and "overskredet" not in lines[2]
    assert "opringning: snart" in lines[2]
    assert "lukket" in lines[3] and "opfyldt til tiden" in lines[3]
    assert "Jens" not in result.stdout  # never the note


def test_list_filters_by_department_and_says_so_when_nothing_matches(
    run_cli: Any, database_url: str, tmp_path: Path
) -> None:
    seed(database_url)
    env = cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))
    teknik = run_cli("list", "--department", "Teknik og Miljø", "--now", NOW, env=env)
    assert teknik.returncode == 0, teknik.stderr
    assert [line.split()[0] for line in teknik.stdout.splitlines()[1:]] == ["2026-000002"]
    empty = run_cli("list", "--department", "Børn og Unge", "--now", NOW, env=env)
    assert empty.stdout == "ingen henvendelser\n"
    english = cli_env(
        database_url, write_config(tmp_path / "en.toml", reminders={"language": "en"})
    )
    none = run_cli(
        "list", "--state", "overdue", "--department", "Diverse", "--now", NOW, env=english
    )
    assert none.stdout == "no inquiries\n"
    words = run_cli("list", "--now", NOW, env=english).stdout.splitlines()
    assert words[0].startswith("Ref  ") and "Next deadline" in words[0]
    assert "reply: overdue" in words[1]
    typo = run_cli("list", "--department", "diverse", env=env)
    assert_refused(typo, fragment="did you mean 'Diverse'?")


def test_list_json_keeps_its_shape_and_received_order(
    run_cli: Any, database_url: str, tmp_path: Path
) -> None:
    seed(database_url)
    env = cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))
    items = json.loads(run_cli("list", "--state", "all", "--json", "--now", NOW, env=env).stdout)
    assert [i["ref"] for i in items] == ["2026-000001", "2026-000002", "2026-000003"]
    assert set(items[0]) == {
        "ref", "channel", "office", "department", "topic", "advisor", "callback_requested",
        "received_at", "status", "closed_at", "replied_at", "called_back_at", "obligations",
    }  # fmt: skip
    filtered = run_cli("list", "--json", "--department", "Diverse", "--now", NOW, env=env)
    assert [i["ref"] for i in json.loads(filtered.stdout)] == ["2026-000001"]


COMMAND_NAMES = [name for names in COMMANDS.values() for name in names]


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_help_explains_every_option_and_lists_every_value(run_cli: Any, command: str) -> None:
    args = (command, "show", "--help") if command == "config" else (command, "--help")
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    options = text.split("options:", 1)[1]
    # every option line is followed by words: "--json print JSON ...", never a bare flag
    for flag in re.findall(r"(--[a-z-]+)(?: [A-Z_]+| \{[^}]*\})?(?=,| --| -h|$)", options):
        pytest.fail(f"{command} {flag} has no help")
    for choices in re.findall(r"\{([^}]*)\}", options):
        for value in choices.split(","):
            assert text.count(value) >= 2, f"{command}: {value} not explained in {text}"


def test_add_help_lists_every_channel(run_cli: Any) -> None:
    text = " ".join(run_cli("add", "--help").stdout.split())
    for channel in Channel:
        assert channel.value in text
