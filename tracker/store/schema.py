"""The database schema's version: create or upgrade it (``svarfrist init``) and check it.

Alembic is configured here in code (the scripts live in ``tracker/store/migrations``), so users
need no alembic.ini. Everyday commands and the daemon call :func:`require_current`, which
reads one row and compares it with :data:`HEAD_REVISION` without loading Alembic; a test
keeps that constant equal to the newest migration script's revision.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from tracker.errors import EnvironmentFailure

if TYPE_CHECKING:
    from alembic.config import Config

    from tracker.core.calendar import BusinessCalendar

HEAD_REVISION = "0016"
"""The newest revision in tracker/store/migrations/versions. Update it with every new migration."""

VERSION_TABLE = "alembic_version"
INIT_LOCK = 0x5376_6672  # "Svfr": the advisory lock key that serialises `init` on PostgreSQL
MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic Config pointing at the packaged scripts (and ``engine``'s URL if given)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
        config.set_main_option("sqlalchemy.url", url)
    return config


def script_head() -> str:
    """The head revision according to the migration scripts themselves."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise EnvironmentFailure("no migration scripts found in tracker/store/migrations")
    return head


def upgrade(
    engine: Engine, revision: str = "head", calendar: BusinessCalendar | None = None
) -> None:
    """Create the schema or upgrade it to ``revision``; idempotent, one transaction.

    ``calendar`` (default: the built-in one; ``init`` passes the configured one) is what
    data migrations measure working time with: 0002 fills the stored response times.

    On PostgreSQL an advisory lock makes replicas that run ``init`` at the same moment take
    turns (the second finds the schema current); SQLite's BEGIN IMMEDIATE does the same.
    """
    from alembic import command
    from alembic.util import CommandError

    from tracker.core.calendar import BusinessCalendar
    from tracker.core.response import BACKFILL_ATTRIBUTE, backfill_function

    config = alembic_config(engine)
    config.attributes[BACKFILL_ATTRIBUTE] = backfill_function(calendar or BusinessCalendar())
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": INIT_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except CommandError as exc:
        # Typically a database migrated by a newer Svarfrist than this one.
        raise EnvironmentFailure(
            f"cannot migrate the database schema: {exc} (this Svarfrist knows up to "
            f"{HEAD_REVISION})"
        ) from None


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty (uninitialised) database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        row = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
    return None if row is None else str(row[0])


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == HEAD_REVISION


def require_current(engine: Engine) -> None:
    """Raise EnvironmentFailure unless the schema is exactly what this Svarfrist expects."""
    found = current_revision(engine)
    if found == HEAD_REVISION:
        return
    if found is None:
        raise EnvironmentFailure(
            f"the database has no Svarfrist schema, this Svarfrist needs {HEAD_REVISION}: "
            "run `svarfrist init`"
        )
    if not (found.isdigit() and int(found) < int(HEAD_REVISION)):
        # Migrated by a newer Svarfrist (the package was downgraded): init cannot go back.
        raise EnvironmentFailure(
            f"database schema is at {found}, newer than this Svarfrist knows "
            f"({HEAD_REVISION}): run the Svarfrist version that migrated it"
        )
    raise EnvironmentFailure(
        f"database schema is at {found}, this Svarfrist needs {HEAD_REVISION}: run `svarfrist init`"
    )
