"""The migrations build exactly the schema of tracker/store/models.py, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tracker.errors import EnvironmentFailure
from tracker.store import schema
from tracker.store.db import make_engine
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
