"""Bulk inserts of inquiries and obligations at driver speed, for ``import``.

SQLAlchemy Core at the driver level (``exec_driver_sql`` with ``executemany``): no ORM unit
of work and no per-value type processing. Values are therefore given in the form the
column types would have produced: on SQLite the UTCDateTime text (naive UTC,
``YYYY-MM-DD HH:MM:SS.ffffff``, which sorts in time order), on PostgreSQL aware datetimes.
Inquiry ids are reserved up front so obligations can point at them without RETURNING:
on SQLite the caller's ``BEGIN IMMEDIATE`` transaction holds the write lock, so the next
free id is safe to take; on PostgreSQL they come from the table's sequence.

Once a load's rows outnumber those stored before it, a load on SQLite drops the secondary
indexes and rebuilds them at its end, inside the same transaction (SQLite's DDL is
transactional: a failed import restores them with everything else): building an index from
the finished table is cheaper than growing it row by row. The writing stays on the
importing thread: sqlite3 gives up the GIL for every row's step, so a writer thread beside
a busy preparing one would wait for the GIL at every row (tracker.transfer.importer
overlaps the two in separate processes instead).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, NamedTuple

from sqlalchemy import Index, text
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex

from tracker.store.models import Base, Inquiry, Obligation
from tracker.store.obligations import ObligationRow


class InquiryRow(NamedTuple):
    """One row of the ``inquiries`` table in its column order, times in the driver's form."""

    id: int
    ref: str | None
    channel: str
    department: str
    topic: str | None
    advisor: str | None
    callback_requested: bool
    received_at: Any
    replied_at: Any
    called_back_at: Any
    closed_at: Any
    note: str | None
    created_at: Any
    answer_promised: bool = False
    answered_at: Any = None
    office: str = "default"
    purged_at: Any = None


class PauseRow(NamedTuple):
    """One row of the ``pauses`` table, times in the driver's form (``end`` None: open)."""

    inquiry_id: int
    start: Any
    end: Any


INQUIRY_COLUMNS = InquiryRow._fields
OBLIGATION_COLUMNS = ObligationRow._fields
# "end" is a reserved word in SQL: quoted, as SQLAlchemy quotes it (both databases).
PAUSE_COLUMNS = ("inquiry_id", "start", '"end"')
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_US_PER_DAY = 86_400_000_000
_US_PER_MINUTE = 60_000_000
_MINUTE_TEXT = [f"{m // 60:02d}:{m % 60:02d}:00.000000" for m in range(24 * 60)]
# Rows per multi-row INSERT on SQLite: one statement step for many rows is cheaper than
# executemany's step per row; 50 rows of 15 columns stay far below SQLite's 32,766 bound
# parameters.
ROWS_PER_STATEMENT = 50
# Below this many rows rebuilding the indexes costs more than it saves.
DEFER_INDEXES_FROM = 10_000
# The indexes a bulk load may rebuild: the named secondary ones. Unique constraints stay,
# they are what refuses a duplicate.
DEFERRABLE_INDEXES: tuple[Index, ...] = tuple(
    index
    for model in (Inquiry, Obligation)
    for index in Base.metadata.tables[model.__tablename__].indexes
)


