"""Users and API tokens tied to departments (``web.restrict_departments``).

A text column holding a JSON array of department names on each row, not a join table:
departments are configuration, not rows, so a join table would have nothing to reference,
and the column comes with the row every request already reads (the token's or the user's),
with no second query on the API's hot path. ``[]``: no department.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("users", "api_tokens")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("departments", sa.Text(), nullable=False, server_default="[]")
            )


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("departments")
