"""One office's report from indexes alone: on PostgreSQL, ``ix_inquiries_office_received_at``
carries the columns the inquiry reports read, the obligations' office index the department
(``INCLUDE``), and a new index of the obligations by office and inquiry carries what the
joined report pass reads, so a report narrowed to one office of a register shared by many
reads no table page (the office's rows are scattered among every other office's). SQLite
has no ``INCLUDE``: it gets the new index's key columns only.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_inquiries_office_received_at"
_INCLUDED = ["id", "department", "channel", "topic", "advisor", "closed_at"]
"""tracker.store.models.OFFICE_REPORT_COLUMNS as of this revision (a migration keeps its own
copy: the model may change after it)."""


_OBLIGATIONS = "ix_obligations_office_outcome_received_month_due_at"
_OBLIGATION_KEYS = ["office", "outcome", "received_month", "due_at"]
_JOINED = "ix_obligations_office_inquiry_id"
_JOINED_INCLUDED = ["met_at", "due_at", "outcome", "response_minutes"]


def upgrade() -> None:
    op.create_index(
        _JOINED, "obligations", ["office", "inquiry_id"], postgresql_include=_JOINED_INCLUDED
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(_NAME, table_name="inquiries")
    op.create_index(_NAME, "inquiries", ["office", "received_at"], postgresql_include=_INCLUDED)
    op.drop_index(_OBLIGATIONS, table_name="obligations")
    op.create_index(
        _OBLIGATIONS, "obligations", _OBLIGATION_KEYS, postgresql_include=["department"]
    )


def downgrade() -> None:
    op.drop_index(_JOINED, table_name="obligations")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(_NAME, table_name="inquiries")
    op.create_index(_NAME, "inquiries", ["office", "received_at"])
    op.drop_index(_OBLIGATIONS, table_name="obligations")
    op.create_index(_OBLIGATIONS, "obligations", _OBLIGATION_KEYS)
