"""The migrations build exactly the schema of tracker/store/models.py, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tracker.errors import EnvironmentFailure
from tracker.store import intake as intake_store
from tracker.store import schema
from tracker.store.db import make_engine, session_factory, transaction
from tracker.store.models import Base


def test_head_revision_constant_matches_the_newest_migration_script() -> None:
    assert schema.script_head() == schema.HEAD_REVISION


def test_both_configure_calls_in_env_py_use_batch_mode() -> None:
    env = (Path(schema.MIGRATIONS) / "env.py").read_text(encoding="utf-8")
    assert '"render_as_batch": True' in env
    assert env.count("**COMMON") == 2


def test_migrations_do_not_import_the_models() -> None:
    # A migration must keep meaning what it meant when written, whatever models.py becomes.
    for script in (Path(schema.MIGRATIONS) / "versions").glob("*.py"):
        assert not re.search(r"^\s*(from|import) tracker", script.read_text(), re.M), script


def test_upgrade_creates_exactly_the_models_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert schema.current_revision(engine) is None
        assert not schema.is_current(engine)
        schema.upgrade(engine)
        schema.upgrade(engine)  # idempotent
        assert schema.current_revision(engine) == schema.HEAD_REVISION
        assert schema.is_current(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_require_current_names_both_revisions_and_the_fix(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with pytest.raises(EnvironmentFailure, match="run `svarfrist init`"):
            schema.require_current(engine)
        schema.upgrade(engine)
        schema.require_current(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
        with pytest.raises(
            EnvironmentFailure, match=rf"schema is at 0000, .* needs {schema.HEAD_REVISION}"
        ):
            schema.require_current(engine)
    finally:
        engine.dispose()


def test_a_database_of_a_newer_svarfrist_is_not_sent_to_init(run_cli, database_url: str) -> None:  # type: ignore[no-untyped-def]
    """After a downgrade of the package every command said "run `svarfrist init`", which
    cannot go back: init then failed on a revision it does not know."""
    engine = make_engine(database_url)
    try:
        schema.upgrade(engine)
        newer = f"{int(schema.HEAD_REVISION) + 1:04d}"
        with engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{newer}'")
        with pytest.raises(EnvironmentFailure) as raised:
            schema.require_current(engine)
    finally:
        engine.dispose()
    assert "svarfrist init" not in str(raised.value)
    assert f"at {newer}, newer than this Svarfrist knows ({schema.HEAD_REVISION})" in str(
        raised.value
    )
    result = run_cli("status", env={"SVARFRIST_DATABASE_URL": database_url})
    assert result.returncode == 1
    assert result.stderr == f"error: {raised.value}\n"


def test_init_is_idempotent_through_the_console_script(run_cli, database_url: str) -> None:
    env = {"SVARFRIST_DATABASE_URL": database_url}
    first = run_cli("init", env=env)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    again = run_cli("init", env=env)
    assert again.returncode == 0, again.stderr
    assert "current" in again.stdout
    assert again.stderr == ""


def test_commands_refuse_an_uninitialised_database(run_cli, database_url: str) -> None:
    env = {"SVARFRIST_DATABASE_URL": database_url, "SVARFRIST_DEFAULT_RECIPIENT": "a@b.dk"}
    result = run_cli("add", "--channel", "email", "--department", "Diverse", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("error:") and "svarfrist init" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_init_on_a_database_from_a_newer_svarfrist_is_a_clear_error(
    run_cli, database_url: str
) -> None:
    engine = make_engine(database_url)
    try:
        schema.upgrade(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    finally:
        engine.dispose()
    result = run_cli("init", env={"SVARFRIST_DATABASE_URL": database_url})
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot migrate the database schema")
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_0005_keeps_old_events_as_of_their_recorded_time_and_folds_advisors(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    sqlite = engine.dialect.name == "sqlite"
    then = datetime(2020, 1, 2, 9, 5, tzinfo=UTC)
    stored = then.replace(tzinfo=None) if sqlite else then  # SQLite keeps naive UTC
    ts = sa.DateTime(timezone=True)
    inquiries = sa.table(
        "inquiries",
        *(sa.column(n) for n in ("id", "ref", "channel", "department", "advisor")),
        *(sa.column(n, sa.Boolean()) for n in ("callback_requested",)),
        *(sa.column(n, ts) for n in ("received_at", "created_at")),
    )
    events = sa.table(
        "events",
        *(sa.column(n) for n in ("id", "inquiry_id", "kind", "actor")),
        *(sa.column(n, ts) for n in ("at", "recorded_at")),
    )
    try:
        schema.upgrade(engine, "0004")
        with engine.begin() as conn:
            for i, advisor in enumerate(["Anna@Fredericia.DK", "anna@fredericia.dk", "BØRGE@x.DK"]):
                conn.execute(
                    inquiries.insert().values(
                        id=i + 1, ref=f"r{i}", channel="email", department="Diverse",
                        advisor=advisor, callback_requested=False, received_at=stored,
                        created_at=stored,
                    )
                )  # fmt: skip
            conn.execute(
                events.insert().values(
                    id=1, inquiry_id=1, kind="created", actor="someone", at=stored,
                    recorded_at=stored,
                )
            )  # fmt: skip
        schema.upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT as_of, recorded_at, os_user FROM events")).one()
            advisors = conn.execute(sa.text("SELECT advisor FROM inquiries ORDER BY id")).scalars()
            assert list(advisors) == ["anna@fredericia.dk", "anna@fredericia.dk", "børge@x.dk"]
        assert row.as_of == row.recorded_at and row.os_user is None
    finally:
        engine.dispose()


# Migration 0013: each office index and the end of its definition on each database (SQLite
# has no INCLUDE: the key columns only).
OFFICE_INDEXES = {
    "ix_inquiries_office_received_at": (
        "(office, received_at) INCLUDE (id, department, channel, topic, advisor, closed_at)",
        "(office, received_at)",
    ),
    "ix_obligations_office_outcome_received_month_due_at": (
        "(office, outcome, received_month, due_at) INCLUDE (department)",
        "(office, outcome, received_month, due_at)",
    ),
    "ix_obligations_office_inquiry_id": (
        "(office, inquiry_id) INCLUDE (met_at, due_at, outcome, response_minutes)",
        "(office, inquiry_id)",
    ),
}


def test_the_office_indexes_carry_the_reported_columns_on_postgresql(database_url: str) -> None:
    """One office's report reads these indexes alone on PostgreSQL (bench/offices.py)."""
    engine = make_engine(database_url)
    postgres = engine.dialect.name == "postgresql"
    definitions = (
        "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
        if postgres
        else "SELECT sql FROM sqlite_master WHERE name = :name"
    )
    try:
        schema.upgrade(engine)
        with engine.connect() as conn:
            for name, (on_postgres, on_sqlite) in OFFICE_INDEXES.items():
                found = conn.scalar(sa.text(definitions), {"name": name})
                assert found is not None, name
                assert found.endswith(on_postgres if postgres else on_sqlite), found
    finally:
        engine.dispose()


