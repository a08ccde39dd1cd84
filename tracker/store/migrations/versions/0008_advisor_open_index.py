"""An advisor's open inquiries off one index: (advisor, closed_at) instead of (advisor).

``WHERE closed_at IS NULL AND advisor = ?`` (the API's list and *Mine frister*, the
command line's ``list --advisor``) read every open inquiry off the (closed_at, received_at)
index at 1,000,000 inquiries, where the advisor index alone looked worse to SQLite's
planner: 20,000 rows for 50 (bench/web.py). The new index finds exactly the advisor's open
ones; as a prefix it still serves every other ``--advisor`` query, so the old one goes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_inquiries_advisor_closed_at", "inquiries", ["advisor", "closed_at"])
    op.drop_index("ix_inquiries_advisor", table_name="inquiries")


def downgrade() -> None:
    op.create_index("ix_inquiries_advisor", "inquiries", ["advisor"])
    op.drop_index("ix_inquiries_advisor_closed_at", table_name="inquiries")
