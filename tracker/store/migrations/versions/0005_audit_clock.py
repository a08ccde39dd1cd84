"""events.as_of and .os_user: an audit trail a back-dated command cannot forge; advisors
folded to lower case.

* ``events.recorded_at`` becomes the real clock when the event was recorded (the shell reads
  it once per command), and the new ``as_of`` holds the command's ``now``, which ``--now``
  may set to any time. Before this revision both were one value, recorded_at = the
  command's now: the fill copies it into ``as_of``, so existing rows read "recorded at the
  time the command said" and nothing more, which is all that is known about them.
* ``events.os_user``: the operating-system user that ran the command, beside the ``actor``
  it named. Existing rows keep NULL: "recorded before schema 0005, user not known".
* ``inquiries.advisor``: addresses are case-insensitive and are stored in lower case from
  now on, so existing ones are folded the same way (Python's ``str.lower``, the advisor
  validator's rule, not SQL ``lower()``, which on SQLite folds ASCII only).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
events = sa.table("events", sa.column("recorded_at", _TS), sa.column("as_of", _TS))
inquiries = sa.table("inquiries", sa.column("advisor", sa.String()))


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("as_of", _TS, nullable=True))
        batch_op.add_column(sa.Column("os_user", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    bind.execute(sa.update(events).values(as_of=events.c.recorded_at))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("as_of", existing_type=_TS, nullable=False)
    _fold_advisors(bind)


def _fold_advisors(bind: sa.Connection) -> None:
    found = bind.execute(sa.select(inquiries.c.advisor).distinct()).scalars()
    for advisor in [a for a in found if a is not None and a != a.lower()]:
        bind.execute(
            sa.update(inquiries)
            .where(inquiries.c.advisor == advisor)
            .values(advisor=advisor.lower())
        )


def downgrade() -> None:
    # The advisors' original case is not kept anywhere: folding them is one-way.
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("os_user")
        batch_op.drop_column("as_of")
