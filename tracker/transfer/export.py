"""``export``: every inquiry in ref order, in the import format (docs/contract.md), streamed.

CSV with a header row, comma separated, CRLF line ends, no BOM; or a JSON array of objects
with the same keys. Times are local with offset, to the second, which is what import
reads back, so export -> import into an empty database -> export gives the same bytes.
The column ``pauses`` holds an inquiry's pauses as intervals (tracker.transfer.pauses);
in JSON it is a list of ``{"start", "end"}`` objects (``end`` null while still paused).

That file is for ``import``, not for a spreadsheet: a cell is written verbatim, so a note or
advisor beginning with ``=`` would run as a formula in Excel. ``write_excel`` writes the same
rows for Danish Excel instead (``;``, a byte-order mark, formula-like text neutralised:
tracker.core.spreadsheet); it does not round-trip.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.core.spreadsheet import BOM, SpreadsheetWriter
from tracker.core.validate import local_time
from tracker.store.models import Inquiry, Pause
from tracker.transfer.csvio import BATCH, COLUMNS, TIME_COLUMNS
from tracker.transfer.pauses import COLUMN as PAUSES
from tracker.transfer.pauses import format_pauses

PROMISED = "answer_promised"
# Every time column of the format: the row's times and when purge erased its note.
EXPORTED_TIMES = (*TIME_COLUMNS, "purged_at")
Spans = list[tuple[datetime, datetime | None]]


def _fmt(moment: datetime | None) -> str:
    # Local time with offset, to the second, with the fraction where the time has one (the
    # clock's times have): import reads back the very instant, so no state changes in a move.
    return "" if moment is None else local_time(moment, exact=True)


def export_records(session: Session, office: str | None = None) -> Iterator[dict[str, Any]]:
    """Every inquiry (of ``office`` alone, if given) in ref order, in the import format
    (times as local ISO strings; the pauses as a list of (start, end or None) in time
    order)."""
    table = Inquiry.__table__
    ref = table.c.ref
    if session.get_bind().dialect.name == "postgresql":
        # Byte order, as SQLite sorts: an export is the same file whichever database made it,
        # whatever collation the PostgreSQL database was created with.
        ref = ref.collate("C")  # type: ignore[assignment]
    stored = [c for c in COLUMNS if c != PAUSES]
    stmt = select(table.c.id, *(table.c[name] for name in stored)).order_by(ref)
    if office is not None:
        stmt = stmt.where(table.c.office == office)
    any_pauses = session.execute(select(Pause.id).limit(1)).first() is not None
    result = session.execute(stmt.execution_options(yield_per=BATCH))
    for rows in result.partitions():
        pauses = _pauses_of(session, [row[0] for row in rows]) if any_pauses else {}
        for row in rows:
            record = dict(zip(stored, row[1:], strict=True))
            for column in EXPORTED_TIMES:
                record[column] = _fmt(record[column])
            record[PAUSES] = pauses.get(row[0], [])
            yield record


def _pauses_of(session: Session, ids: Sequence[int]) -> dict[int, Spans]:
    """The pauses of these inquiries, each inquiry's in time order (ties in the order they
    were recorded, which is the order import inserts them in)."""
    found: dict[int, Spans] = {}
    stmt = (
        select(Pause.inquiry_id, Pause.start, Pause.end)
        .where(Pause.inquiry_id.in_(ids))
        .order_by(Pause.inquiry_id, Pause.start, Pause.id)
    )
    for inquiry_id, start, end in session.execute(stmt):
        found.setdefault(inquiry_id, []).append((start, end))
    return found


def _csv_rows(session: Session, office: str | None = None) -> Iterator[list[str]]:
    """Every inquiry as the CSV's cells, in :data:`COLUMNS` order."""
    for record in export_records(session, office):
        record["callback_requested"] = "true" if record["callback_requested"] else "false"
        record[PROMISED] = "true" if record[PROMISED] else "false"
        record[PAUSES] = format_pauses(record[PAUSES])
        yield ["" if record[c] is None else record[c] for c in COLUMNS]


def write_csv(session: Session, out: TextIO, office: str | None = None) -> int:
    """The register as CSV (comma separated, header row, no BOM); returns the row count."""
    # CRLF as RFC 4180 has it; it also makes the writer quote a bare \r inside a field.
    return _write_table(csv.writer(out, lineterminator="\r\n"), session, office)


def write_excel(session: Session, out: TextIO, office: str | None = None) -> int:
    """The register as CSV for Danish Excel (a BOM, ``;``, no cell that runs as a formula),
    not for ``import``; returns the row count."""
    out.write(BOM)
    return _write_table(SpreadsheetWriter(out), session, office)


class _RowWriter(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...


def _write_table(writer: _RowWriter, session: Session, office: str | None = None) -> int:
    """The header and every inquiry's row through ``writer``; returns the row count."""
    writer.writerow(COLUMNS)
    count = 0
    for row in _csv_rows(session, office):
        writer.writerow(row)
        count += 1
    return count


def write_json(session: Session, out: TextIO, office: str | None = None) -> int:
    """The register as a JSON array of objects with the CSV's keys, written row by row."""
    out.write("[")
    count = 0
    for record in export_records(session, office):
        record["callback_requested"] = bool(record["callback_requested"])
        record[PROMISED] = bool(record[PROMISED])
        for column in EXPORTED_TIMES:
            record[column] = record[column] or None
        record[PAUSES] = [
            {"start": _fmt(start), "end": _fmt(end) or None} for start, end in record[PAUSES]
        ]
        out.write(("\n" if count == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count
