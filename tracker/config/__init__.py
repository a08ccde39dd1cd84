"""Settings: environment ``SVARFRIST_*`` over a TOML file over built-in defaults.

A package of one concern per module: the models and their sources (:mod:`.settings`), the
checks pydantic's types cannot make (:mod:`.checks`), the engine's values built from them
(:mod:`.build`) and the offices (:mod:`.offices`). ``from tracker.config import ...`` names
all of them, as it did when this was one module. A bad setting fails at start with one line
naming the key.
"""

from __future__ import annotations

import os
import re
import tomllib

from pydantic import ValidationError
from pydantic_settings import SettingsError

from tracker.config.build import build_calendar, build_rules, build_schedules
from tracker.config.checks import (
    check_database_url,
    check_intake,
    check_oidc,
    check_settings,
    is_loopback,
    masked_url,
)
from tracker.config.offices import (
    DEFAULT_OFFICE,
    Office,
    build_offices,
    check_offices,
    departments_of,
    management_recipients,
    office_settings,
    resolve_office,
    stored_office,
)
from tracker.config.settings import (
    DEFAULT_DEPARTMENTS,
    DEFAULT_TOPICS,
    ENV_PREFIX,
    FLAT_ALIASES,
    MAX_RULE_HOURS,
    NON_SETTING_VARIABLES,
    ROLE_NAMES,
    SYSTEM_CONFIG,
    CalendarSettings,
    DaemonSettings,
    IntakeSettings,
    OfficeSettings,
    OidcGroupSettings,
    OidcSettings,
    RemindersSettings,
    ReportSettings,
    RuleSettings,
    ScheduleSettings,
    Settings,
    SmtpSettings,
    WebSettings,
    config_path,
    intake_sources,
    unknown_variables,
)
from tracker.errors import ConfigError

__all__ = [
    "DEFAULT_DEPARTMENTS",
    "DEFAULT_OFFICE",
    "DEFAULT_TOPICS",
    "ENV_PREFIX",
    "FLAT_ALIASES",
    "MAX_RULE_HOURS",
    "NON_SETTING_VARIABLES",
    "ROLE_NAMES",
    "SYSTEM_CONFIG",
    "CalendarSettings",
    "DaemonSettings",
    "IntakeSettings",
    "Office",
    "OfficeSettings",
    "OidcGroupSettings",
    "OidcSettings",
    "RemindersSettings",
    "ReportSettings",
    "RuleSettings",
    "ScheduleSettings",
    "Settings",
    "SmtpSettings",
    "WebSettings",
    "build_calendar",
    "build_offices",
    "build_rules",
    "build_schedules",
    "check_database_url",
    "check_intake",
    "check_offices",
    "check_oidc",
    "check_settings",
    "config_path",
    "departments_of",
    "intake_sources",
    "is_loopback",
    "load_settings",
    "management_recipients",
    "masked_url",
    "office_settings",
    "resolve_office",
    "stored_office",
    "unknown_variables",
]


def load_settings() -> Settings:
    """Load and validate settings, raising ConfigError with one line naming the bad key."""
    path = config_path()
    document: dict[str, object] = {}
    if path is not None:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("SVARFRIST_CONFIG", f"no such file: {path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(str(path), f"not valid TOML: {exc}") from None
        except OSError as exc:  # a folder, or a file the service's user may not read
            raise ConfigError(str(path), f"cannot read: {exc.strerror}") from None
    secrets_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    try:
        settings = Settings(_secrets_dir=secrets_dir)  # type: ignore[call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigError(key, first["msg"]) from None
    except SettingsError as exc:  # a variable that is not the JSON a list or table needs
        raise ConfigError(_variable_of(exc), f"not valid JSON: {exc.__cause__}") from None
    intake = settings.intake
    if (
        intake is not None
        and intake.imap_host is None
        and intake.maildir is None
        and ("intake" not in document)
    ):
        # Keys from the environment or a credential alone: no section they could complete.
        given = ", ".join(intake_sources(os.environ, secrets_dir))
        raise ConfigError(
            "intake",
            f"not configured: no [intake] section (with imap_host or maildir) in "
            f"{path or 'any config file'}, yet {given} gives it a key: add the "
            "section, or remove what sets the key",
        )
    check_settings(settings)
    build_calendar(settings)
    build_rules(settings)
    check_offices(settings)
    return settings


def _variable_of(exc: SettingsError) -> str:
    """The environment variable pydantic-settings could not parse. It names only the
    top-level field, so of that field's variables (``SVARFRIST_CALENDAR`` and the nested
    ``SVARFRIST_CALENDAR__...``) the one holding the text that failed to decode."""
    match = re.search(r'field "(\w+)"', str(exc))
    if match is None:
        return "environment"
    field = ENV_PREFIX + match.group(1).upper()
    failed = getattr(exc.__cause__, "doc", None)
    for var in sorted(os.environ):
        if (var == field or var.startswith(field + "__")) and os.environ[var] == failed:
            return var
    return field
