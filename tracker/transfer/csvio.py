"""Reading the CSV format of CONTRACT.md ("CSV import/export") and checking its rows.

UTF-8 with an optional BOM, comma or semicolon (whichever the header line has more of),
header row required, columns by name in any order. Row numbers count the header as row 1,
as a spreadsheet shows them. The import itself (two streaming passes, one transaction) is
tracker.transfer.importer; writing the format is tracker.transfer.export.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO

from tracker.core import validate
from tracker.core.calendar import Pause
from tracker.errors import BadInputError
from tracker.store.register import Context
from tracker.transfer.pauses import parse_pauses

COLUMNS = (
    "ref",
    "received_at",
    "channel",
    "department",
    "topic",
    "advisor",
    "callback_requested",
    "replied_at",
    "called_back_at",
    "closed_at",
    "note",
    "pauses",
)
REQUIRED = ("received_at", "channel", "department")
TIME_COLUMNS = ("received_at", "replied_at", "called_back_at", "closed_at")
BATCH = 5000
# What errors="surrogateescape" makes of a byte that is not UTF-8.
_UNDECODED = re.compile("[\udc80-\udcff]")


def _open(path: Path) -> tuple[TextIO, str]:
    """The file as text (a UTF-8 BOM is skipped) and its delimiter, from the header line."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
        header = handle.readline()
        handle.seek(0)  # resets the decoder, which skips the BOM again
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BadInputError(f"{path} is not UTF-8 text") from None
    delimiter = ";" if header.count(";") > header.count(",") else ","
    return handle, delimiter


def read_rows(path: Path) -> Iterator[tuple[int, tuple[str, ...] | None]]:
    """(row number, values in COLUMNS order) of every data row; None for a row whose number
    of fields does not match the header. The header is checked first."""
    handle, delimiter = _open(path)
    with handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise BadInputError(f"{path} is empty: a header row is required")
            order = dict((target, source) for source, target in _header(path, header))
            # Picks the columns in COLUMNS order in C; an absent column reads the "" that is
            # appended to every row.
            pick = itemgetter(*(order.get(k, len(header)) for k in range(len(COLUMNS))))
            number = 1
            for fields in reader:
                number += 1
                if not fields:
                    continue
                if len(fields) != len(header):
                    yield number, None
                    continue
                fields.append("")
                yield number, pick(fields)
        except csv.Error as exc:
            raise BadInputError(f"{path}: row {number + 1}: not valid CSV: {exc}") from None
        except UnicodeDecodeError:
            # The decoder reads ahead of the CSV reader, so ``number`` may be rows early.
            row = _first_undecodable_row(path, delimiter) or number + 1
            raise BadInputError(f"{path}: row {row}: not UTF-8 text") from None