class BulkWriter:
    """Inserts InquiryRow, ObligationRow and PauseRow tuples."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.sqlite = self.connection.dialect.name == "sqlite"
        mark = "?" if self.sqlite else "%s"
        self.inquiry_sql = _insert_sql("inquiries", INQUIRY_COLUMNS, mark)
        self.obligation_sql = _insert_sql("obligations", OBLIGATION_COLUMNS, mark)
        self.pause_sql = _insert_sql("pauses", PAUSE_COLUMNS, mark)
        self._next_id: int | None = None
        self._dropped: list[Index] = []
        self._cursor: Any = None
        self._loading = False
        self._before: int | None = None
        self._loaded = 0
        if self.sqlite:
            # A bigger page cache for this connection: index inserts of a large batch stay in
            # memory instead of re-reading pages (64 MiB; negative means KiB).
            self.connection.exec_driver_sql("PRAGMA cache_size=-65536")

    def next_id(self) -> int | None:
        """The first id :meth:`reserve_ids` will hand out, where it is known ahead: on SQLite,
        where the caller's write lock keeps MAX(id) still; None on PostgreSQL (a sequence)."""
        if not self.sqlite:
            return None
        if self._next_id is None:
            last = self.connection.exec_driver_sql("SELECT MAX(id) FROM inquiries").scalar()
            self._next_id = int(last or 0) + 1
        return self._next_id

    def reserve_ids(self, count: int) -> Sequence[int]:
        """``count`` new inquiry ids: on SQLite a range, on PostgreSQL from its sequence."""
        first = self.next_id()
        if first is not None:
            self._next_id = first + count
            return range(first, first + count)
        return list(
            self.connection.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence('inquiries', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": count},
            ).scalars()
        )

    def defer_indexes(self) -> None:
        """Drop the secondary indexes until the end of :meth:`loading` (SQLite only)."""
        for index in DEFERRABLE_INDEXES:
            self.connection.exec_driver_sql(f"DROP INDEX {index.name}")
            self._dropped.append(index)

    def _maybe_defer_indexes(self, more: int) -> None:
        """Once the rows of this load (``more`` included) reach DEFER_INDEXES_FROM and outnumber
        the inquiries stored before it, the rest of the load goes without secondary indexes.
        PostgreSQL is left to its own bulk-load behaviour."""
        if not self.sqlite or self._dropped or not self._loading:
            return
        if self._before is None:
            stored = self.connection.exec_driver_sql("SELECT MAX(id) FROM inquiries").scalar()
            self._before = int(stored or 0)
        self._loaded += more
        if self._loaded >= DEFER_INDEXES_FROM and self._loaded > self._before:
            self.defer_indexes()

    def insert(self, inquiries: Sequence[InquiryRow], obligations: Sequence[ObligationRow]) -> None:
        """One batch: the inquiries, then the obligations that point at them."""
        self._maybe_defer_indexes(len(inquiries))
        if self.sqlite:
            self._insert_sqlite(INQUIRY_TABLE, inquiries)
            self._insert_sqlite(OBLIGATION_TABLE, obligations)
            return
        if inquiries:
            self.connection.exec_driver_sql(self.inquiry_sql, inquiries)
        if obligations:
            self.connection.exec_driver_sql(self.obligation_sql, obligations)

    def insert_pauses(self, pauses: Sequence[PauseRow]) -> None:
        """Pauses of inquiries already inserted; few, so executemany."""
        if pauses:
            self.connection.exec_driver_sql(self.pause_sql, pauses)

    def _insert_sqlite(self, table: _Table, rows: Sequence[tuple[Any, ...]]) -> None:
        """ROWS_PER_STATEMENT rows per INSERT ... VALUES (...), (...), on the driver's cursor
        (SQLAlchemy's per-call bookkeeping would cost more than it saves here); the rest of
        the batch row by row."""
        cursor = self._cursor
        if cursor is None:
            cursor = self._cursor = self.connection.connection.cursor()
        whole = len(rows) - len(rows) % ROWS_PER_STATEMENT
        many = table.many
        for start in range(0, whole, ROWS_PER_STATEMENT):
            cursor.execute(
                many, list(chain.from_iterable(rows[start : start + ROWS_PER_STATEMENT]))
            )
        if whole < len(rows):
            cursor.executemany(table.one, rows[whole:])

    @contextmanager
    def loading(self) -> Iterator[BulkWriter]:
        """A bulk load through :meth:`insert`, which may defer the indexes (see above); they
        are rebuilt when it ends without an error (after one, the rollback restores them)."""
        self._loading = True
        try:
            yield self
        finally:
            self._loading = False
        self._rebuild_indexes()

    def _rebuild_indexes(self) -> None:
        dialect = self.connection.dialect
        while self._dropped:
            index = self._dropped.pop()
            self.connection.exec_driver_sql(str(CreateIndex(index).compile(dialect=dialect)))


def driver_time(sqlite: bool) -> Callable[[int], Any]:
    """An epoch-µs instant as the database driver wants it (see the module doc), as a plain
    function for loops over many values."""
    if not sqlite:
        return lambda us: _EPOCH + timedelta(microseconds=us)
    days: dict[int, str] = {}

    def sqlite_text(us: int) -> str:
        # The text SQLAlchemy's SQLite DATETIME writes, built from parts: the date part is
        # shared by every instant of a day, and most instants are whole minutes.
        day, rest = divmod(us, _US_PER_DAY)
        date_part = days.get(day)
        if date_part is None:
            d = _NAIVE_EPOCH + timedelta(days=day)
            date_part = days[day] = f"{d.year:04d}-{d.month:02d}-{d.day:02d} "
        minute, within = divmod(rest, _US_PER_MINUTE)
        if not within:
            return date_part + _MINUTE_TEXT[minute]
        seconds, micro = divmod(rest, 1_000_000)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        return f"{date_part}{hours:02d}:{minutes:02d}:{seconds:02d}.{micro:06d}"

    return sqlite_text


def _insert_sql(table: str, columns: Sequence[str], mark: str, rows: int = 1) -> str:
    one = f"({', '.join([mark] * len(columns))})"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * rows)}"


@dataclass(frozen=True)
class _Table:
    """A table's INSERT for one row and for ROWS_PER_STATEMENT rows (SQLite's ``?`` marks)."""

    one: str
    many: str

    @classmethod
    def of(cls, table: str, columns: Sequence[str]) -> _Table:
        return cls(
            _insert_sql(table, columns, "?"), _insert_sql(table, columns, "?", ROWS_PER_STATEMENT)
        )


INQUIRY_TABLE = _Table.of("inquiries", INQUIRY_COLUMNS)
OBLIGATION_TABLE = _Table.of("obligations", OBLIGATION_COLUMNS)
