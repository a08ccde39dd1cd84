"""``export``: every inquiry in ref order, in the import format (CONTRACT.md), streamed.

CSV with a header row, comma separated, CRLF line ends, no BOM; or a JSON array of objects
with the same keys. Times are local with offset, to the second, which is what import
reads back, so export -> import into an empty database -> export gives the same bytes.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.calendar import COPENHAGEN
from tracker.csvio import BATCH, COLUMNS, TIME_COLUMNS
from tracker.models import Inquiry


def _fmt(moment: datetime | None) -> str:
    # Local time with offset, to the second: the contract's output form, which import reads.
    return "" if moment is None else moment.astimezone(COPENHAGEN).isoformat(timespec="seconds")


def export_records(session: Session) -> Iterator[dict[str, Any]]:
    """Every inquiry in ref order, in the import format (times as local ISO strings)."""
    table = Inquiry.__table__
    ref = table.c.ref
    if session.get_bind().dialect.name == "postgresql":
        # Byte order, as SQLite sorts: an export is the same file whichever database made it,
        # whatever collation the PostgreSQL database was created with.
        ref = ref.collate("C")  # type: ignore[assignment]
    stmt = select(*(table.c[name] for name in COLUMNS)).order_by(ref)
    for row in session.execute(stmt.execution_options(yield_per=BATCH)):
        record = dict(zip(COLUMNS, row, strict=True))
        for column in TIME_COLUMNS:
            record[column] = _fmt(record[column])
        yield record


def write_csv(session: Session, out: TextIO) -> int:
    """The register as CSV (comma separated, header row, no BOM); returns the row count."""
    # CRLF as RFC 4180 has it; it also makes the writer quote a bare \r inside a field.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    count = 0
    for record in export_records(session):
        record["callback_requested"] = "true" if record["callback_requested"] else "false"
        writer.writerow(["" if record[c] is None else record[c] for c in COLUMNS])
        count += 1
    return count


def write_json(session: Session, out: TextIO) -> int:
    """The register as a JSON array of objects with the CSV's keys, written row by row."""
    out.write("[")
    count = 0
    for record in export_records(session):
        record["callback_requested"] = bool(record["callback_requested"])
        for column in TIME_COLUMNS:
            record[column] = record[column] or None
        out.write(("\n" if count == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count
