"""Plumbing shared by the commands that use the database: opening it, the audit actor,
the operation context. Database trouble becomes one ``error:`` line with exit status 1,
never a traceback, and never SQL parameters, which could hold a note.
"""

from __future__ import annotations

import argparse
import getpass
import os
import pwd
import stat
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError

from tracker.cli.common import offices, settings
from tracker.config import DEFAULT_OFFICE, config_path, resolve_office
from tracker.core import validate
from tracker.errors import BadInputError, EnvironmentFailure
from tracker.store import schema
from tracker.store.db import database_files, make_engine, sqlite_path
from tracker.store.register import Context
from tracker.store.scope import EVERYTHING, Scope


def add_common(parser: argparse.ArgumentParser, *, writes: bool) -> None:
    parser.add_argument("--now", help="behave as if it were this time (ISO 8601)")
    if writes:
        parser.add_argument("--actor", help="who does this, for the audit trail (default $USER)")


def add_office(parser: argparse.ArgumentParser, what: str) -> None:
    """``--office KEY``: ``what`` the option does (an office of ``[offices]``, or default)."""
    parser.add_argument("--office", help=f"{what} (a key of [offices], or default)")


def office_of(args: argparse.Namespace) -> str:
    """The ``--office`` given (default: ``default``); an unknown one is exit 2 naming the
    known offices."""
    return resolve_office(settings(), getattr(args, "office", None))


def given_office(args: argparse.Namespace) -> str | None:
    """The ``--office`` given (checked as :func:`office_of`), or None without one: every
    office."""
    return office_of(args) if getattr(args, "office", None) is not None else None


def office_scope(args: argparse.Namespace) -> Scope:
    """Every inquiry, or with ``--office`` that office's alone."""
    given = given_office(args)
    return EVERYTHING if given is None else EVERYTHING.narrowed_to_office(given)


@contextmanager
def database(*, require_schema: bool = True) -> Iterator[Engine]:
    """The configured database; its failures become EnvironmentFailure (exit status 1)."""
    url = settings().database_url
    try:
        engine = make_engine(url, create=not require_schema)  # only `init` creates a file
    except OSError as exc:
        raise EnvironmentFailure(f"cannot open the database: {exc}") from None
    try:
        if require_schema:
            schema.require_current(engine)
        yield engine
    except IntegrityError as exc:
        raise BadInputError(f"conflicting write, nothing written: {_reason(exc)}") from None
    except DBAPIError as exc:
        raise EnvironmentFailure(f"database {_safe_url(engine)}: {_reason(exc)}") from None
    finally:
        engine.dispose()


def _reason(exc: DBAPIError) -> str:
    # Only the driver's message: SQLAlchemy's own text appends the SQL parameters.
    lines = str(exc.orig).strip().splitlines()
    return lines[0] if lines else type(exc.orig).__name__


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def actor_of(args: argparse.Namespace) -> str:
    given = getattr(args, "actor", None)
    if given:
        return validate.actor(given)
    try:
        user = os.environ.get("USER") or getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return "".join(c if validate.ACTOR_RE.fullmatch(c) else "_" for c in user)[:64] or "unknown"


def os_user() -> str | None:
    """The operating-system user running the command, for the audit trail: the password
    database's name for the real uid, not $USER, which the caller sets as it likes."""
    try:
        name = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid with no passwd entry (a container, systemd's DynamicUser)
        name = f"uid {os.getuid()}"
    return name[:64]


def context(args: argparse.Namespace, now: datetime) -> Context:
    """The operation context; the real clock is read here, once, unless ``now`` is it."""
    recorded = now if getattr(args, "now", None) is None else datetime.now(UTC)
    default = offices()[DEFAULT_OFFICE]  # the top level, with [offices.default] if given
    return Context(
        settings=default.settings,
        calendar=default.calendar,
        rules=default.rules,
        offices=offices(),
        actor=actor_of(args),
        now=now,
        recorded_at=recorded,
        os_user=os_user(),
    )


def refuse_database_output(output: str, option: str = "--output") -> None:
    """Refuse to write a command's output over the database's own files (the file, its
    -wal, -shm or -journal, symlinks resolved): a report must never replace the register."""
    target = Path(output).resolve()
    if target in database_files(settings().database_url):
        raise BadInputError(f"{option}: {output} is a file of the database itself")


def warn_if_exposed() -> None:
    """One ``warning:`` line each when the SQLite file, or a config file holding a password,
    can be read by users other than its owner (notes, and the keys to the mail server)."""
    path = sqlite_path(settings().database_url)
    if path is not None and path.exists():
        _warn_mode(path, "the database")
    config = config_path()
    if config is not None and config.is_file() and _holds_password(config):
        _warn_mode(config, "the config file, which holds a password,")


def _warn_mode(path: Path, what: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        sys.stderr.write(
            f"warning: {what} {path} is readable by other users (mode {mode:04o}): "
            f"chmod 600 {path}\n"
        )


def _holds_password(config: Path) -> bool:
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # load_settings has already refused a broken file
        return False
    smtp = data.get("smtp")
    if isinstance(smtp, dict) and smtp.get("password"):
        return True
    url = data.get("database_url")
    try:
        return isinstance(url, str) and make_url(url).password is not None
    except (ArgumentError, ValueError):  # a malformed URL: make_engine names it
        return False
