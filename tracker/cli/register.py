"""Register commands: init, add, reply, callback, pause, resume, close, show, list, purge,
recompute (import and export are in tracker.cli.transfer).

Each command opens the database, runs one operation in one transaction and prints the
result; database trouble becomes one ``error:`` line with exit status 1, never a traceback
(and never SQL parameters, which could hold a note).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from typing import Any

from tracker.cli import delivery
from tracker.cli.common import (
    calendar,
    format_time,
    now_of,
    out,
    parse_time,
    print_json,
)
from tracker.cli.database import actor_of, add_common, context, database
from tracker.cli.render import print_moves, print_view, summary_line, view_json
from tracker.core import validate
from tracker.store import outbox, queries, register, schema
from tracker.store.db import read_only, session_factory, transaction
from tracker.store.recompute import recompute
from tracker.store.register import NewInquiry

# Re-exported: other command modules (the daemon's) import these names from here.
__all__ = ["actor_of", "add_commands", "add_common", "context", "database", "view_json"]

FULFILMENTS = register.ACTIONS
DONE = {
    "reply": "replied",
    "callback": "called back",
    "pause": "paused",
    "resume": "resumed",
    "close": "closed",
}


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    init = sub.add_parser("init", help="create or upgrade the database schema (idempotent)")
    init.set_defaults(handler=cmd_init)

    add = sub.add_parser("add", help="register an inquiry; prints its ref")
    add.add_argument("--channel", required=True, help="phone, sms, email, letter, ...")
    add.add_argument("--department", required=True, help="a configured department")
    add.add_argument("--received", help="when it was received (ISO 8601; default now)")
    add.add_argument("--topic", help="a configured topic")
    add.add_argument("--advisor", help="the advisor's e-mail address (gets the reminders)")
    add.add_argument("--callback", action="store_true", help="the citizen asked to be called")
    add.add_argument("--ref", help="use this ref instead of a generated one")
    add.add_argument("--note", help="free text; never mailed, logged or reported; purged")
    add.add_argument("--json", action="store_true")
    add_common(add, writes=True)
    add.set_defaults(handler=cmd_add)

    helps = {
        "reply": "the citizen got a reply: fulfils `reply`",
        "callback": "the citizen was called back: fulfils `callback`",
        "pause": "stop the clocks while waiting for the citizen",
        "resume": "restart the clocks",
        "close": "close; fulfils every obligation still pending",
    }
    for name, text in helps.items():
        p = sub.add_parser(name, help=text)
        p.add_argument("ref")
        p.add_argument("--at", help="when it happened (ISO 8601; default now)")
        add_common(p, writes=True)
        p.set_defaults(handler=cmd_fulfil, operation=name)

    show = sub.add_parser("show", help="one inquiry with its obligations")
    show.add_argument("ref")
    show.add_argument("--json", action="store_true")
    add_common(show, writes=False)
    show.set_defaults(handler=cmd_show)

    lst = sub.add_parser("list", help="inquiries")
    lst.add_argument(
        "--state", default="open", choices=[s.value for s in queries.ListState], help="(open)"
    )
    lst.add_argument("--advisor")
    lst.add_argument("--json", action="store_true")
    add_common(lst, writes=False)
    lst.set_defaults(handler=cmd_list)

    purge = sub.add_parser("purge", help="erase notes of inquiries closed beyond retention")
    add_common(purge, writes=True)
    purge.set_defaults(handler=cmd_purge)

    rec = sub.add_parser("recompute", help="recompute open obligations after a rule change")
    rec.add_argument("--dry-run", action="store_true", help="list what would move; write nothing")
    rec.add_argument("--json", action="store_true")
    add_common(rec, writes=True)
    rec.set_defaults(handler=cmd_recompute)


# -- commands -------------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    if not args.verbose:  # Alembic narrates every step at INFO; one summary line is enough
        logging.getLogger("alembic").setLevel(logging.WARNING)
    with database(require_schema=False) as engine:
        before = schema.current_revision(engine)
        schema.upgrade(engine, calendar=calendar())
        after = schema.current_revision(engine)
    if before == after:
        out(f"database schema is current ({after})")
    elif before is None:
        out(f"database schema created ({after})")
    else:
        out(f"database schema upgraded from {before} to {after}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    now = now_of(args)
    received = parse_time(args.received, "--received") if args.received else now
    new = NewInquiry(
        channel=args.channel,
        department=args.department,
        received_at=received,
        topic=args.topic,
        advisor=args.advisor,
        callback_requested=args.callback,
        ref=args.ref,
        note=args.note,
    )
    ctx = context(args, now)
    with database() as engine, transaction(session_factory(engine)) as session:
        ref = register.add(session, ctx, new)
        view = queries.show(session, ref, now) if args.json else None
    if view is not None:
        print_json(view_json(view))
    else:
        out(ref)
    return 0


def cmd_fulfil(args: argparse.Namespace) -> int:
    now = now_of(args)
    at = parse_time(args.at, "--at") if args.at else now
    ctx = context(args, now)
    with database() as engine, transaction(session_factory(engine)) as session:
        moves = FULFILMENTS[args.operation](session, ctx, args.ref, at)
    out(f"{args.ref} {DONE[args.operation]} at {format_time(at)}")
    print_moves(moves)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    now = now_of(args)
    with database() as engine, session_factory(read_only(engine))() as session:
        view = queries.show(session, args.ref, now)
        failed = outbox.delivery_failures(session, [view.ref])  # reminder e-mails (issue 4)
    if args.json:
        print_json(view_json(view, full=True) | delivery.failures_json(failed, view.ref))
    else:
        print_view(view)
        delivery.print_failures(failed, view.ref)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    now = now_of(args)
    state = queries.ListState(args.state)
    advisor = validate.advisor(args.advisor) if args.advisor else None
    with database() as engine, session_factory(read_only(engine))() as session:
        failed = outbox.delivery_failures(session)  # reminder e-mails (issue 4)
        views = queries.list_inquiries(session, state, now, advisor)
        if args.json:
            _stream_json_array(view_json(v) | delivery.failures_json(failed, v.ref) for v in views)
        else:
            for view in views:
                out(summary_line(view) + delivery.failure_suffix(failed, view.ref))
    return 0


def _stream_json_array(items: Iterator[dict[str, Any]]) -> None:
    """A JSON array written item by item, so a long list never sits in memory."""
    import json
    import sys

    sys.stdout.write("[")
    first = True
    for item in items:
        sys.stdout.write(("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False))
        first = False
    sys.stdout.write("\n]\n" if not first else "]\n")


def cmd_purge(args: argparse.Namespace) -> int:
    ctx = context(args, now_of(args))
    with database() as engine, transaction(session_factory(engine)) as session:
        count = register.purge(session, ctx)
    days = ctx.settings.retention_days
    out(f"purged the notes of {count} inquiries closed more than {days} days ago")
    return 0


def cmd_recompute(args: argparse.Namespace) -> int:
    ctx = context(args, now_of(args))
    with database() as engine:
        if args.dry_run:  # a session that is never committed: rolled back on close
            with session_factory(engine)() as session:
                moves = recompute(session, ctx, dry_run=True)
        else:
            with transaction(session_factory(engine)) as session:
                moves = recompute(session, ctx, dry_run=False)
    if args.json:
        print_json(
            {
                "dry_run": args.dry_run,
                "moved": [
                    {
                        "ref": m.ref,
                        "rule": m.rule,
                        "old_due_at": format_time(m.old_due_at),
                        "new_due_at": format_time(m.new_due_at),
                    }
                    for m in moves
                ],
            }
        )
        return 0
    print_moves(moves)
    suffix = " (dry run: nothing written)" if args.dry_run else ""
    out(f"{len(moves)} deadlines moved{suffix}")
    return 0
