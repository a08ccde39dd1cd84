"""The database-free half of ``import``: a CSV file read in chunks, every row checked, its
obligations decided by the SLA engine as ``add`` decides them, and the valid rows made
ready to insert (times in the driver's form): all but their generated refs, and on
PostgreSQL their ids, which need the database.

Needing no database is what lets this half run in a second process while the first one
writes (tracker.transfer.importer), so what it hands over is plain picklable data: a
:class:`Chunk` of named rows, through the pipe as flat lists of values (:meth:`Chunk.plain`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import chain
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

from tracker.errors import BadInputError
from tracker.sla import Decision, Facts, Fulfilment, decide
from tracker.store.bulk import InquiryRow, PauseRow
from tracker.store.context import Context
from tracker.store.obligations import ObligationRow, Owner, obligation_rows
from tracker.store.register import check_recipient
from tracker.transfer.csvio import BATCH, Row, RowChecker, read_rows

# Distinct instants kept converted; a long file's cache is emptied when it grows past this.
TIME_CACHE = 200_000
WRONG_FIELDS = ["wrong number of fields for the header"]
NO_ADVISOR = ["advisor: required, since no default_recipient is configured"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_new = tuple.__new__
_REPLY, _CALLBACK, _ANSWER = Fulfilment.REPLY, Fulfilment.CALLBACK, Fulfilment.ANSWER
_NOTHING_FULFILLED: Mapping[Fulfilment, int] = MappingProxyType({})


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

    def plain(self) -> PlainChunk:
        """The chunk as flat lists of values, for a pipe or a spool file: pickle writes a
        NamedTuple through Python calls (one per row on each side), a list of plain values in
        C; flattening (``chain``, in C) also copies no row, where a tuple per row would."""
        return (
            _flat(self.entries),
            self.first,
            self.prepared,
            _flat(self.inquiries),
            _flat(self.obligations),
            _flat(self.pauses),
        )

    @classmethod
    def named(cls, plain: PlainChunk) -> Chunk:
        """The chunk :meth:`plain` made, its rows named again."""
        entries, first, prepared, inquiries, obligations, pauses = plain
        return cls(
            _named(Entry, len(Entry._fields), entries),
            first,
            prepared,
            _named(InquiryRow, len(InquiryRow._fields), inquiries),
            _named(ObligationRow, len(ObligationRow._fields), obligations),
            _named(PauseRow, len(PauseRow._fields), pauses),
        )


PlainChunk = tuple[list[Any], int, bool, list[Any], list[Any], list[Any]]
_N = TypeVar("_N", bound=tuple[Any, ...])


def _flat(rows: Sequence[tuple[Any, ...]]) -> list[Any]:
    return list(chain.from_iterable(rows))


def _named(kind: type[_N], width: int, values: list[Any]) -> list[_N]:
    """The rows of the NamedTuple ``kind`` that :func:`_flat` laid end to end, each built by
    ``tuple.__new__`` in C from the next ``width`` values (zip over one iterator cuts them
    off; a NamedTuple's own constructor is a Python call per row)."""
    return list(map(partial(tuple.__new__, kind), zip(*[iter(values)] * width, strict=True)))


_Valid = tuple[Row, Sequence[Decision], Facts]
"""A valid row with the engine's decisions and its facts in epoch µs (a plain tuple: one
per row, only ever unpacked)."""


class _Times(dict[int | None, Any]):
    """Epoch µs -> the driver's form, each distinct instant converted once: deadlines repeat,
    and met_at repeats another column of its row. A miss converts (``__missing__``); None
    is kept as None, so a lookup of any stored time is one subscript."""

    def __init__(self, convert: Callable[[int], Any]) -> None:
        super().__init__()
        self.convert = convert
        self[None] = None

    def __missing__(self, us: int) -> Any:
        value = self[us] = self.convert(us)
        return value

    def of(self, moment: datetime | None) -> Any:
        return None if moment is None else self[(moment - _EPOCH) // _ONE_US]

    def empty(self) -> None:
        self.clear()
        self[None] = None


def chunks(
    path: Path, ctx: Context, *, convert: Callable[[int], Any] | None, first_id: int = 0
) -> Iterator[Chunk]:
    """Every data row of ``path``, BATCH rows per chunk, never the whole file in memory.
    ``convert`` turns epoch µs into the driver's form (tracker.store.bulk.driver_time); None only
    validates (a dry run). Rows stop being prepared after the first bad one: nothing will be
    written then. ``first_id`` is the inquiry id the first valid row is expected to get."""
    offices = _Offices(ctx)
    decider = _Decider(offices)
    preparer = None if convert is None else _Preparer(offices, convert, first_id=first_id)
    for checked in _checked(path, RowChecker(ctx)):
        entries, valid = decider(checked)
        if any(e.problems is not None for e in entries):
            preparer = None  # nothing will be written
        yield _chunk(preparer, entries, valid)


def _checked(path: Path, check: RowChecker) -> Iterator[list[tuple[int, Row | list[str]]]]:
    """The file's data rows, BATCH at a time, each as (row number, row or its problems)."""
    checked: list[tuple[int, Row | list[str]]] = []
    for number, values in read_rows(path):
        checked.append((number, WRONG_FIELDS if values is None else check(values)))
        if len(checked) >= BATCH:
            yield checked
            checked = []
    if checked:
        yield checked


class _Offices(dict[str, Context]):
    """The import's context of each office its rows name (Context.office), built once."""

    def __init__(self, ctx: Context) -> None:
        super().__init__({ctx.office_key: ctx})
        self.ctx = ctx

    def __missing__(self, key: str) -> Context:
        found = self[key] = self.ctx.office(key)
        return found


_O = TypeVar("_O")


def _per_office(items: Sequence[_O], office: Callable[[_O], str]) -> dict[str, list[_O]]:
    """``items`` grouped by their office, in order within each (a file's rows are most
    often one office's: then one group, the list itself)."""
    first = office(items[0]) if items else ""
    if all(office(item) == first for item in items):
        return {first: list(items)} if items else {}
    groups: dict[str, list[_O]] = {}
    for item in items:
        groups.setdefault(office(item), []).append(item)
    return groups


class _Decider:
    """The obligations of checked rows as the SLA engine decides them for ``add``, a chunk
    at a time (sla.decide) on each row's office's calendar and rules, and the row's
    remaining problems: a deadline the calendar cannot compute, or nobody to remind of a
    pending one (register.check_recipient)."""

    def __init__(self, offices: _Offices) -> None:
        self.offices = offices
        self.now = (offices.ctx.now - _EPOCH) // _ONE_US

    def __call__(
        self, checked: list[tuple[int, Row | list[str]]]
    ) -> tuple[list[Entry], list[_Valid]]:
        rows = [row for _, row in checked if isinstance(row, Row)]
        decisions_of: dict[int, tuple[Facts, list[Decision] | str]] = {}
        for key, group in _per_office(rows, _office_of_row).items():
            decided = self._decide([_facts(row) for row in group], self.offices[key])
            decisions_of.update(zip(map(id, group), decided, strict=True))
        entries: list[Entry] = []
        valid: list[_Valid] = []
        entry, new_row = entries.append, tuple.__new__
        for number, row in checked:
            if not isinstance(row, Row):
                entry(new_row(Entry, (number, None, 0, row)))
                continue
            f, decisions = decisions_of[id(row)]
            if isinstance(decisions, str):
                entry(new_row(Entry, (number, None, 0, [decisions])))
                continue
            ctx = self.offices[row.office]
            if row.advisor is None:  # (with an advisor there is always someone to remind)
                try:
                    check_recipient(ctx, row.advisor, decisions)
                except BadInputError:
                    entry(new_row(Entry, (number, None, 0, NO_ADVISOR)))
                    continue
            year = row.received_at.astimezone(ctx.calendar.tz).year  # the ref's year, as in add
            # tuple.__new__ builds it in C (the NamedTuple's constructor is a Python call)
            entry(new_row(Entry, (number, row.ref, year, None)))
            valid.append((row, decisions, f))
        return entries, valid

    def _decide(self, facts: list[Facts], ctx: Context) -> list[tuple[Facts, list[Decision] | str]]:
        """Each row's decisions on ``ctx``'s calendar and rules, or the calendar's refusal
        of its received time: looked for row by row only when the rows as a whole are
        refused (rare)."""
        try:
            return list(zip(facts, decide(facts, ctx.rules, ctx.calendar, self.now), strict=True))
        except BadInputError:
            pass
        found: list[tuple[Facts, list[Decision] | str]] = []
        for f in facts:
            try:
                (decisions,) = decide([f], ctx.rules, ctx.calendar, self.now)
            except BadInputError as exc:
                found.append((f, f"received_at: {exc}"))
            else:
                found.append((f, decisions))
        return found


def _office_of_row(row: Row) -> str:
    return row.office


def _office_of_owner(owned: tuple[Owner, Sequence[Decision]]) -> str:
    return owned[0].office


def _facts(row: Row) -> Facts:
    """A checked row as sla.decide takes it."""
    epoch, one = _EPOCH, _ONE_US
    replied, called, closed = row.replied_at, row.called_back_at, row.closed_at
    answered = row.answered_at
    fulfilled: Mapping[Fulfilment, int] = _NOTHING_FULFILLED  # read only: shared when empty
    if replied is not None or called is not None or answered is not None:
        fulfilled = {}
        if replied is not None:
            fulfilled[_REPLY] = (replied - epoch) // one
        if called is not None:
            fulfilled[_CALLBACK] = (called - epoch) // one
        if answered is not None:
            fulfilled[_ANSWER] = (answered - epoch) // one
    # tuple.__new__ builds it in C (the NamedTuple's constructor is a Python call): one per row
    return _new(
        Facts,
        (
            row.channel,
            row.callback_requested,
            (row.received_at - epoch) // one,
            fulfilled,
            None if closed is None else (closed - epoch) // one,
            row.pauses,
            row.answer_promised,  # intake's acknowledgement promised an answer date
        ),
    )


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

    def __init__(self, offices: _Offices, convert: Callable[[int], Any], *, first_id: int) -> None:
        self.offices = offices
        self.times = _Times(convert)
        self.next_id = first_id

    def chunk(self, entries: list[Entry], valid: list[_Valid]) -> Chunk:
        first = self.next_id
        self.next_id += len(valid)
        times = self.times
        if len(times) > TIME_CACHE:
            times.empty()
        created = times.of(self.offices.ctx.now)
        inquiries, owned, pauses = [], [], []
        reply, callback, new_row = Fulfilment.REPLY, Fulfilment.CALLBACK, tuple.__new__
        for inquiry_id, (row, decisions, facts) in enumerate(valid, start=first):
            received, fulfilled = facts.received_at, facts.fulfilled
            inquiries.append(
                # tuple.__new__ builds the row in C (the NamedTuple's constructor is a Python
                # call): positional, in the table's column order, one per row.
                new_row(
                    InquiryRow,
                    (
                        inquiry_id,
                        row.ref,
                        row.channel,
                        row.department,
                        row.topic,
                        row.advisor,
                        row.callback_requested,
                        times[received],
                        times[fulfilled.get(reply)],
                        times[fulfilled.get(callback)],
                        times[facts.closed_at],
                        row.note,
                        created,
                        row.answer_promised,
                        times.of(row.answered_at),
                        row.office,
                        times.of(row.purged_at),
                    ),
                )
            )
            owned.append(
                (
                    new_row(Owner, (inquiry_id, row.department, received, row.pauses, row.office)),
                    decisions,
                )
            )
            if row.pauses:
                of = times.of
                pauses += [PauseRow(inquiry_id, of(p.start), of(p.end)) for p in row.pauses]
        obligations = [
            row
            for key, group in _per_office(owned, _office_of_owner).items()
            for row in obligation_rows(group, self.offices[key].calendar, times)
        ]
        return Chunk(entries, first, True, inquiries, obligations, pauses)
