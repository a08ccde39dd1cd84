"""Mail intake: progress by UIDVALIDITY + UID, keyed hashes for threading, the per-sender cap,
the moves still to do; the ``answer`` fulfilment and promise on inquiries.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN, not batch mode: on SQLite batch mode may copy and
    # drop ``inquiries``, and dropping it deletes every obligation, pause and event through
    # their ON DELETE CASCADE (the connection runs with foreign keys on).
    op.add_column("inquiries", sa.Column("answered_at", _TS, nullable=True))
    op.add_column(
        "inquiries",
        sa.Column("answer_promised", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "intake_progress",
        sa.Column("folder", sa.String(200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("folder", name="pk_intake_progress"),
    )
    op.create_table(
        "intake_threads",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("inquiry_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inquiry_id"],
            ["inquiries.id"],
            name="fk_intake_threads_inquiry_id_inquiries",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name="pk_intake_threads"),
    )
    op.create_index("ix_intake_threads_inquiry_id", "intake_threads", ["inquiry_id"])
    op.create_table(
        "intake_sender_days",
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sender", "day", name="pk_intake_sender_days"),
    )
    op.create_table(
        "intake_moves",
        sa.Column("folder", sa.String(200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("folder", "uidvalidity", "uid", name="pk_intake_moves"),
    )


def downgrade() -> None:
    op.drop_table("intake_moves")
    op.drop_table("intake_sender_days")
    op.drop_index("ix_intake_threads_inquiry_id", table_name="intake_threads")
    op.drop_table("intake_threads")
    op.drop_table("intake_progress")
    with op.batch_alter_table("inquiries") as batch:
        batch.drop_column("answer_promised")
        batch.drop_column("answered_at")
