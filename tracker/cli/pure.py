"""Commands that need no database: ``due`` and ``calendar``."""

from __future__ import annotations

import argparse
from typing import Any

from tracker.cli.common import (
    format_time,
    now_of,
    offices,
    out,
    parse_time,
    print_json,
    settings,
)
from tracker.config import Office, resolve_office
from tracker.core import validate
from tracker.core.calendar import FIRST_YEAR, LAST_YEAR, WEEKDAY_NAMES_DA
from tracker.core.explain import explain
from tracker.core.shapes import calendar_document, due_document, format_hours
from tracker.errors import BadInputError, NoWorkingTimeError
from tracker.sla import Rule, deadline, get_rule


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    due = sub.add_parser("due", help="compute a deadline (no database)")
    due.add_argument("--rule", help="a configured rule: reply, callback, answer, ...")
    due.add_argument("--hours", type=str, help="working hours (overrides the rule's)")
    due.add_argument("--schedule", help="working_days, office_hours, calendar_days, ...")
    due.add_argument("--warn-before", type=str, help="hours before the deadline to warn")
    due.add_argument("--received", required=True, help="ISO 8601 time received")
    due.add_argument("--json", action="store_true", help="print JSON instead of text")
    due.add_argument("--explain", action="store_true", help="show skipped days and why")
    due.add_argument("--office", help="on this office's calendar and rules (default default)")
    due.set_defaults(handler=cmd_due)

    cal = sub.add_parser("calendar", help="the closed days of a year")
    cal.add_argument(
        "--year", type=int, help=f"the year, {FIRST_YEAR}-{LAST_YEAR} (default this year)"
    )
    cal.add_argument("--now", help="as if it were this time (for the default year)")
    cal.add_argument("--json", action="store_true", help="print JSON instead of text")
    cal.add_argument("--office", help="this office's closed days (default default)")
    cal.set_defaults(handler=cmd_calendar)


def _hours(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadInputError(f"{option}: {text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise BadInputError(f"{option}: must be a non-negative number of hours, got {text}")
    return value


def _office(args: argparse.Namespace) -> Office:
    """The office of ``--office`` (default ``default``): its calendar and rules."""
    return offices()[resolve_office(settings(), getattr(args, "office", None))]


def resolve_rule(args: argparse.Namespace) -> Rule:
    hours = _hours(args.hours, "--hours")
    warn = _hours(args.warn_before, "--warn-before")
    if args.rule is None:
        if hours is None or args.schedule is None:
            raise BadInputError("give --rule R, or --hours N with --schedule S")
        base = Rule(name="", hours=hours, schedule=args.schedule)
    else:
        base = get_rule(_office(args).rules, args.rule)
    _office(args).calendar.schedule(args.schedule or base.schedule)  # unknown schedule: clear error
    return Rule(
        name=base.name,
        hours=base.hours if hours is None else hours,
        schedule=args.schedule or base.schedule,
        warn_before=base.warn_before if warn is None else warn,
        channels=base.channels,
        requires_callback=base.requires_callback,
        fulfilled_by=base.fulfilled_by,
    )


def cmd_due(args: argparse.Namespace) -> int:
    rule = resolve_rule(args)
    try:
        received = parse_time(args.received, "--received")
    except OverflowError:  # year 1 local time is before datetime's first UTC instant
        raise BadInputError(f"--received: {args.received} is out of range") from None
    try:
        cal = _office(args).calendar
        dl = deadline(cal, rule, received)
        why = explain(cal, received, rule.hours, rule.schedule) if args.explain else None
    except NoWorkingTimeError as exc:
        # More hours than the schedule has in its search bound: the user's input, not a
        # failure of the environment.
        raise BadInputError(str(exc)) from None
    if args.json:
        doc = due_document(rule, received, dl, why)
        print_json(doc)
        return 0
    label = rule.name or "-"
    out(f"rule      {label} ({format_hours(rule.hours)} h on {rule.schedule})")
    out(f"received  {format_time(received)}")
    out(f"warn at   {format_time(dl.warn_at)}")
    out(f"due at    {format_time(dl.due_at)}")
    if why is not None:
        out("")
        for da_line, en_line in zip(why.lines("da"), why.lines("en"), strict=True):
            out(f"  {da_line}")
            out(f"    ({en_line})")
    return 0


def cmd_calendar(args: argparse.Namespace) -> int:
    cal = _office(args).calendar
    year = args.year if args.year is not None else now_of(args).astimezone(cal.tz).year
    days = cal.closed_days(validate.calendar_year(year, "--year"))
    if args.json:
        print_json(calendar_document(days, settings().reminders.language))
        return 0
    out(f"Lukkedage {year} (closed days; lørdage og søndage er også lukket)")
    for d in days:
        weekday = WEEKDAY_NAMES_DA[d.day.weekday()]
        half = f", lukker kl. {d.closes_at.strftime('%H:%M')}" if d.closes_at else ""
        out(f"{d.day.isoformat()}  {weekday:<8} {d.name_da}{half} ({d.name_en}) [{d.kind}]")
    return 0
