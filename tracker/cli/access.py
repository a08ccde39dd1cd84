"""``svarfrist token ...`` (HTTP API bearer tokens) and ``svarfrist user ...`` (the web
app's local accounts). A token is printed once, at creation; only its hash is stored.
A password is read from standard input (a pipe) or prompted for twice (a terminal)."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from tracker.cli.common import format_time, offices, out, print_json, settings
from tracker.cli.database import database
from tracker.config import departments_of, resolve_office
from tracker.core import validate
from tracker.errors import BadInputError
from tracker.store import access
from tracker.store.access import Role
from tracker.store.db import read_only, session_factory, transaction
from tracker.store.scope import ALL_OFFICES

ROLES = [r.value for r in Role]


def _clock() -> datetime:
    # The real clock, never --now: who was given access when is an audit fact.
    return datetime.now(UTC)


ROLE_HELP = "advisor (acts on inquiries), lead (also), manager (reports), admin (all)"
DEPARTMENT_HELP = (
    "a configured department it works in (repeatable); with web.restrict_departments it "
    "sees and acts only on these departments' inquiries"
)


def _department_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--department",
        action="append",
        default=[],
        dest="departments",
        metavar="D",
        help=DEPARTMENT_HELP,
    )
    parser.add_argument(
        "--office",
        metavar="KEY",
        help="the office it works in: it sees and acts only on that office's inquiries "
        "(default every office)",
    )


def _tie(args: argparse.Namespace) -> tuple[str, list[str]]:
    """The office given (``*``: every office) and the departments ``--department`` may name:
    that office's, or every office's."""
    if args.office is None:
        return ALL_OFFICES, departments_of(offices())
    key = resolve_office(settings(), args.office)
    return key, departments_of(offices(), key)


def _reach_text(office: Any, departments: Any) -> str:
    """What a user or token may see, as the text lists say it: its office, where it is tied
    to one (the JSON's ``office``; every office, ``*``, says nothing), and its departments."""
    listed = ", ".join(departments) if departments else "no department"
    return listed if office == ALL_OFFICES else f"office {office}  {listed}"


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    token = sub.add_parser("token", help="HTTP API bearer tokens: create, list, revoke")
    tokens = token.add_subparsers(dest="action", required=True, parser_class=type(token))
    create = tokens.add_parser("create", help="create a token and print it (only this once)")
    create.add_argument("--name", required=True, help="who uses it; the audit trail's actor")
    create.add_argument("--role", required=True, choices=ROLES, help=ROLE_HELP)
    _department_option(create)
    create.set_defaults(handler=cmd_token_create)
    lst = tokens.add_parser("list", help="names, roles, created, last used (never the token)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_token_list)
    revoke = tokens.add_parser("revoke", help="revoke the live token of this name")
    revoke.add_argument("name")
    revoke.set_defaults(handler=cmd_token_revoke)

    user = sub.add_parser("user", help="local accounts of the web app: add, list, remove")
    users = user.add_subparsers(dest="action", required=True, parser_class=type(user))
    add = users.add_parser("add", help="add a user; the password from stdin or a prompt")
    add.add_argument("email", help="the login name and the advisor address")
    add.add_argument("--role", required=True, choices=ROLES, help=ROLE_HELP)
    _department_option(add)
    add.set_defaults(handler=cmd_user_add)
    ulist = users.add_parser("list", help="addresses, roles, created, last login")
    ulist.add_argument("--json", action="store_true")
    ulist.set_defaults(handler=cmd_user_list)
    remove = users.add_parser("remove", help="remove a user")
    remove.add_argument("email")
    remove.set_defaults(handler=cmd_user_remove)


def cmd_token_create(args: argparse.Namespace) -> int:
    from tracker.web.auth import new_token, token_digest

    token = new_token()
    office, configured = _tie(args)
    with database() as engine, transaction(session_factory(engine)) as session:
        access.add_token(
            session,
            name=args.name,
            role_name=args.role,
            digest=token_digest(token),
            now=_clock(),
            departments=args.departments,
            configured=configured,
            office=office,
        )
    sys.stderr.write(f"token {args.name!r} ({args.role}): shown this once, keep it safe\n")
    out(token)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    with database() as engine, session_factory(read_only(engine))() as session:
        found = access.tokens(session)
    rows = [
        {
            "name": t.name,
            "role": t.role.value,
            "created_at": format_time(t.created_at),
            "last_used_at": format_time(t.last_used_at),
            "revoked_at": format_time(t.revoked_at),
            "departments": list(t.departments),
            "office": t.office,
        }
        for t in found
    ]
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "live"
        used = r["last_used_at"] or "never used"
        out(
            f"{r['name']}  {r['role']}  {_reach_text(r['office'], r['departments'])}  "
            f"created {r['created_at']}  {used}  {state}"
        )
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    with database() as engine, transaction(session_factory(engine)) as session:
        access.revoke_token(session, args.name, _clock())
    out(f"token {args.name!r} revoked")
    return 0


def read_password() -> str:
    """From a terminal: prompted twice; from a pipe: the first line. Text as any other
    (validate.text: bytes that are not UTF-8 cannot be hashed, and the value is not shown)."""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise BadInputError("the two passwords differ")
        password = first
    else:  # bytes, whatever the locale: what is not UTF-8 stays to be refused by name
        password = sys.stdin.buffer.readline().decode("utf-8", "surrogateescape")
        password = password.rstrip("\r\n")
    validate.text(password, "password")
    from tracker.web.auth import MIN_PASSWORD_LENGTH

    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadInputError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password


def cmd_user_add(args: argparse.Namespace) -> int:
    from tracker.web.auth import hash_password

    office, configured = _tie(args)
    # The address and the departments first, by the rules add_user applies: nobody types a
    # password to be told then that the address or a department was wrong.
    validate.advisor(args.email)
    for department in args.departments:
        validate.department(department, configured)
    password_hash = hash_password(read_password())
    with database() as engine, transaction(session_factory(engine)) as session:
        email = access.add_user(
            session,
            email=args.email,
            role_name=args.role,
            password_hash=password_hash,
            now=_clock(),
            departments=args.departments,
            configured=configured,
            office=office,
        )
    out(f"user {email} ({args.role}) added")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    with database() as engine, session_factory(read_only(engine))() as session:
        found = access.users(session)
    rows = [
        {
            "email": u.email,
            "role": u.role.value,
            "created_at": format_time(u.created_at),
            "last_login_at": format_time(u.last_login_at),
            "departments": list(u.departments),
            "office": u.office,
            "sso": u.sso,
        }
        for u in found
    ]
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        out(
            f"{r['email']}  {r['role']}  {_reach_text(r['office'], r['departments'])}  "
            f"created {r['created_at']}  "
            f"last login {r['last_login_at'] or 'never'}" + ("  single sign-on" if r["sso"] else "")
        )
    return 0


def cmd_user_remove(args: argparse.Namespace) -> int:
    with database() as engine, transaction(session_factory(engine)) as session:
        access.remove_user(session, args.email)
    out(f"user {args.email.strip().lower()} removed")
    return 0
