"""The database-free half of ``import``: a CSV file read in chunks, every row checked, its
obligations decided by the SLA engine as ``add`` decides them, and the valid rows made
ready to insert (times in the driver's form): all but their generated refs, and on
PostgreSQL their ids, which need the database.

Needing no database is what lets this half run in a second process while the first one
writes (tracker.transfer.importer), so what it hands over is plain picklable data: a
:class:`Chunk` of named rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from tracker.errors import BadInputError
from tracker.sla import Decision, Fulfilment, decide
from tracker.store.bulk import InquiryRow, PauseRow
from tracker.store.context import Context
from tracker.store.obligations import ObligationRow, obligation_values
from tracker.store.register import check_recipient
from tracker.transfer.csvio import BATCH, Row, RowChecker, read_rows

# Distinct instants kept converted; a long file's cache is emptied when it grows past this.
TIME_CACHE = 200_000
WRONG_FIELDS = ["wrong number of fields for the header"]
NO_ADVISOR = ["advisor: required, since no default_recipient is configured"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


class Entry(NamedTuple):
    """A data row as the import's bookkeeping sees it."""

    number: int
    ref: str | None
    """The row's explicit ref, None for one to generate (or a bad row)."""
    year: int
    """The local year it was received in (the year of a generated ref); 0 for a bad row."""
    problems: list[str] | None
    """None for a valid row."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """Up to BATCH consecutive data rows. ``inquiries`` holds one row per valid row in file
    order, its ``ref`` None where one must be generated. Its ``id``, and the ``inquiry_id`` of
    ``obligations`` and ``pauses``, are the ids the inquiries get if the valid rows are
    numbered on from ``chunks``' ``first_id``: ``first`` is the id of this chunk's first one.
    The three lists are empty when ``prepared`` is false: a dry run, or a chunk after a bad
    row, which will never be written."""

    entries: list[Entry]
    first: int
    prepared: bool
    inquiries: list[InquiryRow]
    obligations: list[ObligationRow]
    pauses: list[PauseRow]


class _Valid(NamedTuple):
    """A valid row with the engine's decisions and its four times in epoch µs."""

    row: Row
    decisions: Sequence[Decision]
    us: tuple[int, int | None, int | None, int | None]


class _Times(dict[int, Any]):
    """Epoch µs -> the driver's form, each distinct instant converted once: deadlines repeat,
    and met_at repeats another column of its row. A miss converts (``__missing__``)."""

    def __init__(self, convert: Callable[[int], Any]) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, us: int) -> Any:
        value = self[us] = self.convert(us)
        return value

    def of(self, moment: datetime | None) -> Any:
        return None if moment is None else self[(moment - _EPOCH) // _ONE_US]

    def of_us(self, us: int | None) -> Any:
        return None if us is None else self[us]


def chunks(
    path: Path, ctx: Context, *, convert: Callable[[int], Any] | None, first_id: int = 0
) -> Iterator[Chunk]:
    """Every data row of ``path``, BATCH rows per chunk, never the whole file in memory.
    ``convert`` turns epoch µs into the driver's form (tracker.store.bulk.driver_time); None only
    validates (a dry run). Rows stop being prepared after the first bad one: nothing will be
    written then. ``first_id`` is the inquiry id the first valid row is expected to get."""
    check = RowChecker(ctx)
    preparer = None if convert is None else _Preparer(ctx, convert, first_id=first_id)
    entries: list[Entry] = []
    valid: list[_Valid] = []
    for number, values in read_rows(path):
        checked = WRONG_FIELDS if values is None else check(values)
        decided = _decided(ctx, checked) if isinstance(checked, Row) else checked
        if isinstance(decided, list):
            entries.append(Entry(number, None, 0, decided))
            preparer = None  # nothing will be written
        else:
            row = decided[0]
            year = row.received_at.astimezone(ctx.calendar.tz).year  # the ref's year, as in add
            entries.append(Entry(number, row.ref, year, None))
            if preparer is not None:
                valid.append(decided)
        if len(entries) >= BATCH:
            yield _chunk(preparer, entries, valid)
            entries, valid = [], []
    if entries:
        yield _chunk(preparer, entries, valid)


def _decided(ctx: Context, row: Row) -> _Valid | list[str]:
    """The row's obligations as the SLA engine decides them for ``add``, or its problems:
    a deadline the calendar cannot compute, or nobody to remind of a pending one."""
    received, replied, called, closed = (
        None if t is None else (t - _EPOCH) // _ONE_US
        for t in (row.received_at, row.replied_at, row.called_back_at, row.closed_at)
    )
    assert received is not None
    fulfilled = {}
    if replied is not None:
        fulfilled[Fulfilment.REPLY] = replied
    if called is not None:
        fulfilled[Fulfilment.CALLBACK] = called
    try:
        decisions = decide(
            channel=row.channel,
            callback_requested=row.callback_requested,
            received_at=received,
            fulfilled=fulfilled,
            closed_at=closed,
            pauses=row.pauses,
            rules=ctx.rules,
            calendar=ctx.calendar,
            now=(ctx.now - _EPOCH) // _ONE_US,
        )
    except BadInputError as exc:
        return [f"received_at: {exc}"]
    try:
        check_recipient(ctx, row.advisor, decisions)
    except BadInputError:
        return NO_ADVISOR
    return _Valid(row, decisions, (received, replied, called, closed))


def _chunk(
    preparer: _Preparer | None,
    entries: list[Entry],
    valid: list[_Valid],
) -> Chunk:
    if preparer is None:
        return Chunk(entries, 0, False, [], [], [])
    return preparer.chunk(entries, valid)


class _Preparer:
    """Valid rows into insertable ones, keeping the time cache from chunk to chunk."""

    def __init__(self, ctx: Context, convert: Callable[[int], Any], *, first_id: int) -> None:
        self.ctx = ctx
        self.times = _Times(convert)
        self.next_id = first_id

    def chunk(self, entries: list[Entry], valid: list[_Valid]) -> Chunk:
        first = self.next_id
        self.next_id += len(valid)
        if len(self.times) > TIME_CACHE:
            self.times.clear()
        time, calendar = self.times.of_us, self.ctx.calendar
        created = self.times.of(self.ctx.now)
        inquiries, obligations, pauses = [], [], []
        for inquiry_id, (row, decisions, (received, replied, called, closed)) in enumerate(
            valid, start=first
        ):
            inquiries.append(
                InquiryRow(  # positional, in the table's column order: one per row
                    inquiry_id,
                    row.ref,
                    row.channel,
                    row.department,
                    row.topic,
                    row.advisor,
                    row.callback_requested,
                    time(received),
                    time(replied),
                    time(called),
                    time(closed),
                    row.note,
                    created,
                )
            )
            obligations += [
                obligation_values(
                    d,
                    inquiry_id=inquiry_id,
                    department=row.department,
                    received_at=received,
                    calendar=calendar,
                    pauses=row.pauses,
                    time=time,
                )
                for d in decisions
            ]
            if row.pauses:
                of = self.times.of
                pauses += [PauseRow(inquiry_id, of(p.start), of(p.end)) for p in row.pauses]
        return Chunk(entries, first, True, inquiries, obligations, pauses)
