"""Inputs the register must refuse (exit 2, one ``error:`` line, nothing written): times in
the future or before 1900, a fulfilment the inquiry does not have, text that is not UTF-8
or holds NUL; and advisor addresses that differ only in case are one advisor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from register_support import (
    assert_refused,
    cli_env,
    context,
    dump,
    engine_for,
    session_on,
    settings_for,
    utc,
    write_config,
)

from tracker.errors import BadInputError
from tracker.store import register
from tracker.store.register import NewInquiry

NOW = "2026-11-28T10:00"
ADD = ("add", "--channel", "email", "--department", "Diverse", "--now", NOW)


def seed(database_url: str) -> None:
    """000001 e-mail, 000002 phone asking for a call-back, 000003 paused, all open; 000004
    closed at 12:00."""
    ctx = context(settings_for(database_url), now=utc("2026-11-27T12:00+01:00"))
    received = utc("2026-11-27T10:00+01:00")
    with engine_for(database_url) as engine, session_on(engine) as session:
        kinds = (("email", False), ("phone", True), ("email", False), ("email", False))
        for channel, callback in kinds:
            new = NewInquiry(
                channel=channel,
                department="Diverse",
                received_at=received,
                callback_requested=callback,
            )
            register.add(session, ctx, new)
        register.pause(session, ctx, "2026-000003", utc("2026-11-27T11:00+01:00"))
        register.close(session, ctx, "2026-000004", utc("2026-11-27T12:00+01:00"))


FUTURE = "2031-01-01T10:00"
BAD_INPUTS: list[tuple[str, tuple[str | bytes, ...], str]] = [
    ("add received in the future", (*ADD, "--received", "2030-01-01T10:00"), "in the future"),
    ("add received just past the skew", (*ADD, "--received", "2026-11-28T10:06"), "future"),
    ("add received before 1900", (*ADD, "--received", "1850-01-05T10:00"), "before 1900"),
    ("reply in the future", ("reply", "2026-000001", "--at", FUTURE, "--now", NOW), "future"),
    ("callback at the end of time", ("callback", "2026-000002", "--at", "9999-12-31T23:59:59",
                                     "--now", NOW), "outside the years the calendar supports"),
    # After 2100 the holiday data ends: no reminder could be planned on the Danish calendar.
    ("a tick at the end of time", ("tick", "--now", "9998-12-31T00:00"),
     "--now: 9998-12-31T00:00 is outside the years the calendar supports (1772-2099)"),
    ("a list after the holiday data", ("list", "--now", "2150-06-01T10:00"), "(1772-2099)"),
    ("pause in the future", ("pause", "2026-000001", "--at", FUTURE, "--now", NOW), "future"),
    # assign and reopen are recorded at --now: not before the receipt or closing they follow.
    ("assign before receipt", ("assign", "2026-000001", "--advisor", "x@y.dk", "--now",
                               "2026-11-26T10:00"),
     "2026-000001's receipt at 2026-11-27T10:00:00+01:00 is in the future"),
    ("reopen before the closing", ("reopen", "2026-000004", "--now", "2026-11-27T11:00"),
     "2026-000004's closing at 2026-11-27T12:00:00+01:00 is in the future"),
    ("resume in the future", ("resume", "2026-000003", "--at", FUTURE, "--now", NOW), "future"),
    ("close in the future", ("close", "2026-000001", "--at", FUTURE, "--now", NOW), "future"),
    ("callback nobody asked for", ("callback", "2026-000001", "--now", NOW),
     "did not ask for a call-back"),
    ("callback nobody asked for, at the end of time",
     ("callback", "2026-000001", "--at", "9999-12-31T23:59:59"), "outside the years"),
    ("reply to a phone call-back inquiry", ("reply", "2026-000002", "--now", NOW),
     "no obligation a reply fulfils"),
    ("non-UTF-8 note", (*ADD, "--note", b"caf\xe9"), "--note: not valid UTF-8"),
    ("non-UTF-8 advisor", (*ADD, "--advisor", b"anna\xff@x.dk"), "--advisor: not valid UTF-8"),
    ("non-UTF-8 department", ("add", "--channel", "email", "--department", b"Diverse\xff"),
     "--department: not valid UTF-8"),
    ("non-UTF-8 topic", (*ADD, "--topic", b"\xc3"), "--topic: not valid UTF-8"),
    ("non-UTF-8 ref to add", (*ADD, "--ref", b"R\xff1"), "--ref: not valid UTF-8"),
    ("non-UTF-8 actor", (*ADD, "--actor", b"j\xe6ns"), "--actor: not valid UTF-8"),
    ("non-UTF-8 --now", ("list", "--now", b"2026\xff"), "--now: not valid UTF-8"),
    *[
        (f"non-UTF-8 ref to {command}", (command, b"2026-\xff00001"), "ref: not valid UTF-8")
        for command in ("reply", "callback", "close", "pause", "resume", "show")
    ],
    ("non-UTF-8 list --advisor", ("list", "--advisor", b"\xffa@x.dk"), "--advisor: not valid"),
    ("non-UTF-8 --at", ("reply", "2026-000001", "--at", b"\xff"), "--at: not valid UTF-8"),
    # An empty time (a script's unset variable) is no time: not the clock, as it was.
    ("empty --at", ("reply", "2026-000001", "--at", "", "--now", NOW),
     "--at: '' is not an ISO 8601 time"),
    ("empty --received", (*ADD, "--received", ""), "--received: '' is not an ISO 8601 time"),
    # Empty, an option whose absence means something was taken as absent: the default
    # recipient, $USER, every advisor's inquiries.
    ("empty add --advisor", (*ADD, "--advisor", ""), "--advisor: empty"),
    ("blank --actor", (*ADD, "--actor", " "), "--actor: empty"),
    ("empty list --advisor", ("list", "--advisor", "", "--now", NOW), "--advisor: empty"),
    ("empty absence --substitute", ("absence", "add", "a@b.dk", "--from", "2026-11-30",
                                    "--to", "2026-12-01", "--substitute", "", "--now", NOW),
     "--substitute: empty"),
    ("empty --now", ("tick", "--now", ""), "--now: '' is not an ISO 8601 time"),
    ("empty report --from", ("report", "--from", "", "--now", NOW), "--from: '' is not a date"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "fragment"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_an_input_that_cannot_be_true_is_refused_and_nothing_is_written(
    run_cli: Any,
    database_url: str,
    tmp_path: Path,
    name: str,
    args: tuple[str | bytes, ...],
    fragment: str,
) -> None:
    seed(database_url)
    config = write_config(tmp_path / "svarfrist.toml")
    before = dump(database_url)
    result = run_cli(*args, env=cli_env(database_url, config))
    assert_refused(result, fragment=fragment)
    assert "\\x" not in result.stderr and "\\udc" not in result.stderr  # the bytes stay unshown
    assert dump(database_url) == before


def test_an_event_within_the_clock_skew_is_accepted_and_the_skew_is_configurable(
    run_cli: Any, database_url: str, tmp_path: Path
) -> None:
    seed(database_url)
    env = cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))
    ahead = run_cli("reply", "2026-000001", "--at", "2026-11-28T10:04", "--now", NOW, env=env)
    assert ahead.returncode == 0, ahead.stderr
    strict = cli_env(database_url, write_config(tmp_path / "s.toml", clock_skew_minutes=0))
    late = run_cli("close", "2026-000001", "--at", "2026-11-28T10:01", "--now", NOW, env=strict)
    assert_refused(late, fragment="clock_skew_minutes allows 0")
    received = run_cli(*ADD, "--received", "1900-01-01T10:00", env=env)
    assert received.returncode == 0, received.stderr
    assert received.stdout == "1900-000001\n"


def test_a_call_back_the_citizen_asked_for_and_a_reply_to_an_email_are_accepted(
    run_cli: Any, database_url: str, tmp_path: Path
) -> None:
    seed(database_url)
    env = cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))
    called = run_cli("callback", "2026-000002", "--now", NOW, env=env)
    assert called.returncode == 0, called.stderr
    replied = run_cli("reply", "2026-000001", "--now", NOW, env=env)
    assert replied.returncode == 0, replied.stderr
    shown = json.loads(run_cli("show", "2026-000002", "--json", "--now", NOW, env=env).stdout)
    assert [(o["rule"], o["state"]) for o in shown["obligations"]] == [("callback", "met_on_time")]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("note", "før\x00efter"),
        ("advisor", "anna\x00@x.dk"),
        ("ref", "R\x001"),
        ("department", "Diverse\x00"),
        ("topic", "Kontanthjælp\x00"),
    ],
)
def test_a_nul_byte_in_any_text_is_refused_on_every_backend(
    database_url: str, field: str, value: str
) -> None:
    """PostgreSQL cannot store NUL in text; SQLite must not either, or a register moved
    from one to the other breaks half-way."""
    seed(database_url)
    before = dump(database_url)
    ctx = context(settings_for(database_url), now=utc("2026-11-28T10:00+01:00"))
    fields: dict[str, Any] = {
        "channel": "email",
        "department": "Diverse",
        "received_at": utc("2026-11-28T09:00+01:00"),
    }
    new = NewInquiry(**(fields | {field: value}))
    with (
        pytest.raises(BadInputError, match=f"{field}: contains a NUL byte"),
        engine_for(database_url, init=False) as engine,
        session_on(engine) as session,
    ):
        register.add(session, ctx, new)
    assert dump(database_url) == before


def test_advisor_addresses_differing_only_in_case_are_one_advisor(
    run_cli: Any, database_url: str, tmp_path: Path
) -> None:
    env = cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))
    assert run_cli("init", env=env).returncode == 0
    for advisor in ("Anna@Fredericia.DK", " anna@fredericia.dk", "ANNA@FREDERICIA.DK"):
        added = run_cli(*ADD, "--advisor", advisor, env=env)
        assert added.returncode == 0, added.stderr
    run_cli(*ADD, "--advisor", "bo@fredericia.dk", env=env)
    for query in ("anna@fredericia.dk", "Anna@FREDERICIA.dk"):
        listed = run_cli("list", "--advisor", query, "--json", "--now", NOW, env=env)
        assert listed.returncode == 0, listed.stderr
        advisors = [item["advisor"] for item in json.loads(listed.stdout)]
        assert advisors == ["anna@fredericia.dk"] * 3


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--department", "diverse"), "did you mean 'Diverse'?"),
        (("--department", "Teknik og Miljo"), "did you mean 'Teknik og Miljø'?"),
        (("--department", "Diverse", "--topic", "Kontanthjaelp"), "did you mean 'Kontanthjælp'?"),
    ],
)
def test_an_unknown_department_or_topic_lists_the_valid_ones_and_the_nearest(
    run_cli: Any, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    url = f"sqlite:///{tmp_path / 'svarfrist.db'}"
    env = cli_env(url, write_config(tmp_path / "svarfrist.toml"))
    assert run_cli("init", env=env).returncode == 0
    before = dump(url)
    result = run_cli("add", "--channel", "email", *args, "--now", NOW, env=env)
    assert_refused(result, fragment=expected)
    assert "one of: " in result.stderr
    assert dump(url) == before


def test_an_unknown_department_far_from_every_valid_one_gets_no_guess(
    run_cli: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'svarfrist.db'}"
    env = cli_env(url, write_config(tmp_path / "svarfrist.toml"))
    assert run_cli("init", env=env).returncode == 0
    result = run_cli("add", "--channel", "email", "--department", "Zzzz", "--now", NOW, env=env)
    assert_refused(
        result,
        fragment="unknown department 'Zzzz' (one of: 'Diverse', 'Teknik og Miljø', 'Børn og Unge')",
    )
