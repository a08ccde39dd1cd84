"""Settings: defaults, environment over TOML, contract names, credentials and bad files."""

from __future__ import annotations

import json
import os
import re
import types
import typing
from collections.abc import Iterator
from datetime import date, time
from pathlib import Path

import pytest
from pydantic import BaseModel

from tracker.config import (
    SYSTEM_CONFIG,
    OfficeSettings,
    Settings,
    build_calendar,
    build_rules,
    load_settings,
    unknown_variables,
)
from tracker.errors import ConfigError

EXAMPLE = Path(__file__).parents[1] / "config" / "svarfrist.example.toml"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A process environment without SVARFRIST_* variables or systemd credentials."""
    for var in list(os.environ):
        if var.startswith("SVARFRIST_") or var == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    yield monkeypatch


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- defaults and sources ---------------------------------------------------------------------
def test_without_file_or_environment_the_defaults_of_the_contract_apply(
    env: pytest.MonkeyPatch,
) -> None:
    if SYSTEM_CONFIG.exists():
        pytest.skip(f"{SYSTEM_CONFIG} exists on this machine")
    s = load_settings()
    assert s.database_url == "sqlite:///svarfrist.db"
    assert (s.smtp.host, s.smtp.port, s.smtp.security) == ("localhost", 25, "starttls")
    assert s.smtp.username is None
    assert s.smtp.password is None
    assert s.mail_from == "svarfrist@localhost"
    assert s.default_recipient is None
    assert s.note_max_length == 4000
    assert s.retention_days == 30
    assert s.calendar.extra_closed_days == ["06-05", "12-24", "12-31"]
    assert "Teknik og Miljø" in s.departments
    rules = build_rules(s)
    assert (rules["reply"].hours, rules["reply"].schedule, rules["reply"].warn_before) == (
        24,
        "working_days",
        4,
    )
    assert (rules["callback"].hours, rules["callback"].warn_before) == (48, 8)
    assert rules["answer"].requires_promise
    assert (rules["answer"].hours, rules["answer"].schedule) == (240, "working_days")


def test_the_environment_wins_over_the_toml_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = write(tmp_path / "s.toml", '[smtp]\nhost = "from-toml"\nport = 2525\n')
    env.setenv("SVARFRIST_CONFIG", str(toml))
    assert (load_settings().smtp.host, load_settings().smtp.port) == ("from-toml", 2525)
    env.setenv("SVARFRIST_SMTP_HOST", "from-env")
    assert (load_settings().smtp.host, load_settings().smtp.port) == ("from-env", 2525)


@pytest.mark.parametrize(
    "form", ["SVARFRIST_SMTP_{}", "SVARFRIST_SMTP__{}"], ids=["flat", "nested"]
)
def test_the_smtp_settings_work_under_the_flat_contract_names_and_the_nested_form(
    env: pytest.MonkeyPatch, form: str
) -> None:
    values = {
        "HOST": "mail.example.dk",
        "PORT": "587",
        "SECURITY": "tls",
        "USERNAME": "svarfrist",
        "PASSWORD": "hemmeligt",
    }
    for key, value in values.items():
        env.setenv(form.format(key), value)
    smtp = load_settings().smtp
    assert (smtp.host, smtp.port, smtp.security, smtp.username) == (
        "mail.example.dk",
        587,
        "tls",
        "svarfrist",
    )
    assert smtp.password is not None
    assert smtp.password.get_secret_value() == "hemmeligt"
    assert "hemmeligt" not in repr(smtp)


def test_the_smtp_password_may_come_from_a_systemd_credential(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    write(creds / "smtp__password", "fra-systemd\n")
    env.setenv("CREDENTIALS_DIRECTORY", str(creds))
    password = load_settings().smtp.password
    assert password is not None
    assert password.get_secret_value() == "fra-systemd"
    env.setenv("SVARFRIST_SMTP_PASSWORD", "fra-miljoet")
    password = load_settings().smtp.password
    assert password is not None
    assert password.get_secret_value() == "fra-miljoet"


def test_unknown_variables_lists_what_names_no_setting_but_exempts_the_test_suite() -> None:
    environ = {
        "SVARFRIST_SMTP_HOST": "x",
        "SVARFRIST_SMTP__PORT": "1",
        "SVARFRIST_DATABASE_URL": "sqlite://",
        "SVARFRIST_CONFIG": "/x",
        "SVARFRIST_TEST_POSTGRES_URL": "x",
        "SVARFRIST_DATABSE_URL": "typo",
        "SVARFRIST_SMTP_HOSTNAME": "typo",
        "PATH": "/bin",
    }
    assert unknown_variables(environ) == ["SVARFRIST_DATABSE_URL", "SVARFRIST_SMTP_HOSTNAME"]


def test_an_unknown_svarfrist_variable_gets_a_warning_on_stderr(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(
        "calendar", "--year", "2026", env={"SVARFRIST_DATABSE_URL": "x", "SVARFRIST_TEST_X": "1"}
    )
    assert result.returncode == 0
    assert "SVARFRIST_DATABSE_URL" in result.stderr
    assert "SVARFRIST_TEST_X" not in result.stderr


def test_svarfrist_test_variables_are_exempt_from_the_warning(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("calendar", "--year", "2026", env={"SVARFRIST_TEST_ANYTHING": "1"})
    assert result.returncode == 0
    assert result.stderr == ""


# -- bad configuration: exit 2, one line naming the key ---------------------------------------
@pytest.mark.parametrize(
    ("toml", "key"),
    [
        pytest.param('[smtp]\nport = "many"\n', "smtp.port", id="bad type"),
        pytest.param("[smtp]\nport = 70000\n", "smtp.port", id="out of range"),
        pytest.param('[smtp]\nhostname = "x"\n', "smtp.hostname", id="unknown key in a section"),
        pytest.param("retention = 3\n", "retention", id="unknown top-level key"),
        pytest.param("note_max_length = \n", "bad.toml", id="bad toml"),
        pytest.param('[rules.reply]\nschedule = "nope"\n', "rules.reply.schedule", id="schedule"),
        pytest.param('[rules.new]\nschedule = "working_days"\n', "rules.new.hours", id="no hours"),
        pytest.param('[schedules.x]\nmonday = ["9-17"]\n', "schedules.x", id="bad interval"),
        pytest.param('[calendar]\nextra_closed_days = ["13-01"]\n', "calendar.extra", id="md"),
        pytest.param('[calendar.half_days]\n"2026-13-01" = 12:00:00\n', "half_days", id="half"),
        # was taken, and every delivery then retried forever as "cannot connect to ...:
        # [Errno 2] No such file or directory"
        pytest.param('[smtp]\nca_file = "/nonexistent/ca.pem"\n', "smtp.ca_file", id="no ca"),
    ],
)
def test_a_bad_config_file_fails_with_exit_2_and_one_line_naming_the_key(
    run_cli, tmp_path: Path, toml: str, key: str
) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path / "bad.toml", toml)
    result = run_cli(
        "due",
        "--rule",
        "reply",
        "--received",
        "2026-11-27T15:00",
        env={"SVARFRIST_CONFIG": str(path)},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: config:")
    assert key in lines[0]
    assert "Traceback" not in result.stderr


def test_a_missing_config_file_is_named(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("calendar", env={"SVARFRIST_CONFIG": str(tmp_path / "nope.toml")})
    assert result.returncode == 2
    assert result.stderr.startswith("error: config: SVARFRIST_CONFIG")
    assert len(result.stderr.splitlines()) == 1


def test_a_config_file_that_cannot_be_read_is_exit_2_naming_it(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A folder given for the file was 'no such file'; an unreadable file (the service's
    user may not read /etc/svarfrist/svarfrist.toml) was exit 1 with 'PermissionError'."""
    result = run_cli("calendar", env={"SVARFRIST_CONFIG": str(tmp_path)})
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"error: config: {tmp_path}: cannot read: Is a directory\n"


