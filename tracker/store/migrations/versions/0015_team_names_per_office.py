"""Team names are unique within an office, not across offices: ``UNIQUE (office, name)``
on ``teams`` instead of ``UNIQUE (name)``.

In a shared deployment every municipality has its "Borgerservice" team; with one name per
deployment the second office to choose it was refused. No row changes: names unique across
offices are unique within each.

SQLite cannot drop a table constraint in place, so there the table is rebuilt (Alembic's
batch mode: copy, drop, rename). Dropping ``teams`` with foreign keys on deletes the
members of every team by their ``ON DELETE CASCADE``, so they are read first and written
back after the rebuild; the teams keep their ids. PostgreSQL changes the constraints in
place.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 17:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MEMBERS = sa.table("team_members", sa.column("team_id", sa.Integer), sa.column("advisor"))


def upgrade() -> None:
    _replace_unique(drop="uq_teams_name", create=("uq_teams_office_name", ["office", "name"]))


def downgrade() -> None:
    _replace_unique(drop="uq_teams_office_name", create=("uq_teams_name", ["name"]))


def _replace_unique(*, drop: str, create: tuple[str, list[str]]) -> None:
    bind = op.get_bind()
    rebuilt = bind.dialect.name == "sqlite"
    members = bind.execute(sa.select(_MEMBERS.c.team_id, _MEMBERS.c.advisor)).all()
    with op.batch_alter_table("teams") as batch:
        batch.drop_constraint(drop, type_="unique")
        batch.create_unique_constraint(*create)
    if rebuilt:
        bind.execute(sa.delete(_MEMBERS))  # whatever the cascade left
        if members:
            bind.execute(sa.insert(_MEMBERS), [{"team_id": t, "advisor": a} for t, a in members])
