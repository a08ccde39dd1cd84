"""obligations.received_month, .department and .outcome: what the reports group by, stored.

* ``received_month``: the Copenhagen calendar month of the inquiry's received_at as the
  integer yyyymm (received_at never changes), so a monthly report groups obligations
  without joining their inquiries or searching month boundaries per row.
* ``department``: the inquiry's department (never changed after creation), so a
  department report counts obligations without a join.
* ``outcome``: for a met obligation ``4 * (response_minutes + 1) + late`` (late: 1 when met
  after due_at; response_minutes NULL counts as -1), NULL while unmet: the reports' GROUP BY
  key for a met obligation in one column instead of three compared per row.

Indexes on (received_month, outcome, due_at) and (department, outcome, received_month,
due_at) let the monthly and department reports read those groups in order, from the index
alone; a partial index finds the few rows lacking a value, another the latest met_at.
And the closed_at index becomes (closed_at, received_at): a monthly report counts the
inquiries not closed at ``now`` per month from the index alone, without a table lookup per
row (purge still uses its closed_at prefix).

All three are filled here in SQL (month by month over UTC month boundaries, DST-exact; the
outcome after 0002 has filled response_minutes). Rows written later outside Svarfrist may
leave them NULL: the reports then derive them from the inquiry, met_at and due_at.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Months are the municipality's local calendar months (as the reports have always used).
_ZONE = ZoneInfo("Europe/Copenhagen")
_TS = sa.DateTime(timezone=True)
obligations = sa.table(
    "obligations",
    sa.column("inquiry_id", sa.Integer()),
    sa.column("due_at", _TS),
    sa.column("met_at", _TS),
    sa.column("response_minutes", sa.Integer()),
    sa.column("received_month", sa.Integer()),
    sa.column("outcome", sa.Integer()),
    sa.column("department", sa.String()),
)
# A row missing one of them (written outside Svarfrist): the reports re-count these.
_LACKING = sa.text(
    "met_at IS NOT NULL AND outcome IS NULL OR received_month IS NULL OR department IS NULL"
)
# Met obligations, for max(met_at): whether every one was met by a report's --now (0003
# left met_at unindexed).
_MET = sa.text("met_at IS NOT NULL")
inquiries = sa.table(
    "inquiries",
    sa.column("id", sa.Integer()),
    sa.column("received_at", _TS),
    sa.column("department", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("obligations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received_month", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("department", sa.String(length=200), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_obligations_received_month_outcome_due_at"),
            ["received_month", "outcome", "due_at"],
        )
        batch_op.create_index(
            batch_op.f("ix_obligations_department_outcome_received_month_due_at"),
            ["department", "outcome", "received_month", "due_at"],
        )
        batch_op.create_index(
            "ix_obligations_lacking", ["id"], sqlite_where=_LACKING, postgresql_where=_LACKING
        )
        batch_op.create_index(
            "ix_obligations_met_at", ["met_at"], sqlite_where=_MET, postgresql_where=_MET
        )
    with op.batch_alter_table("inquiries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inquiries_closed_at"))
        batch_op.create_index(
            batch_op.f("ix_inquiries_closed_at_received_at"), ["closed_at", "received_at"]
        )
    bind = op.get_bind()
    _fill_months(bind)
    _fill_outcomes(bind)
    department = (
        sa.select(inquiries.c.department)
        .where(inquiries.c.id == obligations.c.inquiry_id)
        .scalar_subquery()
    )
    bind.execute(sa.update(obligations).values(department=department))


def _month_start(year: int, month: int, sqlite: bool) -> datetime:
    """Local midnight of the 1st in UTC; SQLite stores naive UTC (tracker.store.models)."""
    moment = datetime.combine(date(year, month, 1), time(0), tzinfo=_ZONE).astimezone(UTC)
    return moment.replace(tzinfo=None) if sqlite else moment


def _fill_months(bind: sa.Connection) -> None:
    lo = bind.execute(sa.select(sa.func.min(inquiries.c.received_at))).scalar()
    hi = bind.execute(sa.select(sa.func.max(inquiries.c.received_at))).scalar()
    if lo is None or hi is None:
        return
    sqlite = bind.dialect.name == "sqlite"
    first = (lo if lo.tzinfo else lo.replace(tzinfo=UTC)).astimezone(_ZONE)
    last = (hi if hi.tzinfo else hi.replace(tzinfo=UTC)).astimezone(_ZONE)
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        after_year, after_month = (year + 1, 1) if month == 12 else (year, month + 1)
        received = sa.select(inquiries.c.id).where(
            inquiries.c.received_at >= _month_start(year, month, sqlite),
            inquiries.c.received_at < _month_start(after_year, after_month, sqlite),
        )
        bind.execute(
            sa.update(obligations)
            .where(obligations.c.inquiry_id.in_(received))
            .values(received_month=year * 100 + month)
        )
        year, month = after_year, after_month


def _fill_outcomes(bind: sa.Connection) -> None:
    o = obligations.c
    late = sa.case((sa.and_(o.due_at.is_not(None), o.met_at > o.due_at), 1), else_=0)
    bind.execute(
        sa.update(obligations)
        .where(o.met_at.is_not(None))
        .values(outcome=4 * (sa.func.coalesce(o.response_minutes, -1) + 1) + late)
    )


def downgrade() -> None:
    with op.batch_alter_table("inquiries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inquiries_closed_at_received_at"))
        batch_op.create_index(batch_op.f("ix_inquiries_closed_at"), ["closed_at"])
    with op.batch_alter_table("obligations", schema=None) as batch_op:
        batch_op.drop_index("ix_obligations_met_at")
        batch_op.drop_index("ix_obligations_lacking")
        batch_op.drop_index(batch_op.f("ix_obligations_department_outcome_received_month_due_at"))
        batch_op.drop_index(batch_op.f("ix_obligations_received_month_outcome_due_at"))
        batch_op.drop_column("department")
        batch_op.drop_column("outcome")
        batch_op.drop_column("received_month")