def test_0015_makes_team_names_unique_per_office_and_keeps_every_member(
    database_url: str,
) -> None:
    """On SQLite the table is rebuilt: with foreign keys on, dropping ``teams`` would cascade
    to ``team_members`` but for the migration writing them back."""
    engine = make_engine(database_url)
    then = datetime(2026, 12, 1, 9, tzinfo=UTC)
    teams = sa.table(
        "teams",
        *(sa.column(n) for n in ("id", "name", "actor", "office")),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    members = sa.table("team_members", sa.column("team_id"), sa.column("advisor"))
    wanted = [(1, "anne@fredericia.dk"), (1, "bo@fredericia.dk"), (2, "nina@fredericia.dk")]
    try:
        schema.upgrade(engine, "0014")
        with engine.begin() as conn:
            for team_id, name, office in [(1, "Borgerservice", "default"), (2, "Nord", "nord")]:
                conn.execute(
                    teams.insert().values(
                        id=team_id, name=name, actor="a", office=office, created_at=then
                    )
                )
            conn.execute(members.insert(), [{"team_id": t, "advisor": a} for t, a in wanted])
        schema.upgrade(engine)
        with engine.begin() as conn:
            kept = conn.execute(sa.text("SELECT team_id, advisor FROM team_members ORDER BY 2"))
            assert [tuple(r) for r in kept] == wanted
            # another office's team of the same name: allowed now; twice in one office: not
            conn.execute(
                teams.insert().values(
                    id=3, name="Borgerservice", actor="a", office="nord", created_at=then
                )
            )
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(
                teams.insert().values(id=4, name="Nord", actor="a", office="nord", created_at=then)
            )
        with engine.begin() as conn:  # the cascade still holds after the rebuild
            conn.execute(sa.text("DELETE FROM teams WHERE id = 1"))
            left = conn.execute(sa.text("SELECT advisor FROM team_members")).scalars()
            assert list(left) == ["nina@fredericia.dk"]
    finally:
        engine.dispose()


def test_0016_keeps_intake_progress_for_the_first_mailbox_to_read_on(database_url: str) -> None:
    """Progress written before it was kept per mailbox is carried on by the first intake
    that starts after the upgrade (intake.adopt), pending moves with it; another mailbox's
    INBOX starts on its own."""
    engine = make_engine(database_url)
    then = datetime(2026, 12, 1, 9, tzinfo=UTC)
    try:
        schema.upgrade(engine, "0015")
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO intake_progress (folder, uidvalidity, last_uid, updated_at)"
                    " VALUES ('INBOX', 77, 7, :then)"
                ),
                {"then": then},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO intake_moves (folder, uidvalidity, uid, target)"
                    " VALUES ('INBOX', 77, 7, 'done')"
                )
            )
        schema.upgrade(engine)
        factory = session_factory(engine)
        with transaction(factory) as session:
            intake_store.adopt(session, "a" * 64, then)
        with transaction(factory) as session:
            intake_store.adopt(session, "b" * 64, then)  # started second: nothing left
            assert intake_store.progress(session, "a" * 64, "INBOX", 77, then) == 7
            assert intake_store.pending_moves(session, "a" * 64, "INBOX", 77) == {"done": [7]}
        with transaction(factory) as session:
            assert intake_store.progress(session, "b" * 64, "INBOX", 77, then) == 0
            assert intake_store.pending_moves(session, "b" * 64, "INBOX", 77) == {}
            intake_store.advance(session, "b" * 64, "INBOX", 3, then)
        with transaction(factory) as session:
            assert intake_store.progress(session, "a" * 64, "INBOX", 77, then) == 7
            assert intake_store.progress(session, "b" * 64, "INBOX", 77, then) == 3
    finally:
        engine.dispose()
