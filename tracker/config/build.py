"""Settings to the values the engine takes: schedules, the business calendar, rules."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from tracker.config.settings import RuleSettings, Settings
from tracker.core.calendar import (
    BUILTIN_SCHEDULES,
    BusinessCalendar,
    ClosedDayRules,
    Schedule,
    parse_interval,
)
from tracker.core.units import MINUTES_PER_DAY
from tracker.errors import BadInputError, ConfigError
from tracker.sla import DEFAULT_RULES, Rule


def build_schedules(settings: Settings) -> dict[str, Schedule]:
    schedules: dict[str, Schedule] = dict(BUILTIN_SCHEDULES)
    window = ((7 * 60, 18 * 60),)
    schedules["sending_window"] = Schedule(name="sending_window", week=(window,) * 5 + ((), ()))
    for name, spec in settings.schedules.items():
        days = (
            spec.monday,
            spec.tuesday,
            spec.wednesday,
            spec.thursday,
            spec.friday,
            spec.saturday,
            spec.sunday,
        )
        try:
            week = tuple(tuple(sorted(parse_interval(text) for text in day)) for day in days)
            schedules[name] = Schedule(name=name, week=week, observes_closed_days=spec.closed_days)
        except BadInputError as exc:
            raise ConfigError(f"schedules.{name}", str(exc)) from None
    window_name = settings.reminders.window_schedule
    if window_name not in schedules:
        raise ConfigError(
            "reminders.window_schedule",
            f"unknown schedule {window_name!r} (one of: {', '.join(sorted(schedules))})",
        )
    return schedules


def build_calendar(settings: Settings) -> BusinessCalendar:
    cal = settings.calendar
    extra = tuple(_month_day(text, "calendar.extra_closed_days") for text in cal.extra_closed_days)
    once: dict[date, time] = {}
    yearly: dict[tuple[int, int], time] = {}
    for key, closes in cal.half_days.items():
        if closes.hour * 60 + closes.minute >= MINUTES_PER_DAY:
            raise ConfigError(f"calendar.half_days.{key}", "closing time must be before 24:00")
        if len(key) == 5:
            yearly[_month_day(key, f"calendar.half_days.{key}")] = closes
        else:
            try:
                once[date.fromisoformat(key)] = closes
            except ValueError:
                raise ConfigError(
                    f"calendar.half_days.{key}", "expected YYYY-MM-DD or MM-DD"
                ) from None
    both = set(cal.opened_dates) & (set(cal.closed_dates) | set(once))
    if both:
        raise ConfigError("calendar.opened_dates", f"{min(both)} is also closed or a half day")
    rules = ClosedDayRules(
        country=cal.country,
        extra_closed=extra,
        closed_dates=frozenset(cal.closed_dates),
        half_days=once,
        yearly_half_days=yearly,
        opened_dates=frozenset(cal.opened_dates),
    )
    try:
        rules.closed_days(2000)
    except (NotImplementedError, KeyError, AttributeError):
        raise ConfigError("calendar.country", f"unknown country {cal.country!r}") from None
    return BusinessCalendar(rules=rules, schedules=build_schedules(settings))


def _month_day(text: str, key: str) -> tuple[int, int]:
    try:
        parsed = date.fromisoformat(f"2000-{text}")  # a leap year: 02-29 is allowed
    except ValueError:
        raise ConfigError(key, f"{text!r} is not a MM-DD date") from None
    return parsed.month, parsed.day


def build_rules(settings: Settings) -> dict[str, Rule]:
    """The built-in rules with the config's overrides, plus rules defined only in config."""
    schedules = build_schedules(settings)
    rules: dict[str, Rule] = {}
    for name in list(DEFAULT_RULES) + [n for n in settings.rules if n not in DEFAULT_RULES]:
        base = DEFAULT_RULES.get(name)
        spec = settings.rules.get(name, RuleSettings())
        if base is None and spec.hours is None:
            raise ConfigError(f"rules.{name}.hours", "a new rule needs hours")
        values: dict[str, Any] = {
            k: v for k, v in spec.model_dump(exclude_none=True).items() if k != "channels"
        }
        if spec.channels is not None:
            values["channels"] = frozenset(str(c) for c in spec.channels)
        rule = Rule(**{**(_rule_fields(base) if base else {"name": name}), **values})
        if rule.schedule not in schedules:
            raise ConfigError(f"rules.{name}.schedule", f"unknown schedule {rule.schedule!r}")
        rules[name] = rule
    return rules


def _rule_fields(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "hours": rule.hours,
        "schedule": rule.schedule,
        "warn_before": rule.warn_before,
        "channels": rule.channels,
        "requires_callback": rule.requires_callback,
        "fulfilled_by": rule.fulfilled_by,
        "enabled": rule.enabled,
        "requires_promise": rule.requires_promise,
    }
