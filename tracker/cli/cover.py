"""``svarfrist team ...`` and ``svarfrist absence ...``: who covers for an absent advisor.

Thin shells over tracker.store.cover; the rule of who receives what is tracker.core.cover.
``team add`` creates a team or adds members to an existing one; ``team remove NAME`` removes
the team, ``team remove NAME --member E`` only those members.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import datetime
from typing import Any

from tracker.cli.common import now_of, out, parse_date, print_json
from tracker.cli.database import (
    add_common,
    add_office,
    context,
    database,
    office_of,
    office_scope,
)
from tracker.core.cover import local_day
from tracker.store import cover
from tracker.store.context import Context
from tracker.store.db import read_only, session_factory, transaction
from tracker.store.shapes import absence_document, team_document


def _member(parser: argparse.ArgumentParser, *, required: bool, help_text: str) -> None:
    parser.add_argument(
        "--member",
        action="append",
        default=[],
        dest="members",
        metavar="EMAIL",
        required=required,
        help=help_text,
    )


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    team = sub.add_parser("team", help="teams of advisors who cover for each other")
    teams = team.add_subparsers(dest="action", required=True, parser_class=type(team))
    add = teams.add_parser("add", help="create a team, or add members to an existing one")
    add.add_argument("name")
    _member(add, required=True, help_text="an advisor's address (repeatable)")
    add_common(add, writes=True)
    add_office(add, "the office the team belongs to (default default)")
    add.set_defaults(handler=cmd_team_add)
    lst = teams.add_parser("list", help="teams and their members")
    lst.add_argument("--json", action="store_true")
    add_office(lst, "only this office's teams")
    lst.set_defaults(handler=cmd_team_list)
    remove = teams.add_parser("remove", help="remove a team, or only the members named")
    remove.add_argument("name")
    _member(remove, required=False, help_text="remove only this member (repeatable)")
    add_common(remove, writes=True)
    add_office(remove, "the office whose team it is (default default)")
    remove.set_defaults(handler=cmd_team_remove)

    absence = sub.add_parser("absence", help="advisors away: their reminders go to cover")
    absences = absence.add_subparsers(dest="action", required=True, parser_class=type(absence))
    aadd = absences.add_parser("add", help="mark an advisor absent from one date to another")
    aadd.add_argument("email", help="the absent advisor's address")
    aadd.add_argument("--from", dest="first", required=True, metavar="DATE", help="YYYY-MM-DD")
    aadd.add_argument(
        "--to", dest="last", required=True, metavar="DATE", help="YYYY-MM-DD, inclusive"
    )
    aadd.add_argument("--substitute", metavar="EMAIL", help="who receives their reminders")
    add_common(aadd, writes=True)
    add_office(aadd, "the office the absence is recorded in (default default)")
    aadd.set_defaults(handler=cmd_absence_add)
    alist = absences.add_parser("list", help="current and coming absences (--all: also past)")
    alist.add_argument("--all", action="store_true", help="also absences that have ended")
    alist.add_argument("--json", action="store_true")
    add_common(alist, writes=False)
    add_office(alist, "only this office's absences")
    alist.set_defaults(handler=cmd_absence_list)
    aremove = absences.add_parser("remove", help="remove an absence by its id (absence list)")
    aremove.add_argument("id", type=int)
    add_common(aremove, writes=True)
    add_office(aremove, "an absence of this office only")
    aremove.set_defaults(handler=cmd_absence_remove)


def _context(args: argparse.Namespace, now: datetime) -> Context:
    """The context of a team or absence command: every office's, or with ``--office`` that
    office's alone (what is added is recorded in it; only its own is found to remove)."""
    ctx = context(args, now)
    if args.office is None:
        return ctx
    return replace(ctx.office(office_of(args)), scope=office_scope(args))


def cmd_team_add(args: argparse.Namespace) -> int:
    now = now_of(args)
    with database() as engine, transaction(session_factory(engine)) as session:
        info = cover.add_team(session, _context(args, now), args.name, args.members)
    out(f"team {info.name}: {', '.join(info.members)}")
    return 0


def cmd_team_list(args: argparse.Namespace) -> int:
    with database() as engine, session_factory(read_only(engine))() as session:
        found = cover.teams(session, office_scope(args))
    if args.json:
        print_json([team_document(t) for t in found])
        return 0
    for t in found:
        out(f"{t.name}  {', '.join(t.members) or 'no members'}")
    if not found:
        out("no teams")
    return 0


def cmd_team_remove(args: argparse.Namespace) -> int:
    now = now_of(args)
    with database() as engine, transaction(session_factory(engine)) as session:
        cover.remove_team(session, _context(args, now), args.name, args.members)
    what = f"members {', '.join(args.members)} of team" if args.members else "team"
    out(f"removed {what} {args.name}")
    return 0


def cmd_absence_add(args: argparse.Namespace) -> int:
    now = now_of(args)
    first = parse_date(args.first, "--from")
    last = parse_date(args.last, "--to")
    with database() as engine, transaction(session_factory(engine)) as session:
        info = cover.add_absence(
            session, _context(args, now), args.email, first=first, last=last,
            substitute=args.substitute,
        )  # fmt: skip
    out(f"absence {info.id}: {_line(info)}")
    return 0


def _line(info: cover.AbsenceInfo) -> str:
    to = f", substitute {info.substitute}" if info.substitute else ", cover by team"
    return f"{info.advisor} absent {info.first} to {info.last}{to}"


def cmd_absence_list(args: argparse.Namespace) -> int:
    since = None if args.all else local_day(now_of(args))
    with database() as engine, session_factory(read_only(engine))() as session:
        found = cover.absences(session, since=since, scope=office_scope(args))
    if args.json:
        print_json([absence_document(a) for a in found])
        return 0
    for a in found:
        out(f"{a.id}  {_line(a)}")
    if not found:
        out("no absences")
    return 0


def cmd_absence_remove(args: argparse.Namespace) -> int:
    now = now_of(args)
    with database() as engine, transaction(session_factory(engine)) as session:
        info = cover.remove_absence(session, _context(args, now), args.id)
    out(f"removed absence {info.id}: {_line(info)}")
    return 0
