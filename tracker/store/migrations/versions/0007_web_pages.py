"""The web pages' log-in throttling and the one-click mail links' single use.

``login_attempts``: failed log-ins (a SHA-256 key and a time), counted per key over a window.
``used_links``: the id of every mail link that has acted, so that a link works once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_attempts"),
    )
    op.create_index("ix_login_attempts_key_at", "login_attempts", ["key", "at"])
    op.create_table(
        "used_links",
        sa.Column("link_id", sa.String(64), nullable=False),
        sa.Column("used_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("link_id", name="pk_used_links"),
    )


def downgrade() -> None:
    op.drop_table("used_links")
    op.drop_index("ix_login_attempts_key_at", table_name="login_attempts")
    op.drop_table("login_attempts")
