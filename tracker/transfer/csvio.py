"""Reading the CSV format of docs/contract.md ("CSV import/export") and checking its rows.

UTF-8 with an optional BOM, comma or semicolon (whichever the header line has more of),
header row required, columns by name in any order; cells are trimmed of surrounding
spaces, except the note, which is kept as written. Row numbers count the header as row 1,
as a spreadsheet shows them. The file is read in bounded pieces: no row may be longer than
MAX_ROW_CHARS characters, so a file without line breaks (or ``/dev/zero``) is refused at
that point instead of filling the memory. The import itself is tracker.transfer.importer;
writing the format is tracker.transfer.export.

:class:`RowChecker` is the one check of a row, built on the field rules ``add`` uses
(tracker.core.validate). Its messages name the row's column but never repeat the cell's
text: a note in the wrong column must not end up on a terminal or in a log.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from contextlib import suppress
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from tracker.config.offices import unknown_office
from tracker.core import validate
from tracker.core.calendar import Pause
from tracker.errors import BadInputError
from tracker.store.context import Context
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
    # Mail intake's promise (the acknowledgement's absolute answer date) and its fulfilment:
    # last, so files written before them (twelve columns) import as they did.
    "answer_promised",
    "answered_at",
    # The office (tracker.config.offices): last, so files from before offices import as
    # they did, into the office the import is for.
    "office",
    # When purge erased the note (docs/purge.md): last, so files from before it import as
    # they did, every row not purged. Without it a register moved to another database came
    # back unpurged, its purged inquiries open to reopen, undo and assign again.
    "purged_at",
)
REQUIRED = ("received_at", "channel", "department")
TIME_COLUMNS = ("received_at", "replied_at", "called_back_at", "closed_at", "answered_at")
# Where the fulfilment times are in a row's values (COLUMNS order), after received_at.
_FULFILMENT_CELLS = (7, 8, 9, 13)
NOT_PROMISED = "answered_at: only an inquiry promised an answer date (answer_promised) is answered"
NOT_CLOSED = "purged_at: only a closed inquiry is purged (closed_at)"
PURGED_NOTE = "note: must be empty on a purged inquiry (purged_at): purge erased it"
BATCH = 5000
# A row (with its quoted line breaks) is at most this long: far above any valid row (the
# note is bounded by note_max_length), and small enough to hold in memory.
MAX_ROW_CHARS = 1 << 20
# What errors="surrogateescape" makes of a byte that is not UTF-8.
_UNDECODED = re.compile("[\udc80-\udcff]")
_SHOWN_NAME = 40


class _RowTooLong(Exception):
    """A row grew past MAX_ROW_CHARS (raised by _Lines, named by its row by the reader)."""


class _Lines:
    """The file's lines for the CSV reader, each read with a bound, and the characters of
    the row being read counted: the reader resets ``row`` after every row."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.row = 0

    def __iter__(self) -> Iterator[str]:
        # A generator: resuming one costs less than a call of a Python __next__ per line.
        readline, bound = self.handle.readline, MAX_ROW_CHARS + 1
        while line := readline(bound):
            self.row += len(line)
            if self.row > MAX_ROW_CHARS:
                raise _RowTooLong
            yield line


def _too_long(path: Path, row: int) -> BadInputError:
    return BadInputError(
        f"{path}: row {row}: longer than {MAX_ROW_CHARS:,} characters "
        "(is it a CSV file with line breaks?)"
    )


