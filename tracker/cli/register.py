"""Register commands: init, add, reply, callback, pause, resume, close, show, list, purge,
recompute, and the corrections assign, reopen, undo (import and export are in
tracker.cli.transfer).

Each command opens the database, runs one operation in one transaction and prints the
result; database trouble becomes one ``error:`` line with exit status 1, never a traceback
(and never SQL parameters, which could hold a note).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from tracker.cli import delivery
from tracker.cli.common import (
    calendar,
    format_time,
    now_of,
    offices,
    out,
    parse_time,
    print_json,
    settings,
)
from tracker.cli.database import (
    actor_of,
    add_common,
    add_office,
    context,
    database,
    given_office,
    office_of,
    office_scope,
    warn_if_exposed,
)
from tracker.cli.render import list_row, print_list, print_moves, print_view, view_json
from tracker.cli.terminal import escape_controls
from tracker.config import DEFAULT_OFFICE, departments_of
from tracker.core import validate
from tracker.sla import Channel
from tracker.store import history, outbox, queries, register, schema
from tracker.store.db import checkpoint, read_only, session_factory, transaction
from tracker.store.recompute import recompute
from tracker.store.register import NewInquiry
from tracker.store.shapes import change_document

CHANNEL_NAMES = [c.value for c in Channel]
# Re-exported: other command modules (the daemon's) import these names from here.
__all__ = ["actor_of", "add_commands", "add_common", "context", "database", "view_json"]

FULFILMENTS = register.ACTIONS
DONE = {
    "reply": "replied",
    "callback": "called back",
    "answer": "answered",
    "pause": "paused",
    "resume": "resumed",
    "close": "closed",
}


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    init = sub.add_parser("init", help="create or upgrade the database schema (idempotent)")
    init.set_defaults(handler=cmd_init)
    _add_add(sub)
    _add_actions(sub)
    _add_reading(sub)
    _add_maintenance(sub)
    _add_corrections(sub)


def _add_add(sub: argparse._SubParsersAction[Any]) -> None:
    add = sub.add_parser("add", help="register an inquiry; prints its ref")
    add.add_argument(
        "--channel", required=True, help=f"how it came in: one of {', '.join(CHANNEL_NAMES)}"
    )
    add.add_argument(
        "--department", required=True, help="a configured department (`svarfrist config show`)"
    )
    add.add_argument(
        "--received",
        help="when it was received (ISO 8601, local time unless an offset is given; "
        "default now; not in the future, not before 1900)",
    )
    add.add_argument("--topic", help="a configured topic (`svarfrist config show`)")
    add.add_argument(
        "--advisor", help="the advisor's e-mail address (gets the reminders; case-insensitive)"
    )
    add.add_argument("--callback", action="store_true", help="the citizen asked to be called back")
    add.add_argument(
        "--ref", help="use this ref instead of a generated one (letters, digits, .-/_)"
    )
    add.add_argument("--note", help="free text; never mailed, logged or reported; purged")
    add.add_argument("--json", action="store_true", help="print the inquiry as JSON")
    add_office(add, "the office it came to: its calendar, rules and departments")
    add_common(add, writes=True)
    add.set_defaults(handler=cmd_add)


def _add_actions(sub: argparse._SubParsersAction[Any]) -> None:
    helps = {
        "reply": "the citizen got a reply: fulfils `reply`",
        "callback": "the citizen was called back: fulfils `callback`",
        "answer": "the citizen got the final answer: fulfils `answer`",
        "pause": "stop the clocks while waiting for the citizen",
        "resume": "restart the clocks",
        "close": "close; fulfils every obligation still pending",
    }
    for name, text in helps.items():
        p = sub.add_parser(name, help=text)
        p.add_argument("ref", help="the inquiry's ref, e.g. 2026-000001")
        p.add_argument("--at", help="when it happened (ISO 8601; default now; not in the future)")
        add_common(p, writes=True)
        p.set_defaults(handler=cmd_fulfil, operation=name)


def _add_reading(sub: argparse._SubParsersAction[Any]) -> None:
    show = sub.add_parser("show", help="one inquiry with its obligations")
    show.add_argument("ref", help="the inquiry's ref, e.g. 2026-000001")
    show.add_argument("--json", action="store_true", help="as JSON, with the note and pauses")
    add_office(show, "only if it is this office's inquiry")
    add_common(show, writes=False)
    show.set_defaults(handler=cmd_show)

    lst = sub.add_parser("list", help="inquiries, earliest next deadline first")
    states = [s.value for s in queries.ListState]
    lst.add_argument(
        "--state",
        default="open",
        choices=states,
        help=f"which inquiries: one of {', '.join(states)} (default open)",
    )
    lst.add_argument("--advisor", help="only this advisor's inquiries (e-mail address)")
    lst.add_argument("--department", help="only this configured department's inquiries")
    lst.add_argument("--json", action="store_true", help="as a JSON array, oldest received first")
    add_office(lst, "only this office's inquiries")
    add_common(lst, writes=False)
    lst.set_defaults(handler=cmd_list)


def _add_maintenance(sub: argparse._SubParsersAction[Any]) -> None:
    purge = sub.add_parser("purge", help="erase notes of inquiries closed beyond retention")
    add_office(
        purge,
        "only this office's inquiries (default: every office, each by its own retention_days)",
    )
    add_common(purge, writes=True)
    purge.set_defaults(handler=cmd_purge)

    rec = sub.add_parser("recompute", help="recompute open obligations after a rule change")
    rec.add_argument("--dry-run", action="store_true", help="list what would move; write nothing")
    rec.add_argument("--json", action="store_true", help="as JSON")
    add_office(rec, "recompute only this office's inquiries")
    add_common(rec, writes=True)
    rec.set_defaults(handler=cmd_recompute)


def _add_corrections(sub: argparse._SubParsersAction[Any]) -> None:
    assign = sub.add_parser(
        "assign", help="give an open inquiry to another advisor; moves its unsent reminders"
    )
    assign.add_argument("ref")
    assign.add_argument("--advisor", required=True, help="the new advisor's e-mail address")
    add_common(assign, writes=True)
    assign.set_defaults(handler=cmd_assign)

    reopen = sub.add_parser("reopen", help="open a closed inquiry again; deadlines recomputed")
    reopen.add_argument("ref")
    add_common(reopen, writes=True)
    reopen.set_defaults(handler=cmd_reopen)

    undo = sub.add_parser(
        "undo",
        help="revert the inquiry's last change (reply, callback, answer, pause, resume, "
        "close, assign, reopen); repeat to go further back",
    )
    undo.add_argument("ref")
    undo.add_argument(
        "--event",
        type=int,
        metavar="ID",
        help="only if the last change is still this event (its id in show --json's "
        "last_change): else refused, nothing undone",
    )
    add_common(undo, writes=True)
    undo.set_defaults(handler=cmd_undo)


# -- commands -------------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    if not args.verbose:  # Alembic narrates every step at INFO; one summary line is enough
        logging.getLogger("alembic").setLevel(logging.WARNING)
    with database(require_schema=False) as engine:
        before = schema.current_revision(engine)
        schema.upgrade(engine, calendar=calendar())
        after = schema.current_revision(engine)
    warn_if_exposed()
    if before == after:
        out(f"database schema is current ({after})")
    elif before is None:
        out(f"database schema created ({after})")
    else:
        out(f"database schema upgraded from {before} to {after}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    now = now_of(args)
    received = now if args.received is None else parse_time(args.received, "--received")
    new = NewInquiry(
        channel=args.channel,
        department=args.department,
        received_at=received,
        topic=args.topic,
        advisor=args.advisor,
        callback_requested=args.callback,
        ref=args.ref,
        note=args.note,
        office=office_of(args),
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
    at = now if args.at is None else parse_time(args.at, "--at")
    ctx = context(args, now)
    with database() as engine, transaction(session_factory(engine)) as session:
        moves = FULFILMENTS[args.operation](session, ctx, args.ref, at)
    out(f"{args.ref} {DONE[args.operation]} at {format_time(at)}")
    print_moves(moves)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    now = now_of(args)
    with database() as engine, session_factory(read_only(engine))() as session:
        view = queries.show(session, args.ref, now, office_scope(args))
        failed = outbox.delivery_failures(session, [view.ref])  # reminder e-mails (issue 4)
        trail = history.history(session, view.ref)
    if args.json:
        data = view_json(view, full=True) | delivery.failures_json(failed, view.ref)
        history_json = {"history": [_history_json(e) for e in trail]}
        undoable = {"last_change": change_document(history.last_change(trail))}
        print_json(data | history_json | undoable)
    else:
        print_view(view)
        delivery.print_failures(failed, view.ref)
        _print_history(trail)
    return 0


def _history_json(entry: history.HistoryEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "event": entry.kind,
        "at": format_time(entry.at),
        "recorded_at": format_time(entry.recorded_at),
        "as_of": format_time(entry.as_of),
        "actor": entry.actor,
        "os_user": entry.os_user,
        "details": entry.details,
    }


def _print_history(trail: list[history.HistoryEntry]) -> None:
    """The audit trail: what, when it says it happened, when it was really recorded, by
    whom (the named actor, and the operating-system user where it differs). Never a note."""
    for e in trail:
        who = e.actor if e.os_user in (None, e.actor) else f"{e.actor} (os user {e.os_user})"
        what = escape_controls(_describe(e))
        out(
            f"history:     {format_time(e.at)}  {what}  by {who}  "
            f"recorded {format_time(e.recorded_at)}"
        )


def _describe(e: history.HistoryEntry) -> str:
    d = e.details
    if e.kind == register.EventKind.ASSIGNED:
        return f"assigned {d.get('from') or '-'} -> {d.get('to')}"
    if e.kind == register.EventKind.UNDONE:
        return f"undone: {d.get('undoes')} at {format_time(_parse(d.get('undoes_at')))}"
    moved = len(d.get("moved", []))
    return e.kind + (f" ({moved} deadline{'s' if moved != 1 else ''} moved)" if moved else "")


def _parse(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def cmd_list(args: argparse.Namespace) -> int:
    now = now_of(args)
    state = queries.ListState(args.state)
    advisor = validate.advisor(args.advisor) if args.advisor else None
    department = args.department
    scope = office_scope(args)
    if department is not None:
        # that office's departments, or without --office any office's
        known = departments_of(offices(), given_office(args))
        validate.department(department, known)
    with database() as engine, session_factory(read_only(engine))() as session:
        failed = outbox.delivery_failures(session)  # reminder e-mails (issue 4)
        views = queries.list_inquiries(
            session,
            state,
            now,
            advisor,
            department=department,
            by_deadline=not args.json,
            scope=scope,
        )
        if args.json:  # docs/contract.md: received order, as it always was
            _stream_json_array(view_json(v) | delivery.failures_json(failed, v.ref) for v in views)
        else:
            language = settings().reminders.language
            print_list(
                (list_row(v, language, delivery.failure_suffix(failed, v.ref)) for v in views),
                language,
            )
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
    office = given_office(args)
    with database() as engine:
        with transaction(session_factory(engine)) as session:
            count = register.purge(session, ctx, office)
        # The erased notes are still in the write-ahead log until it is checkpointed.
        emptied = checkpoint(engine)
    days = register.retention(ctx)
    if office is not None:
        beyond = f"more than {days[office]} days ago (office {office})"
    elif len(set(days.values())) == 1:
        beyond = f"more than {days[DEFAULT_OFFICE]} days ago"
    else:
        each = ", ".join(f"{key} {d} days" for key, d in days.items())
        beyond = f"beyond their office's retention ({each})"
    out(f"purged the notes of {count} inquiries closed {beyond}")
    if not emptied:
        sys.stderr.write(
            "warning: a reader kept the write-ahead log busy: the erased notes stay in the "
            "-wal file until its next checkpoint; run purge again when it is idle\n"
        )
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    ctx = context(args, now_of(args))
    with database() as engine, transaction(session_factory(engine)) as session:
        done = history.assign(session, ctx, args.ref, args.advisor)
    moved = done.moved_messages
    out(
        f"{args.ref} assigned to {done.advisor} (was {done.previous or 'unassigned'}); "
        f"{moved} unsent reminder{'s' if moved != 1 else ''} moved"
    )
    return 0


def cmd_reopen(args: argparse.Namespace) -> int:
    ctx = context(args, now_of(args))
    with database() as engine, transaction(session_factory(engine)) as session:
        moves = history.reopen(session, ctx, args.ref)
    out(f"{args.ref} reopened")
    print_moves(moves)
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    ctx = context(args, now_of(args))
    with database() as engine, transaction(session_factory(engine)) as session:
        done = history.undo(session, ctx, args.ref, args.event)
    out(f"{args.ref}: undid {done.kind.value} at {format_time(done.at)}")
    print_moves(done.moves)
    return 0


def cmd_recompute(args: argparse.Namespace) -> int:
    ctx = context(args, now_of(args))
    office = given_office(args)
    with database() as engine:
        if args.dry_run:  # a session that is never committed: rolled back on close
            with session_factory(engine)() as session:
                moves = recompute(session, ctx, dry_run=True, office=office)
        else:
            with transaction(session_factory(engine)) as session:
                moves = recompute(session, ctx, dry_run=False, office=office)
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