def test_an_unreadable_config_file_is_a_config_error_naming_it(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = write(tmp_path / "s.toml", 'mail_from = "a@b.dk"\n')
    env.setenv("SVARFRIST_CONFIG", str(path))

    def refuse(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    env.setattr(Path, "read_text", refuse)
    with pytest.raises(ConfigError, match=rf"^config: {re.escape(str(path))}: cannot read: Perm"):
        load_settings()


def test_a_bad_environment_value_names_the_variable_key(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("calendar", env={"SVARFRIST_SMTP_PORT": "many"})
    assert result.returncode == 2
    assert result.stderr.startswith("error: config: smtp.port")


# -- schedules, rules and the calendar from TOML ----------------------------------------------
CUSTOM = """
[calendar]
closed_dates = [2026-11-30]
half_days = { "2026-12-01" = 12:00:00 }

[schedules.evening]
monday = ["16:00-20:00"]
tuesday = ["16:00-20:00"]
wednesday = ["16:00-20:00"]
thursday = ["16:00-20:00"]
friday = ["16:00-20:00"]

[rules.late]
hours = 6
schedule = "evening"
warn_before = 1
"""


def test_a_schedule_and_rule_from_toml_are_used_by_svarfrist_due(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path / "custom.toml", CUSTOM)
    result = run_cli(
        "due",
        "--rule",
        "late",
        "--received",
        "2026-11-27T15:00",
        "--json",
        env={"SVARFRIST_CONFIG": str(path)},
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    # Fri 16-20 (4 h); Mon 30 Nov closed; Tue 1 Dec a half day closing 12:00 (no evening);
    # Wed 16-18 gives the last 2 h; the warning comes an hour earlier.
    assert doc == {
        "rule": "late",
        "schedule": "evening",
        "hours": 6,
        "received_at": "2026-11-27T15:00:00+01:00",
        "warn_at": "2026-12-02T17:00:00+01:00",
        "due_at": "2026-12-02T18:00:00+01:00",
    }


def test_a_rule_override_from_toml_keeps_the_other_built_in_values(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = "[rules.answer]\nrequires_promise = false\n[rules.reply]\nhours = 8\n"
    path = write(tmp_path / "o.toml", text)
    env.setenv("SVARFRIST_CONFIG", str(path))
    rules = build_rules(load_settings())
    assert not rules["answer"].requires_promise
    assert (rules["answer"].hours, rules["answer"].schedule) == (240, "working_days")
    assert (rules["reply"].hours, rules["reply"].warn_before) == (8, 4)


def test_the_calendar_from_toml_knows_closed_half_and_opened_dates(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "c.toml",
        '[calendar]\nopened_dates = [2026-12-24]\nhalf_days = { "12-23" = 12:00:00 }\n',
    )
    env.setenv("SVARFRIST_CONFIG", str(path))
    cal = build_calendar(load_settings())
    days = {c.day: c for c in cal.closed_days(2026)}
    assert date(2026, 12, 24) not in days
    assert days[date(2026, 12, 23)].closes_at == time(12)


# -- the example file -------------------------------------------------------------------------
def test_loading_the_example_file_gives_exactly_the_defaults(env: pytest.MonkeyPatch) -> None:
    env.setenv("SVARFRIST_CONFIG", str(EXAMPLE))
    assert load_settings().model_dump() == Settings().model_dump()


def documented_keys() -> set[tuple[tuple[str, ...], str]]:
    """(section, key) of every line ``key = ...`` of the example, commented out or not; a
    section as its dotted parts (``[web.oidc.groups."id"]``: web, oidc, groups, "id")."""
    found: set[tuple[tuple[str, ...], str]] = set()
    section: tuple[str, ...] = ()
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        header = re.match(r"^#?\s*\[([^\]]+)\]\s*$", line)
        if header:
            section = tuple(re.findall(r'"[^"]*"|[^.]+', header.group(1).strip()))
            continue
        key = re.match(r"^#?\s*([a-z0-9_]+)\s*=", line)
        if key:
            found.add((section, key.group(1)))
    return found


def model_of(annotation: object) -> tuple[type[BaseModel] | None, bool]:
    """The settings model a field holds, and whether it is a dict of them (named sections)."""
    optional = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(optional) == 1:
        annotation = optional[0]  # an optional section ([intake]): its keys are documented
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if typing.get_origin(annotation) is dict:
        value = typing.get_args(annotation)[1]
        if isinstance(value, type) and issubclass(value, BaseModel):
            return value, True
    return None, False


def undocumented(
    model: type[BaseModel], section: tuple[str, ...], documented: set[tuple[tuple[str, ...], str]]
) -> list[str]:
    """The keys of ``model`` (a section, ``*`` for any name of a named one) with no line."""
    missing = []
    for name, field in model.model_fields.items():
        sub, named = model_of(field.annotation)
        if sub is not None:
            missing += undocumented(sub, (*section, name, *("*" * named)), documented)
            continue
        if not any(
            key == name
            and len(where) == len(section)
            and all(want in ("*", part) for want, part in zip(section, where, strict=True))
            for where, key in documented
        ):
            missing.append(".".join((*section, name)))
    return missing


def test_every_setting_is_documented_in_the_example_file() -> None:
    # An office's keys are top-level keys (the next test), documented there.
    missing = [
        key
        for key in undocumented(Settings, (), documented_keys())
        if not key.startswith("offices.")
    ]
    assert missing == [], "add these settings to config/svarfrist.example.toml"


def test_an_office_has_only_top_level_keys_of_the_same_type() -> None:
    for name, field in OfficeSettings.model_fields.items():
        assert name in Settings.model_fields, name
        optional = [a for a in typing.get_args(field.annotation) if a is not type(None)]
        top = Settings.model_fields[name].annotation
        assert optional in ([top], [a for a in typing.get_args(top) if a is not type(None)]), name


# -- values pydantic's types cannot check: addresses, refs, schedules, bounds, URLs ----------
@pytest.mark.parametrize(
    ("toml", "key"),
    [
        pytest.param('mail_from = "a@example.dk\\r\\nBcc: x@evil.dk"\n', "mail_from", id="crlf"),
        pytest.param(
            'mail_from = "Kommune\\r\\nBcc: x@evil.dk <a@example.dk>"\n',
            "mail_from",
            id="crlf-name",
        ),
        pytest.param('mail_from = "Kommune <a@b.dk, c@d.dk>"\n', "mail_from", id="named-list"),
        pytest.param(
            'default_recipient = "def@example.dk\\r\\nBcc: x@evil.dk"\n',
            "default_recipient",
            id="crlf-recipient",
        ),
        pytest.param('default_recipient = "a@b.dk, c@d.dk"\n', "default_recipient", id="two"),
        pytest.param(
            '[reminders]\nescalation_to = "Leder <leder@x.dk>"\n',
            "reminders.escalation_to",
            id="display-name",
        ),
        pytest.param(
            '[reports]\nmanagement_recipients = ["ok@x.dk", "nope"]\n',
            "reports.management_recipients[1]",
            id="list-item",
        ),
        pytest.param('ref_prefix = "<script>"\n', "ref_prefix", id="ref-prefix-markup"),
        pytest.param('ref_prefix = "A\\r\\nB"\n', "ref_prefix", id="ref-prefix-crlf"),
        pytest.param(
            '[reminders]\nwindow_schedule = "nope"\n',
            "reminders.window_schedule",
            id="unknown-window",
        ),
        pytest.param("[rules.reply]\nhours = 100000000\n", "rules.reply.hours", id="huge-hours"),
        pytest.param("[rules.reply]\nwarn_before = 1e9\n", "rules.reply.warn_before", id="warn"),
        pytest.param("clock_skew_minutes = -1\n", "clock_skew_minutes", id="negative-skew"),
        # A blank department was stored as an inquiry's; none at all left nothing to register.
        pytest.param("departments = []\n", "departments", id="no-department"),
        pytest.param('departments = ["Diverse", " "]\n', "departments[1]", id="blank-department"),
        pytest.param('departments = ["A", "A"]\n', "departments[1]", id="department-twice"),
        pytest.param('topics = [""]\n', "topics[0]", id="empty-topic"),
        pytest.param('topics = ["A\\u0000"]\n', "topics[0]", id="nul-topic"),
        # Half an escalation was taken silently, and nothing was ever escalated.
        pytest.param(
            "[reminders]\nescalation_after_hours = 8\n",
            "reminders.escalation_to",
            id="escalation-hours-without-address",
        ),
        pytest.param(
            '[reminders]\nescalation_to = "leder@x.dk"\n',
            "reminders.escalation_after_hours",
            id="escalation-address-without-hours",
        ),
        pytest.param(
            '[reminders]\nescalation_to = { "Diverse" = "leder@x.dk" }\n',
            "reminders.escalation_after_hours",
            id="escalation-table-without-hours",
        ),
        pytest.param(
            "[offices.nord.reminders]\nescalation_after_hours = 8\n",
            "offices.nord.reminders.escalation_to",
            id="office-escalation-hours-without-address",
        ),
        # A CA file with security "none": the mail went in plain text while the office
        # believed the server's certificate was checked against its CA.
        pytest.param(
            '[smtp]\nsecurity = "none"\nca_file = "/dev/null"\n', "smtp.ca_file", id="ca-no-tls"
        ),
    ],
)
def test_a_setting_that_would_misdeliver_or_crash_later_is_refused_at_load(
    run_cli, tmp_path: Path, toml: str, key: str
) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path / "bad.toml", toml)
    result = run_cli("calendar", "--year", "2026", env={"SVARFRIST_CONFIG": str(path)})
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: config: {key}: "), lines[0]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg//user:SuperSecretPW@db.example.dk/svarfrist",
        "postgresql+psycopg://user:SuperSecretPW@db.example.dk:notaport/svarfrist",
        "postgresql+psycopg://user:SuperSecretPW@db.example.dk:99999/svarfrist",
        # an '@' in the password not written %40: the rest of the password became the host,
        # shown in config show and in every connection error
        "postgresql+psycopg://user:Super@SecretPW@db.example.dk/svarfrist",
    ],
    ids=["missing-colon", "port-not-a-number", "port-out-of-range", "at-sign-in-password"],
)
def test_a_malformed_database_url_is_exit_2_naming_the_key_and_never_its_password(
    run_cli, tmp_path: Path, url: str
) -> None:  # type: ignore[no-untyped-def]
    for args in (("list",), ("calendar", "--year", "2026"), ("config", "show")):
        result = run_cli(*args, env={"SVARFRIST_DATABASE_URL": url})
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: config: database_url: "), lines[0]
        assert "SecretPW" not in result.stderr + result.stdout


def test_a_variable_that_is_not_json_is_exit_2_naming_the_variable(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("calendar", "--year", "2026", env={"SVARFRIST_DEPARTMENTS": "not json"})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: config: SVARFRIST_DEPARTMENTS: not valid JSON"), lines[0]


def test_a_nested_variable_that_is_not_json_is_named_itself(run_cli) -> None:  # type: ignore[no-untyped-def]
    """The operator saw ``SVARFRIST_CALENDAR: not valid JSON``, a variable they never set:
    pydantic-settings names only the top-level field of the nested variable it failed on."""
    env = {
        "SVARFRIST_CALENDAR__COUNTRY": "DK",
        "SVARFRIST_CALENDAR__CLOSED_DATES": "2026-12-28",
    }
    result = run_cli("calendar", "--year", "2026", env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: config: SVARFRIST_CALENDAR__CLOSED_DATES: not valid JSON"), (
        lines[0]
    )


def test_address_settings_are_kept_when_valid_and_localhost_is_an_address(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    toml = (
        'mail_from = "svarfrist@localhost"\ndefault_recipient = "Borger@Fredericia.dk"\n'
        'ref_prefix = "FRE-"\n[reports]\nmanagement_recipients = ["chef@fredericia.dk"]\n'
    )
    env.setenv("SVARFRIST_CONFIG", str(write(tmp_path / "ok.toml", toml)))
    settings = load_settings()
    assert settings.mail_from == "svarfrist@localhost"
    assert settings.ref_prefix == "FRE-"
    assert settings.clock_skew_minutes == 5


def test_the_sender_may_carry_a_display_name(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = 'mail_from = "Fredericia Kommune, Borgerservice <svarfrist@fredericia.dk>"\n'
    env.setenv("SVARFRIST_CONFIG", str(write(tmp_path / "named.toml", toml)))
    assert load_settings().mail_from.endswith("<svarfrist@fredericia.dk>")


# -- svarfrist config show --------------------------------------------------------------------
def test_config_show_prints_the_effective_configuration_with_secrets_masked(
    run_cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = write(
        tmp_path / "c.toml",
        CUSTOM + '\n[reminders]\nescalation_to = "leder@x.dk"\nescalation_after_hours = 8\n',
    )
    env = {
        "SVARFRIST_CONFIG": str(path),
        "SVARFRIST_DATABASE_URL": "postgresql+psycopg://svarfrist:DbSecretPW@db.x.dk:5432/reg",
        "SVARFRIST_SMTP_PASSWORD": "SmtpSecretPW",
        "SVARFRIST_DEPARTMENTS": '["Diverse", "Teknik og Miljø"]',
    }
    text = run_cli("config", "show", env=env)
    assert text.returncode == 0, text.stderr
    assert "DbSecretPW" not in text.stdout and "SmtpSecretPW" not in text.stdout
    lines = text.stdout.splitlines()
    assert "database_url = postgresql+psycopg://svarfrist:***@db.x.dk:5432/reg" in lines
    assert "departments = Diverse, Teknik og Miljø" in lines
    assert "password = ***" in lines
    for header in ("[rules.late]", "[schedules.evening]", "[schedules.working_days]", "[smtp]"):
        assert header in lines
    late = lines.index("[rules.late]")
    assert lines[late + 1 : late + 4] == ["enabled = true", "hours = 6", "schedule = evening"]

    doc = run_cli("config", "show", "--json", env=env)
    assert doc.returncode == 0, doc.stderr
    assert "SecretPW" not in doc.stdout
    data = json.loads(doc.stdout)
    assert data["smtp"]["password"] == "***"
    assert data["calendar"]["closed_dates"] == ["2026-11-30"]
    assert data["calendar"]["half_days"] == {"2026-12-01": "12:00:00"}
    assert data["reminders"]["escalation_to"] == "leder@x.dk"
    assert data["rules"]["reply"]["channels"] == ["digital_post", "email", "letter", "sms"]
    assert data["rules"]["callback"]["channels"] == "all"
    assert data["schedules"]["evening"]["monday"] == ["16:00-20:00"]
    assert data["schedules"]["evening"]["saturday"] == "closed"
    assert data["schedules"]["calendar_days"]["closed_days"] is False
