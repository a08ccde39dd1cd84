"""Offices: an ``office`` column on inquiries, obligations, users and API tokens.

Every existing inquiry (and its obligations) becomes one of the office ``default`` by the
column's server default: the top-level configuration is that office's, so no deadline moves.
Users and tokens get ``*`` (every office), which is what they saw before; ``svarfrist user
add ... --office KEY`` ties one to an office. ``ADD COLUMN ... NOT NULL DEFAULT`` with a
constant is a change of the catalogue only on PostgreSQL (11+) and a plain ALTER on SQLite:
no table is copied, so an upgrade of a large register is quick.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 14:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OFFICE = {"inquiries": "default", "obligations": "default", "users": "*", "api_tokens": "*"}
_INDEXES = {
    "ix_inquiries_office_closed_at": ("inquiries", ["office", "closed_at"]),
    "ix_inquiries_office_received_at": ("inquiries", ["office", "received_at"]),
    "ix_obligations_office_outcome_received_month_due_at": (
        "obligations",
        ["office", "outcome", "received_month", "due_at"],
    ),
}


def upgrade() -> None:
    for table, default in _OFFICE.items():
        op.add_column(
            table, sa.Column("office", sa.String(32), nullable=False, server_default=default)
        )
    for name, (table, columns) in _INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in _INDEXES.items():
        op.drop_index(name, table_name=table)
    for table in _OFFICE:
        # A plain DROP COLUMN (SQLite 3.35+), not batch mode's copy of the table: dropping
        # the old inquiries table would cascade to its obligations.
        op.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN office"))
