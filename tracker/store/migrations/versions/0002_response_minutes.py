"""obligations.response_minutes: the stored response time of a met obligation.

Working minutes from received to met on the obligation's schedule, pauses excluded (see
tracker/response.py), so reports group by an integer instead of calling the calendar per
row. Existing met obligations are filled here in batches, by the function tracker.store.schema
passes in ``config.attributes`` (a migration does not import tracker: it must keep meaning
what it meant when written). Run without it (bare ``alembic upgrade``), the column stays
NULL for old rows: the reports count them but give them no response time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:20:00
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5_000
ATTRIBUTE = "svarfrist_response_minutes"

_TS = sa.DateTime(timezone=True)
obligations = sa.table(
    "obligations",
    sa.column("id", sa.Integer()),
    sa.column("inquiry_id", sa.Integer()),
    sa.column("schedule", sa.String()),
    sa.column("met_at", _TS),
    sa.column("response_minutes", sa.Integer()),
)
inquiries = sa.table("inquiries", sa.column("id", sa.Integer()), sa.column("received_at", _TS))
pauses = sa.table(
    "pauses",
    sa.column("inquiry_id", sa.Integer()),
    sa.column("start", _TS),
    sa.column("end", _TS),
)


def _aware(moment: datetime) -> datetime:
    """SQLite stores naive UTC; PostgreSQL returns aware times."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def upgrade() -> None:
    with op.batch_alter_table("obligations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response_minutes", sa.Integer(), nullable=True))
    config = op.get_context().config
    minutes = None if config is None else config.attributes.get(ATTRIBUTE)
    if minutes is not None:
        _backfill(op.get_bind(), minutes)


def _backfill(bind: sa.Connection, minutes: Any) -> None:
    """Every met obligation's response time, BATCH rows at a time in id order."""
    last = 0
    update = (
        sa.update(obligations)
        .where(obligations.c.id == sa.bindparam("oid"))
        .values(response_minutes=sa.bindparam("minutes"))
    )
    while True:
        rows = bind.execute(
            sa.select(
                obligations.c.id,
                obligations.c.inquiry_id,
                obligations.c.schedule,
                inquiries.c.received_at,
                obligations.c.met_at,
            )
            .select_from(obligations.join(inquiries, inquiries.c.id == obligations.c.inquiry_id))
            .where(obligations.c.id > last, obligations.c.met_at.is_not(None))
            .order_by(obligations.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        paused: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
        for inquiry_id, start, end in bind.execute(
            sa.select(pauses.c.inquiry_id, pauses.c.start, pauses.c.end).where(
                pauses.c.inquiry_id.in_({row[1] for row in rows})
            )
        ):
            paused[inquiry_id].append((_aware(start), None if end is None else _aware(end)))
        values = [
            {
                "oid": oid,
                "minutes": minutes(schedule, _aware(received), _aware(met), paused.get(iid, [])),
            }
            for oid, iid, schedule, received, met in rows
        ]
        bind.execute(update, values)


def downgrade() -> None:
    with op.batch_alter_table("obligations", schema=None) as batch_op:
        batch_op.drop_column("response_minutes")
