"""Offices: several units with their own calendar, rules and recipients in one deployment.

``[offices.<key>]`` holds an office's own values of some top-level keys (OfficeSettings); a
key it does not set is the top level's, and a table (``[calendar]``, ``[reminders]``, a rule
in ``[rules]``) is merged key by key, so an office that only closes on its own days writes
``[offices.nord.calendar] closed_dates = [...]`` and keeps everything else. The top level is
the office ``default``, always there (every inquiry of a deployment from before offices is
one of its); ``[offices.default]`` overrides top-level keys for that office alone.

This is the one place that turns an office key into its settings view, calendar and rules:
the store's ``Context.office`` picks from what :func:`build_offices` returns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from tracker.config.build import build_calendar, build_rules, build_schedules
from tracker.config.checks import check_addresses, check_escalation, recipient_keys
from tracker.config.settings import IntakeSettings, OidcSettings, RemindersSettings, Settings
from tracker.core import validate
from tracker.core.calendar import BusinessCalendar, Schedule
from tracker.errors import BadInputError, ConfigError
from tracker.sla import Rule

DEFAULT_OFFICE = "default"
"""The office of the top-level configuration (and of every inquiry from before offices)."""
OFFICE_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
"""An office key: short, lower case, safe in a URL, a CSV cell and a 32-character column."""


@dataclass(frozen=True, kw_only=True)
class Office:
    """One office: its key, the settings as that office sees them (the top level with the
    office's own keys merged in), and the calendar, rules and schedules built from them."""

    key: str
    settings: Settings
    calendar: BusinessCalendar
    rules: Mapping[str, Rule]
    schedules: Mapping[str, Schedule]


def office_keys(settings: Settings) -> list[str]:
    """``default`` first, then the configured offices in the order the file gives them."""
    return [DEFAULT_OFFICE] + [k for k in settings.offices if k != DEFAULT_OFFICE]


_T = TypeVar("_T")


def stored_office(configured: Mapping[str, _T], key: str) -> _T:
    """What ``configured`` (office key -> office, calendar, ...) holds for a stored row's
    office ``key``; an office no longer configured is read with ``default``'s."""
    return configured[key] if key in configured else configured[DEFAULT_OFFICE]


def departments_of(offices: Mapping[str, Office], key: str | None = None) -> list[str]:
    """The departments of office ``key``, or of every office (None: what a filter without
    an office may name), each once, in the order of the configuration."""
    chosen = offices.values() if key is None else [offices[key]]
    return list(dict.fromkeys(d for o in chosen for d in o.settings.departments))


def office_settings(settings: Settings, key: str) -> Settings:
    """The settings as office ``key`` sees them: its own keys merged over the top level."""
    own = settings.offices.get(key)
    if own is None:
        if key == DEFAULT_OFFICE:
            return settings
        raise unknown_office(settings, key)
    merged: Settings = _merge(settings, own)
    return merged


def _merge(base: Any, own: Any) -> Any:
    """``own`` over ``base``: models field by field (only the fields ``own`` sets), tables
    name by name, anything else replaced."""
    if isinstance(own, BaseModel) and isinstance(base, BaseModel):
        update = {
            name: _merge(getattr(base, name), getattr(own, name))
            for name in own.model_fields_set  # a TOML file cannot set a key to None
        }
        return base.model_copy(update=update)
    if isinstance(own, dict) and isinstance(base, dict):
        merged = dict(base)
        for name, value in own.items():
            merged[name] = _merge(base[name], value) if name in base else value
        return merged
    return own


def build_offices(settings: Settings) -> dict[str, Office]:
    """Every office by key (``default`` first), each with its calendar and rules built;
    a bad value of an office raises ConfigError naming ``offices.<key>.<setting>``."""
    offices: dict[str, Office] = {}
    for key in office_keys(settings):
        view = office_settings(settings, key)
        prefix = "" if key not in settings.offices else f"offices.{key}."
        try:
            offices[key] = Office(
                key=key,
                settings=view,
                calendar=build_calendar(view),
                rules=build_rules(view),
                schedules=build_schedules(view),
            )
        except ConfigError as exc:
            if exc.key.startswith("offices."):
                raise
            raise ConfigError(prefix + exc.key, exc.problem) from None
    return offices


def check_offices(settings: Settings) -> None:
    """Office keys that are keys, and each office's own recipients, departments, calendar
    and rules valid (ConfigError naming ``offices.<key>...``)."""
    for key in settings.offices:
        if not OFFICE_KEY.fullmatch(key):
            raise ConfigError(
                f"offices.{key}",
                "an office key is 1-32 of a-z, 0-9, '-' and '_', starting with a letter or digit",
            )
        view = office_settings(settings, key)
        check_addresses(recipient_keys(view, f"offices.{key}."))
        check_addresses(
            [
                (f"offices.{key}.reports.management_recipients[{i}]", address)
                for i, address in enumerate(management_recipients(settings, key))
            ]
        )
    for key in office_keys(settings):
        _check_names(settings, key)
        prefix = f"offices.{key}." if key in settings.offices else ""
        check_escalation(office_settings(settings, key), prefix)
    build_offices(settings)
    if settings.intake is not None:
        _check_intake_routes(settings, settings.intake)
    if settings.web.oidc is not None:
        _check_oidc_groups(settings, settings.web.oidc)


def _check_names(settings: Settings, key: str) -> None:
    """Office ``key``'s departments (at least one) and topics: each a name, once. A blank
    one was stored as an inquiry's department; NUL or bytes that are not UTF-8 are refused
    as in any text (validate.text). The error names the table the list comes from."""
    own = settings.offices.get(key)
    view = office_settings(settings, key)
    for kind in ("departments", "topics"):
        where = f"offices.{key}.{kind}" if own and kind in own.model_fields_set else kind
        names: list[str] = getattr(view, kind)
        if kind == "departments" and not names:
            raise ConfigError(where, "name at least one department")
        for i, name in enumerate(names):
            try:
                validate.text(name, f"{where}[{i}]")
            except BadInputError as exc:
                raise ConfigError(f"{where}[{i}]", str(exc).split(": ", 1)[1]) from None
            if not name.strip():
                raise ConfigError(f"{where}[{i}]", "a name may not be empty")
            if name in names[:i]:
                raise ConfigError(f"{where}[{i}]", f"{name!r} is named twice")


def _check_oidc_groups(settings: Settings, oidc: OidcSettings) -> None:
    """Each provider group gives an office that exists (or ``*``, every office) and
    departments of that office (of any office, for ``*``)."""
    known = office_keys(settings)
    for group, mapped in oidc.groups.items():
        key = f"web.oidc.groups.{group}"
        if mapped.office != "*" and mapped.office not in known:
            raise ConfigError(
                f"{key}.office",
                f"unknown office {mapped.office!r} (known offices: *, {', '.join(known)})",
            )
        offices = known if mapped.office == "*" else [mapped.office]
        departments = {d for o in offices for d in office_settings(settings, o).departments}
        for department in mapped.departments:
            if department not in departments:
                where = "" if mapped.office == "*" else f" in office {mapped.office!r}"
                raise ConfigError(f"{key}.departments", f"unknown department {department!r}{where}")


def _check_intake_routes(settings: Settings, intake: IntakeSettings) -> None:
    """Mail intake registers each address's mail in an office that exists, in a department
    of that office (ConfigError naming the ``intake`` key that says otherwise)."""
    known = office_keys(settings)
    for address, (office, department) in intake.routes().items():
        where = "default" if address == "default" else address
        if office not in known:
            key = "intake.office" if where == "default" else f"intake.offices.{address}"
            raise ConfigError(key, f"unknown office {office!r} (known offices: {', '.join(known)})")
        if (
            department is not None
            and department not in office_settings(settings, office).departments
        ):
            if where == "default":
                key = "intake.default_department"
            elif address in intake.departments:
                key = f"intake.departments.{address}"
            else:
                key = f"intake.offices.{address}"
            raise ConfigError(key, f"unknown department {department!r} in office {office!r}")


def management_recipients(settings: Settings, key: str | None) -> list[str]:
    """Who gets a monthly report, each once: of every office (``key`` None), the top level's
    ``[reports]`` recipients; of office ``key`` alone, the addresses its own
    ``[offices.KEY.reports]`` names (never inherited from the top level)."""
    if key is None:
        return list(dict.fromkeys(settings.reports.management_recipients))
    own = settings.offices.get(key)
    if own is None or own.reports is None:
        return []
    if "management_recipients" not in own.reports.model_fields_set:
        return []
    return list(dict.fromkeys(own.reports.management_recipients))


def unknown_office(settings: Settings, key: str) -> BadInputError:
    """The error of an office key that names no office: it lists the known ones."""
    known = ", ".join(office_keys(settings))
    return BadInputError(f"unknown office {key!r} (known offices: {known})").coded("unknown")


def resolve_office(settings: Settings, key: str | None) -> str:
    """``key`` if it names an office (``None``: ``default``), else BadInputError (exit 2)."""
    if key is None:
        return DEFAULT_OFFICE
    if key != DEFAULT_OFFICE and key not in settings.offices:
        raise unknown_office(settings, key)
    return key


def escalation_address(reminders: RemindersSettings, department: str) -> str | None:
    """Where an overdue inquiry of ``department`` escalates to: the one address, or the
    department's entry of the table (none: that department is not escalated)."""
    target = reminders.escalation_to
    if isinstance(target, dict):
        return target.get(department)
    return target