def _open(path: Path) -> tuple[TextIO, str]:
    """The file as text (a UTF-8 BOM is skipped) and its delimiter, from the header line."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        header = handle.readline(MAX_ROW_CHARS + 1)
        handle.seek(0)  # resets the decoder, which skips the BOM again
    except OSError as exc:
        handle.close()
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        # The decoder reads a whole buffer ahead of the header line: the bad bytes may be in
        # any row of a small file, so they are found and named as a later row's are.
        handle.close()
        raise BadInputError(f"{path}: row {_undecodable_row(path)}: not UTF-8 text") from None
    if len(header) > MAX_ROW_CHARS:
        handle.close()
        raise _too_long(path, 1)
    return handle, _delimiter(header)


def _delimiter(header: str) -> str:
    """Semicolon where the header line has more of them than commas, else comma."""
    return ";" if header.count(";") > header.count(",") else ","


def read_rows(path: Path) -> Iterator[tuple[int, tuple[str, ...] | None]]:
    """(row number, values in COLUMNS order) of every data row; None for a row whose number
    of fields does not match the header. The header is checked first."""
    csv.field_size_limit(MAX_ROW_CHARS)  # a field is bounded by its row's bound instead
    handle, delimiter = _open(path)
    number = 1  # the row being read, once the loop has counted it
    with handle:
        lines = _Lines(handle)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise BadInputError(f"{path} is empty: a header row is required")
            if not header:  # a blank first line: the header must come first
                raise BadInputError(f"{path}: row 1: empty; the header row must be the first line")
            order = dict((target, source) for source, target in _header(path, header))
            # Picks the columns in COLUMNS order in C; an absent column reads the "" that is
            # appended to every row.
            pick = itemgetter(*(order.get(k, len(header)) for k in range(len(COLUMNS))))
            for fields in reader:
                number += 1
                lines.row = 0
                if not fields:
                    continue
                if len(fields) != len(header):
                    yield number, None
                    continue
                fields.append("")
                yield number, pick(fields)
        except _RowTooLong:
            raise _too_long(path, number + 1) from None
        except csv.Error as exc:
            raise BadInputError(f"{path}: row {number + 1}: not valid CSV: {exc}") from None
        except UnicodeDecodeError:
            # The decoder reads ahead of the CSV reader, so ``number`` may be rows early.
            row = _first_undecodable_row(path, delimiter) or number + 1
            raise BadInputError(f"{path}: row {row}: not UTF-8 text") from None


def _undecodable_row(path: Path) -> int:
    """The number of the first row with bytes that are not UTF-8, the delimiter taken from
    the header line as :func:`_open` takes it (1 where the rows cannot be told apart)."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        header = handle.readline(MAX_ROW_CHARS + 1)
    return _first_undecodable_row(path, _delimiter(header)) or 1


