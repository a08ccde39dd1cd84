"""Teams and absences belong to an office: an ``office`` column on ``teams`` and ``absences``.

A user or token of one office sees and manages that office's teams and absences only (as
its inquiries); every existing row becomes one of the office ``default`` by the column's
server default, which users and tokens of every office (``*``) see as before. A catalogue
change on PostgreSQL (11+), a plain ALTER on SQLite: no table is copied.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 05:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("teams", "absences")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(
            table, sa.Column("office", sa.String(32), nullable=False, server_default="default")
        )


def downgrade() -> None:
    for table in _TABLES:
        op.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN office"))