def _first_undecodable_row(path: Path, delimiter: str) -> int | None:
    """The number of the first row with bytes that are not UTF-8 (header = 1), read again
    with those bytes kept as lone surrogates: only after a decoding error, so it costs a
    good file nothing."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        for number, fields in enumerate(csv.reader(handle, delimiter=delimiter), start=1):
            if any(_UNDECODED.search(value) for value in fields):
                return number
    return None


def _header(path: Path, header: list[str]) -> list[tuple[int, int]]:
    names = [name.strip().lower() for name in header]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise BadInputError(
            f"{path}: row 1: unknown column(s) {', '.join(map(repr, unknown))} "
            f"(columns: {', '.join(COLUMNS)})"
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BadInputError(f"{path}: row 1: column(s) named twice: {', '.join(twice)}")
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise BadInputError(f"{path}: row 1: required column(s) missing: {', '.join(missing)}")
    return [(i, COLUMNS.index(n)) for i, n in enumerate(names)]


@dataclass(frozen=True, slots=True)
class Row:
    ref: str | None
    received_at: datetime
    channel: str
    department: str
    topic: str | None
    advisor: str | None
    callback_requested: bool
    replied_at: datetime | None
    called_back_at: datetime | None
    closed_at: datetime | None
    note: str | None
    pauses: tuple[Pause, ...] = ()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)

Spooled = tuple[
    str | None,
    int,
    str,
    str,
    str | None,
    str | None,
    bool,
    int | None,
    int | None,
    int | None,
    str | None,
    int,
    tuple[tuple[int, int | None], ...],
]
"""A valid row as the insert pass needs it: ref, received µs, channel, department, topic,
advisor, callback requested, replied µs, called back µs, closed µs, note, local year, and
the pauses as (start µs, end µs or None) pairs, () for none (tracker.transfer.importer writes rows
with pauses on the SLA engine's exact path)."""


def _us(text: str) -> int:
    """Epoch microseconds of an ISO time (naive = Copenhagen wall time); raises on bad input."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = validate.parse_time(text, "time")
    return (moment - _EPOCH) // _ONE_US


class FastParser:
    """The common case of parse_row at a fraction of its cost: a row that passes every check
    here is valid; anything else goes to parse_row, which names each problem. So does every
    row with pauses (rare, and checked against its other times there)."""

    def __init__(self, ctx: Context) -> None:
        self.channels = validate.CHANNELS
        self.departments = frozenset(ctx.settings.departments)
        self.topics = frozenset(ctx.settings.topics)
        self.note_max = ctx.settings.note_max_length
        self.tz = ctx.calendar.tz
        # Advisors repeat from row to row (a few dozen in a municipality): each distinct
        # address is matched against the pattern once.
        self.advisors: set[str] = set()
        # The local year of the last received time, as [first µs, next year's first µs):
        # rows mostly arrive in order, so most rows need two comparisons, not a time zone.
        self.year, self.year_from, self.year_to = 0, 0, 0

    def __call__(self, values: Sequence[str]) -> Spooled | None:
        ref, rec, channel, department, topic, advisor, flag, rep, cbk, clo, note, pauses = values
        if pauses:
            return None
        try:
            received = datetime.fromisoformat(rec)
            if received.tzinfo is None:
                received = validate.parse_time(rec, "received_at")
            received_us = (received - _EPOCH) // _ONE_US
            replied = _us(rep) if rep else None
            called = _us(cbk) if cbk else None
            closed = _us(clo) if clo else None
        except (ValueError, BadInputError):
            return None
        if (
            (replied is not None and replied < received_us)
            or (called is not None and called < received_us)
            or (closed is not None and closed < received_us)
            or channel not in self.channels
            or department not in self.departments
            or (topic and topic not in self.topics)
            or (advisor and advisor not in self.advisors and not self._good_advisor(advisor))
            or (ref and not validate.REF_RE.fullmatch(ref))
            or (note and len(note) > self.note_max)
        ):
            return None
        callback = validate.BOOLEANS.get(flag.lower()) if flag else False
        if callback is None:
            return None
        if self.year_from <= received_us < self.year_to:
            year = self.year
        else:
            year = self._year_of(received)
        return (
            ref or None,
            received_us,
            channel,
            department,
            topic or None,
            advisor or None,
            callback,
            replied,
            called,
            closed,
            note or None,
            year,
            (),
        )

    def _good_advisor(self, advisor: str) -> bool:
        if len(advisor) > 320 or not validate.EMAIL_RE.fullmatch(advisor):
            return False
        self.advisors.add(advisor)
        return True

    def _year_of(self, received: datetime) -> int:
        year = received.astimezone(self.tz).year
        first = datetime(year, 1, 1, tzinfo=self.tz)
        following = datetime(year + 1, 1, 1, tzinfo=self.tz)
        self.year = year
        self.year_from = (first - _EPOCH) // _ONE_US
        self.year_to = (following - _EPOCH) // _ONE_US
        return year


def spooled(row: Row, tz: Any) -> Spooled:
    """A row from parse_row in the insert pass's form."""

    def us(moment: datetime | None) -> int | None:
        return None if moment is None else (moment - _EPOCH) // _ONE_US

    return (
        row.ref,
        (row.received_at - _EPOCH) // _ONE_US,
        row.channel,
        row.department,
        row.topic,
        row.advisor,
        row.callback_requested,
        us(row.replied_at),
        us(row.called_back_at),
        us(row.closed_at),
        row.note,
        row.received_at.astimezone(tz).year,
        tuple(((p.start - _EPOCH) // _ONE_US, us(p.end)) for p in row.pauses),
    )


def _times(values: Sequence[str], problems: list[str]) -> list[datetime | None]:
    times: list[datetime | None] = [None, None, None, None]
    for k, (column, raw) in enumerate(
        zip(TIME_COLUMNS, (values[1], values[7], values[8], values[9]), strict=True)
    ):
        if raw:
            try:
                times[k] = validate.parse_time(raw, column)
            except BadInputError as exc:
                problems.append(str(exc))
    return times


def _pauses(
    raw: str, received: datetime | None, closed: datetime | None, problems: list[str]
) -> tuple[Pause, ...]:
    if not raw.strip():
        return ()
    try:
        return parse_pauses(raw, received, closed)
    except BadInputError as exc:
        problems.append(str(exc))
        return ()


def parse_row(values: Sequence[str], ctx: Context) -> tuple[Row | None, list[str]]:
    """One row in stored form, or the problems found, each naming its column.

    Written for speed (it runs twice per imported row): no closures, exceptions only for
    bad values.
    """
    problems: list[str] = []
    settings = ctx.settings
    received, replied, called_back, closed = _times(values, problems)
    if not values[1].strip():
        problems.append("received_at: required")
    channel, department = values[2].strip(), values[3].strip()
    topic: str | None = values[4].strip() or None
    advisor: str | None = values[5].strip() or None
    note: str | None = values[10] or None
    callback = False
    ref = values[0].strip() or None
    try:
        validate.channel(channel)
    except BadInputError as exc:
        problems.append(f"channel: {exc}" if channel else "channel: required")
    try:
        validate.department(department, settings.departments)
    except BadInputError as exc:
        problems.append(f"department: {exc}" if department else "department: required")
    try:
        topic = validate.topic(topic, settings.topics)
    except BadInputError as exc:
        problems.append(f"topic: {exc}")
    try:
        advisor = validate.advisor(advisor)
    except BadInputError as exc:
        problems.append(f"advisor: {exc}")
    if values[6]:
        try:
            callback = validate.parse_bool(values[6], "callback_requested")
        except BadInputError as exc:
            problems.append(str(exc))
    try:
        note = validate.note(note, settings.note_max_length)
    except BadInputError as exc:
        problems.append(f"note: {exc}")
    if ref is not None:
        try:
            validate.ref(ref)
        except BadInputError as exc:
            problems.append(f"ref: {exc}")
    if received is not None:
        for column, moment in zip(TIME_COLUMNS[1:], (replied, called_back, closed), strict=True):
            if moment is not None and moment < received:
                problems.append(f"{column}: before received_at")
    pauses = _pauses(values[11], received, closed, problems)
    if problems or received is None:
        return None, problems
    return Row(
        ref=ref,
        received_at=received,
        channel=channel,
        department=department,
        topic=topic,
        advisor=advisor,
        callback_requested=callback,
        replied_at=replied,
        called_back_at=called_back,
        closed_at=closed,
        note=note,
        pauses=pauses,
    ), []
