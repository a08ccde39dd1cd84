"""Mail intake's progress and planned moves per mailbox: ``mailbox`` in the primary keys of
``intake_progress`` (mailbox, folder) and ``intake_moves`` (mailbox, folder, UIDVALIDITY, UID).

Every mailbox has an ``INBOX``: with the folder's name alone as the key, a second mailbox's
intake on the same database read the first one's progress, and its mail whose UIDs lay below
it was never registered. Existing rows get an empty ``mailbox``; the first intake to start
after the upgrade carries them on as its own (tracker.store.intake.adopt).

SQLite cannot change a primary key in place, so there the tables are rebuilt (Alembic's
batch mode); PostgreSQL changes them in place.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS = {
    "intake_progress": ["folder"],
    "intake_moves": ["folder", "uidvalidity", "uid"],
}


def upgrade() -> None:
    for table, key in _KEYS.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("mailbox", sa.String(64), nullable=False, server_default=""))
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", ["mailbox", *key])
        with op.batch_alter_table(table) as batch:
            batch.alter_column("mailbox", server_default=None)


def downgrade() -> None:
    # Back to one row per folder: of several mailboxes' rows, the first mailbox's is kept.
    bind = op.get_bind()
    for table, key in _KEYS.items():
        same = " AND ".join(f"t.{c} = {table}.{c}" for c in key)
        bind.execute(
            sa.text(
                f"DELETE FROM {table}"
                f" WHERE mailbox <> (SELECT MIN(t.mailbox) FROM {table} t WHERE {same})"
            )
        )
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", key)
            batch.drop_column("mailbox")
