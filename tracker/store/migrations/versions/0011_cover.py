"""Teams and cover: ``teams``, ``team_members``, ``absences`` (new tables only: nothing
existing is altered, so no SQLite batch copy can touch ``inquiries``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
        sa.UniqueConstraint("name", name="uq_teams_name"),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("advisor", sa.String(320), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_team_members_team_id_teams", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_id", "advisor", name="pk_team_members"),
    )
    op.create_index("ix_team_members_advisor", "team_members", ["advisor"])
    op.create_table(
        "absences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("advisor", sa.String(320), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("substitute", sa.String(320), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_absences"),
    )
    op.create_index("ix_absences_advisor_last_day", "absences", ["advisor", "last_day"])


def downgrade() -> None:
    op.drop_index("ix_absences_advisor_last_day", table_name="absences")
    op.drop_table("absences")
    op.drop_index("ix_team_members_advisor", table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
