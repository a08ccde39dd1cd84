"""[offices.<key>]: each office inherits the top level's keys it does not set (tracker.config
.offices), the top level is the office ``default``, and a bad office fails at load."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tracker.config import (
    DEFAULT_OFFICE,
    Settings,
    build_offices,
    load_settings,
    office_settings,
    resolve_office,
)
from tracker.config.offices import escalation_address
from tracker.errors import BadInputError, ConfigError

TWO_OFFICES = """
default_recipient = "top@example.dk"
departments = ["Borgerservice", "Teknik og Miljø"]

[reminders]
escalation_to = "leder@example.dk"
escalation_after_hours = 8

[offices.nord]
default_recipient = "nord@example.dk"
departments = ["Borgerservice Nord"]

[offices.nord.calendar]
closed_dates = [2026-12-28]

[offices.nord.reminders]
escalation_to = { "Borgerservice Nord" = "nord-leder@example.dk" }

[offices.syd.rules.reply]
hours = 48
"""


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A process environment without SVARFRIST_* variables or systemd credentials."""
    for var in list(os.environ):
        if var.startswith("SVARFRIST_") or var == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    yield monkeypatch


def load(tmp_path: Path, env: pytest.MonkeyPatch, text: str) -> Settings:
    path = tmp_path / "svarfrist.toml"
    path.write_text(text, encoding="utf-8")
    env.setenv("SVARFRIST_CONFIG", str(path))
    return load_settings()


def test_without_offices_the_top_level_is_the_one_office_default() -> None:
    settings = Settings()
    offices = build_offices(settings)
    assert list(offices) == [DEFAULT_OFFICE]
    assert offices[DEFAULT_OFFICE].settings is settings


def test_an_office_inherits_every_key_it_does_not_set(
    tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    settings = load(tmp_path, env, TWO_OFFICES)
    offices = build_offices(settings)
    assert list(offices) == ["default", "nord", "syd"]
    nord, syd = offices["nord"].settings, offices["syd"].settings
    assert nord.default_recipient == "nord@example.dk"
    assert nord.departments == ["Borgerservice Nord"]
    assert nord.calendar.closed_dates == [date(2026, 12, 28)]
    assert nord.calendar.extra_closed_days == ["06-05", "12-24", "12-31"]  # merged, not reset
    assert nord.reminders.digest_time == settings.reminders.digest_time
    assert syd.default_recipient == "top@example.dk"
    assert syd.departments == ["Borgerservice", "Teknik og Miljø"]
    assert offices["syd"].rules["reply"].hours == 48
    assert offices["syd"].rules["reply"].schedule == offices["default"].rules["reply"].schedule
    assert offices["default"].rules["reply"].hours != 48


def test_escalation_goes_to_the_department_s_address_or_the_one_address(
    tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    settings = load(tmp_path, env, TWO_OFFICES)
    nord = office_settings(settings, "nord").reminders
    assert escalation_address(nord, "Borgerservice Nord") == "nord-leder@example.dk"
    assert escalation_address(nord, "Andet") is None
    top = office_settings(settings, "syd").reminders
    assert escalation_address(top, "Borgerservice") == "leder@example.dk"


def test_an_office_may_set_half_of_its_escalation_and_inherit_the_other_half(
    tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    """The check that refuses half an escalation looks at each office as it applies: nord's
    own table with the top level's hours is whole, and so is an empty table, which turns
    the inherited escalation off for that office."""
    text = TWO_OFFICES + "\n[offices.syd.reminders]\nescalation_to = {}\n"
    settings = load(tmp_path, env, text)
    assert office_settings(settings, "nord").reminders.escalation_after_hours == 8
    assert escalation_address(office_settings(settings, "syd").reminders, "Borgerservice") is None
    without_hours = TWO_OFFICES.replace("escalation_after_hours = 8\n", "")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, env, without_hours)
    assert caught.value.key == "reminders.escalation_after_hours"


def test_default_office_keys_override_the_top_level_for_default_alone(
    tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    settings = load(
        tmp_path, env, TWO_OFFICES + '\n[offices.default]\ndefault_recipient = "d@example.dk"\n'
    )
    offices = build_offices(settings)
    assert list(offices) == ["default", "nord", "syd"]
    assert offices["default"].settings.default_recipient == "d@example.dk"
    assert offices["syd"].settings.default_recipient == "top@example.dk"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param('[offices.nord]\nopening = "x"\n', "offices.nord.opening", id="unknown-key"),
        pytest.param('[offices."Nord Kontor"]\n', "offices.Nord Kontor", id="bad-office-key"),
        pytest.param(
            '[offices.nord]\ndefault_recipient = "a@x.dk, b@x.dk"\n',
            "offices.nord.default_recipient",
            id="two-addresses",
        ),
        pytest.param(
            '[offices.nord.reminders]\nescalation_to = { "Ukendt" = "a@x.dk" }\n',
            "offices.nord.reminders.escalation_to.Ukendt",
            id="escalation-department",
        ),
        pytest.param(
            '[offices.nord.rules.reply]\nschedule = "nope"\n',
            "offices.nord.rules.reply.schedule",
            id="unknown-schedule",
        ),
        pytest.param(
            '[offices.nord.calendar]\nextra_closed_days = ["13-40"]\n',
            "offices.nord.calendar.extra_closed_days",
            id="bad-day",
        ),
        pytest.param("[offices.nord]\ndepartments = []\n", "offices.nord.departments", id="none"),
    ],
)
def test_a_bad_office_fails_at_load_naming_its_key(
    tmp_path: Path, env: pytest.MonkeyPatch, text: str, key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, env, text)
    assert caught.value.key == key


def test_an_unknown_office_key_names_the_known_offices(
    tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    settings = load(tmp_path, env, TWO_OFFICES)
    assert resolve_office(settings, None) == "default"
    assert resolve_office(settings, "nord") == "nord"
    with pytest.raises(BadInputError, match=r"unknown office 'vest' .*default, nord, syd"):
        resolve_office(settings, "vest")


def test_config_show_shows_each_office_as_it_applies(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "svarfrist.toml"
    path.write_text(TWO_OFFICES, encoding="utf-8")
    result = run_cli("config", "show", "--json", env={"SVARFRIST_CONFIG": str(path)})
    assert result.returncode == 0, result.stderr
    offices = json.loads(result.stdout)["offices"]
    assert sorted(offices) == ["nord", "syd"]
    assert offices["nord"]["default_recipient"] == "nord@example.dk"
    assert offices["syd"]["default_recipient"] == "top@example.dk"  # inherited
    assert offices["syd"]["rules"]["reply"]["hours"] == 48