def _first_undecodable_row(path: Path, delimiter: str) -> int | None:
    """The number of the first row with bytes that are not UTF-8 (header = 1), read again
    with those bytes kept as lone surrogates: only after a decoding error, so it costs a
    good file nothing."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        lines = _Lines(handle)
        try:
            for number, fields in enumerate(csv.reader(lines, delimiter=delimiter), start=1):
                lines.row = 0
                if any(_UNDECODED.search(value) for value in fields):
                    return number
        except (_RowTooLong, csv.Error):
            return None
    return None


def _header(path: Path, header: list[str]) -> list[tuple[int, int]]:
    names = [name.strip().lower() for name in header]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        shown = [repr(n if len(n) <= _SHOWN_NAME else n[:_SHOWN_NAME] + "...") for n in unknown]
        raise BadInputError(
            f"{path}: row 1: unknown column(s) {', '.join(shown[:5])}"
            f"{' and more' if len(shown) > 5 else ''} (columns: {', '.join(COLUMNS)})"
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BadInputError(f"{path}: row 1: column(s) named twice: {', '.join(twice)}")
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise BadInputError(f"{path}: row 1: required column(s) missing: {', '.join(missing)}")
    return [(i, COLUMNS.index(n)) for i, n in enumerate(names)]


class Row(NamedTuple):
    """A valid row, every value in the form the register stores it (a NamedTuple: one is
    built per imported row)."""

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
    answer_promised: bool = False
    answered_at: datetime | None = None
    office: str = "default"
    purged_at: datetime | None = None


def _hidden(message: str, cell: str) -> str:
    """``message`` without the cell's text. The validators quote a bad value (on the command
    line it is the user's own argument), but a cell may hold a note written into the wrong
    column. A time is shown unquoted only once it has parsed as a time, never free text."""
    # The address rule quotes its value lower-cased (validate.address), so both forms go.
    forms = {cell, cell.lower()}
    parts = {p for f in forms for p in (f, f.strip(), *f.split(), *f.replace("/", " ").split())}
    parts -= {""}
    for part in sorted(parts, key=len, reverse=True):
        message = message.replace(f" {part!r}", "")
    return message


_NUL = "\x00"
_new_row = tuple.__new__
# Distinct combinations of the few-valued cells kept checked (RowChecker._kinds).
KINDS_CACHE = 50_000
_Kinds = tuple[str, str, str | None, str | None, bool]
# What RowChecker._promise makes of two empty cells (most rows): no promise, no answer.
_UNPROMISED: tuple[bool, datetime | None] = (False, None)


class RowChecker:
    """The one check of an import row: each value through the validator ``add`` uses for it
    (tracker.core.validate: the received time from 1900 on and not in the future), the
    fulfilment times through the register's rules for them (not before receipt, not in the
    future, as ``reply``, ``close`` and the others refuse one), the pauses through
    tracker.transfer.pauses. Returns the row in stored form, or its problems, each naming
    its column. "Now" is the import's (``--now``), with the configured clock skew."""

    def __init__(self, ctx: Context) -> None:
        settings = ctx.settings
        self.ctx = ctx
        self.now, self.skew = ctx.now, ctx.clock_skew
        self.office = ctx.office_key
        # A row naming another office (its ``office`` cell) is checked by that office's
        # checker, where the import may write there (ctx.scope: ``import`` without
        # ``--office`` writes each row into the office it names); built once per office.
        self.others: dict[str, RowChecker | None] = {}
        self.departments = settings.departments
        self.topics = settings.topics
        self.note_max = settings.note_max_length
        # Advisors repeat from row to row (a few dozen in a municipality): each distinct
        # cell is checked once, by the same validator.
        self.advisors: dict[str, str | BadInputError | None] = {}
        self.kinds: dict[tuple[str, ...], _Kinds] = {}

    def __call__(self, values: tuple[str, ...]) -> Row | list[str]:
        if _NUL in "".join(values):
            named = zip(COLUMNS, values, strict=True)
            return [f"{c}: contains a NUL character" for c, v in named if _NUL in v]
        office = values[14]
        if office and office != self.office:
            other = self._other(office.strip())
            if other is not None:
                return other(values)
        try:
            return self._valid(values)
        except BadInputError:
            return self._problems(values)

    def _valid(self, values: tuple[str, ...]) -> Row:
        """The row if every value passes; raises at the first that does not (the common
        case, so it pays no bookkeeping: :meth:`_problems` then names them all)."""
        parse_time, happened = validate.parse_time, self._happened
        received = (
            validate.received_at(parse_time(values[1], "received_at"), self.now, self.skew)
            if values[1].strip()
            else None
        )
        if received is None or values[11].strip() or values[14].strip() not in ("", self.office):
            raise BadInputError("no received_at, pauses to check, or another office")
        replied, called, closed, note = values[7], values[8], values[9], values[10]
        flag, answered_cell = values[12], values[13]
        promised, answered = (
            self._promise(flag, answered_cell, received) if flag or answered_cell else _UNPROMISED
        )
        kinds = self.kinds.get(values[2:7])
        if kinds is None:
            kinds = self._kinds(values)
        ref = values[0].strip()
        replied_at = (
            happened(parse_time(replied, "replied_at"), received, "replied_at")
            if replied.strip()
            else None
        )
        called_at = (
            happened(parse_time(called, "called_back_at"), received, "called_back_at")
            if called.strip()
            else None
        )
        closed_at = None
        if closed.strip():
            closed_at = happened(parse_time(closed, "closed_at"), received, "closed_at")
            self._closes_after(closed_at, replied_at, called_at, answered)
        purged = values[15]
        purged_at = self._purged(purged, closed_at, note) if purged.strip() else None
        # tuple.__new__ builds the row in C (the NamedTuple's constructor is a Python call):
        # positional, in Row's field order, one per imported row.
        return _new_row(
            Row,
            (
                validate.ref(ref) if ref else None,
                received,
                *kinds,
                replied_at,
                called_at,
                closed_at,
                validate.note(note, self.note_max) if note else None,  # "" is no note
                (),
                promised,
                answered,
                self.office,
                purged_at,
            ),
        )

    def _happened(self, moment: datetime, received: datetime, column: str) -> datetime:
        """A fulfilment or closing time as the register takes one: not before receipt, and
        not after now (plus the clock skew)."""
        validate.not_before(moment, received, column)
        return validate.not_after(moment, self.now, self.skew, column)

    @staticmethod
    def _closes_after(
        closed: datetime,
        replied: datetime | None,
        called: datetime | None,
        answered: datetime | None,
    ) -> None:
        """closed_at not before a fulfilment of the row, as ``close`` refuses a closing
        before a recorded one."""
        fulfilments = (
            ("replied_at", replied),
            ("called_back_at", called),
            ("answered_at", answered),
        )
        validate.closes_after(closed, fulfilments, "closed_at")

    def _purged(self, cell: str, closed_at: datetime | None, note: str) -> datetime:
        """``purged_at``, raising at the first problem: purge erases the notes of closed
        inquiries only, after their closing and not in the future, and a purged inquiry has
        no note (a file must not bring an erased note back)."""
        moment = validate.parse_time(cell, "purged_at")
        if closed_at is None:
            raise BadInputError(NOT_CLOSED)
        validate.closes_after(moment, (("closed_at", closed_at),), "purged_at")
        validate.not_after(moment, self.now, self.skew, "purged_at")
        if note:
            raise BadInputError(PURGED_NOTE)
        return moment

    def _promise(
        self, flag: str, answered: str, received: datetime
    ) -> tuple[bool, datetime | None]:
        """``answer_promised`` and ``answered_at``; raises at the first bad one. Answered
        without a promise is refused, as ``svarfrist answer`` refuses it."""
        promised = bool(flag.strip()) and validate.parse_bool(flag.strip(), COLUMNS[12])
        if not answered.strip():
            return promised, None
        if not promised:
            raise BadInputError(NOT_PROMISED)
        return promised, self._happened(
            validate.parse_time(answered, "answered_at"), received, "answered_at"
        )

    def _kinds(self, values: tuple[str, ...]) -> _Kinds:
        """Channel, department, topic, advisor and call-back flag, each through its validator
        (raising at the first bad one), remembered for the row's five cells as they are: they
        take few values, and a file repeats few combinations of them."""
        flag = values[6].strip()
        kinds = (
            validate.channel(values[2].strip()),
            validate.department(values[3].strip(), self.departments),
            validate.topic(values[4].strip(), self.topics),
            validate.advisor(values[5]),
            bool(flag) and validate.parse_bool(flag, COLUMNS[6]),
        )
        if len(self.kinds) >= KINDS_CACHE:
            self.kinds.clear()
        self.kinds[values[2:7]] = kinds
        return kinds

    def _problems(self, values: Sequence[str]) -> Row | list[str]:
        """Every problem of the row, each naming its column (or the row, if it has none)."""
        problems: list[str] = []
        received, replied, called_back, closed, answered = self._times(values, problems)
        if closed is not None:
            try:
                self._closes_after(closed, replied, called_back, answered)
            except BadInputError as exc:
                problems.append(str(exc))  # it names the columns
        channel = self._check(problems, "channel", values[2], validate.channel)
        department = self._check(
            problems, "department", values[3], validate.department, self.departments
        )
        topic = self._check(problems, "topic", values[4], validate.topic, self.topics)
        advisor = self._advisor(values[5], problems)
        callback = bool(
            values[6].strip()
            and self._check(problems, "", values[6], validate.parse_bool, COLUMNS[6])
        )
        note = self._check(problems, "note", values[10], validate.note, self.note_max)
        ref = self._check(problems, "ref", values[0], validate.ref) if values[0].strip() else None
        pauses = self._pauses(values[11], received, closed, problems)
        before = len(problems)
        promised = bool(
            values[12].strip()
            and self._check(problems, "", values[12], validate.parse_bool, COLUMNS[12])
        )
        if answered is not None and not promised and len(problems) == before:
            problems.append(NOT_PROMISED)
        if values[14].strip() not in ("", self.office):
            problems.append(self._office_problem(values[14].strip()))
        purged = None
        if values[15].strip() and (closed is not None or not values[9].strip()):
            # (a bad closed_at is named already: purged_at is not checked against it)
            try:
                purged = self._purged(values[15], closed, values[10])
            except BadInputError as exc:
                problems.append(_hidden(str(exc), values[15]))
        if problems or received is None:
            return problems
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
            note=note or None,
            pauses=pauses,
            answer_promised=promised,
            answered_at=answered,
            office=self.office,
            purged_at=purged,
        )

    def _other(self, key: str) -> RowChecker | None:
        """The checker of office ``key``'s rows, where that is another office this import
        may write into; None where it is this office, or one the row may not name."""
        if key in self.others:
            return self.others[key]
        checker = None
        if key and key != self.office and self.ctx.scope.allows_office(key):
            # An unknown office stays None: _office_problem names the known ones.
            with suppress(BadInputError):
                checker = RowChecker(self.ctx.office(key))
        self.others[key] = checker
        return checker

    def _office_problem(self, key: str) -> str:
        """Why a row may not name office ``key`` (another office than this checker's)."""
        if not self.ctx.scope.allows_office(key):
            return (
                f"office: not {self.office!r}, the office of this import (--office); "
                "without --office each row goes to the office it names"
            )
        return "office: " + _hidden(str(unknown_office(self.ctx.settings, key)), key)

    @staticmethod
    def _check(problems: list[str], column: str, cell: str, check: Any, *args: Any) -> Any:
        """``check(value, *args)`` of the trimmed cell (the note as written); a problem
        names the column (``column`` "" where the validator names it itself)."""
        value = cell if column == "note" else cell.strip()
        if column in REQUIRED and not value:
            problems.append(f"{column}: required")
            return None
        try:
            return check(value, *args)
        except BadInputError as exc:
            message = _hidden(str(exc), cell)
            problems.append(f"{column}: {message}" if column else message)
            return None

    def _times(self, values: Sequence[str], problems: list[str]) -> list[datetime | None]:
        """The five time columns; a fulfilment or closing before receipt is refused as the
        register refuses one (validate.not_before)."""
        received = None
        if not values[1].strip():
            problems.append("received_at: required")
        else:
            received = self._check(problems, "", values[1], validate.parse_time, "received_at")
        if received is not None:
            try:
                validate.received_at(received, self.now, self.skew)
            except BadInputError as exc:
                problems.append(f"received_at: {exc}")
                received = None  # the other times are not checked against it
        times: list[datetime | None] = [received]
        cells = (values[i] for i in _FULFILMENT_CELLS)
        for column, cell in zip(TIME_COLUMNS[1:], cells, strict=True):
            moment = None
            if cell.strip():
                moment = self._check(problems, "", cell, validate.parse_time, column)
            if moment is not None and received is not None:
                try:
                    self._happened(moment, received, column)
                except BadInputError as exc:
                    problems.append(str(exc))  # it names the column
            times.append(moment)
        return times

    def _advisor(self, cell: str, problems: list[str]) -> str | None:
        known = self.advisors.get(cell)
        if known is None and cell not in self.advisors:
            try:
                known = validate.advisor(cell)
            except BadInputError as exc:
                known = BadInputError(_hidden(str(exc), cell))
            self.advisors[cell] = known
        if isinstance(known, BadInputError):
            problems.append(f"advisor: {known}")
            return None
        return known

    def _pauses(
        self, cell: str, received: datetime | None, closed: datetime | None, problems: list[str]
    ) -> tuple[Pause, ...]:
        """The pauses of the cell; none starts or ends in the future, as ``pause`` and
        ``resume`` refuse such a time."""
        if not cell.strip():
            return ()
        try:
            pauses = parse_pauses(cell, received, closed)
            for pause in pauses:
                validate.not_after(pause.start, self.now, self.skew, "pauses: pause at")
                if pause.end is not None:
                    validate.not_after(pause.end, self.now, self.skew, "pauses: resume at")
        except BadInputError as exc:
            problems.append(_hidden(str(exc), cell))
            return ()
        return pauses
