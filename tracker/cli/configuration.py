"""``svarfrist config show``: the effective configuration, with every secret masked.

What the office sees is what the commands use: the settings after file, environment and
credentials are merged, the rules with their overrides applied, and every schedule, the
built-in ones included. Passwords (SMTP, and the one inside the database URL) are never
printed.
"""

from __future__ import annotations

import argparse
from typing import Any

from tracker.cli.common import ArgumentParser, out, print_json, settings
from tracker.config import (
    Office,
    OfficeSettings,
    Settings,
    build_offices,
    build_rules,
    build_schedules,
    masked_url,
)
from tracker.core.calendar import WEEKDAY_NAMES_EN, Schedule, format_minutes
from tracker.core.shapes import format_hours
from tracker.sla import Rule

MASK = "***"


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    config = sub.add_parser("config", help="inspect the configuration (`svarfrist config show`)")
    actions = config.add_subparsers(dest="action", required=True, parser_class=ArgumentParser)
    show = actions.add_parser(
        "show",
        help="print the effective configuration: departments, topics, rules, schedules, "
        "closed days, mail and daemon settings; passwords masked",
    )
    show.add_argument("--json", action="store_true", help="as one JSON object")
    show.set_defaults(handler=cmd_show)


def effective(values: Settings) -> dict[str, Any]:
    """Every setting as plain values, rules and schedules as they apply, secrets masked."""
    data: dict[str, Any] = values.model_dump(mode="json")
    data["database_url"] = masked_url(values.database_url)
    if values.smtp.password is not None:
        data["smtp"]["password"] = MASK
    data["rules"] = {name: _rule(rule) for name, rule in build_rules(values).items()}
    data["schedules"] = {
        name: _schedule(schedule) for name, schedule in build_schedules(values).items()
    }
    data["offices"] = {
        key: _office(office) for key, office in build_offices(values).items() if key != "default"
    }
    return data


def _office(office: Office) -> dict[str, Any]:
    """An office's keys as they apply to it (its own, else the top level's)."""
    view = office.settings.model_dump(mode="json", include=set(OfficeSettings.model_fields))
    view["rules"] = {name: _rule(rule) for name, rule in office.rules.items()}
    view["schedules"] = {name: _schedule(s) for name, s in office.schedules.items()}
    return view


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "enabled": rule.enabled,
        "hours": format_hours(rule.hours),
        "schedule": rule.schedule,
        "warn_before": format_hours(rule.warn_before),
        "channels": sorted(rule.channels) or "all",
        "requires_callback": rule.requires_callback,
        "fulfilled_by": str(rule.fulfilled_by),
    }


def _schedule(schedule: Schedule) -> dict[str, Any]:
    days: dict[str, Any] = {
        day: [f"{format_minutes(a)}-{format_minutes(b)}" for a, b in intervals] or "closed"
        for day, intervals in zip(WEEKDAY_NAMES_EN, schedule.week, strict=True)
    }
    return days | {"closed_days": schedule.observes_closed_days}


def cmd_show(args: argparse.Namespace) -> int:
    data = effective(settings())
    if args.json:
        print_json(data)
        return 0
    for line in _lines(data, ""):
        out(line)
    return 0


def _lines(data: dict[str, Any], prefix: str) -> list[str]:
    """``key = value`` lines, one table per nested mapping (as in the TOML file)."""
    plain = [(k, v) for k, v in data.items() if not isinstance(v, dict)]
    tables = [(k, v) for k, v in data.items() if isinstance(v, dict)]
    lines = [f"{key} = {_value(value)}" for key, value in plain]
    for key, value in tables:
        name = f"{prefix}{key}"
        if any(not isinstance(v, dict) for v in value.values()) or not value:
            lines += ["", f"[{name}]"]
        lines += _lines(value, f"{name}.")
    return lines


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if value == "":
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "(none)"
    return str(value)
