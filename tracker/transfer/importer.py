"""``import``: a CSV file into the register, all rows or none, without holding it in memory.

Everything happens in the caller's one transaction. Every row and every explicit ref (also
against the database) is validated, and the first MAX_REPORTED bad rows are reported by
number and column; a dry run stops there. Reading, checking (csvio.RowChecker, the rules
``add`` applies) and deciding obligations (sla.decide, as ``add`` does) is
tracker.transfer.prepare, which needs no database; this module does the rest (refs, ids,
the audit event) and inserts in batches at driver level (tracker.store.bulk), much faster
than ORM ``add_all``.

Normally that is one streaming pass: each chunk is written as soon as it is validated, and a
bad row later in the file rolls everything back. For a file of several chunks on a machine
with a second core, tracker.transfer.prepare runs in a forked reader process that hands
ready chunks through a pipe while this process writes the previous ones; the reader dies
with the importing process, however that ends. A file that both gives generated-style refs
and leaves refs to generate in the same year takes two passes (validate and spool to a
temporary file, then write), because generated refs must skip every explicit one.
One ``imported`` event records the count: the audit trail never holds a note.
"""

from __future__ import annotations

import ctypes
import gc
import heapq
import os
import pickle
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.errors import BadInputError, SvarfristError
from tracker.store import refs
from tracker.store.bulk import BulkWriter, InquiryRow, driver_time
from tracker.store.context import Context
from tracker.store.models import Inquiry
from tracker.store.register import EventKind, record
from tracker.transfer.prepare import Chunk, chunks

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

MAX_REPORTED = 20
# Of the order of a chunk's objects (BATCH rows, several each): a collection then walks
# one chunk's survivors rather than the same chunk's rows again and again.
GC_EVERY = 100_000
REF_CHECK_CHUNK = 1000
# A file smaller than two chunks gives the reader process nothing to overlap.
READER_FROM_BYTES = 1 << 20
# prctl(2): the signal the kernel sends a process when its parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG = 1

Progress = Callable[[str, int], None]
"""Called with (phase, rows done so far) after every chunk (tracker.transfer.csvio.BATCH rows)."""


@dataclass(frozen=True, kw_only=True)
class ImportResult:
    rows: int
    generated_refs: int
    dry_run: bool


@dataclass
class _Scan:
    """What the validating pass learns: counts, explicit refs and the bad rows."""

    rows: int = 0
    explicit: dict[str, int] = field(default_factory=dict)
    highest: dict[str, int] = field(default_factory=dict)
    per_year: dict[int, int] = field(default_factory=dict)
    bad_rows: int = 0
    reported: list[tuple[int, str]] = field(default_factory=list)
    """The first MAX_REPORTED bad rows by number, as a heap on the negated number."""
    unchecked: list[tuple[int, str]] = field(default_factory=list)
    one_pass: bool = False
    generating: set[str] = field(default_factory=set)
    """Scopes the import has generated refs in so far (the one-pass import's conflict check)."""

    def bad(self, row: int, problems: list[str]) -> None:
        # A duplicate found in the database is known only when its chunk is checked, after
        # later rows' problems: the heap keeps the lowest row numbers whatever the order.
        self.bad_rows += 1
        entry = (-row, f"row {row}: " + "; ".join(problems))
        if len(self.reported) < MAX_REPORTED:
            heapq.heappush(self.reported, entry)
        elif row < -self.reported[0][0]:
            heapq.heapreplace(self.reported, entry)

    def messages(self) -> list[str]:
        return [text for _, text in sorted(self.reported, reverse=True)]


def import_csv(
    session: Session,
    ctx: Context,
    path: Path,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    reader: bool | None = None,
) -> ImportResult:
    """Validate all of ``path`` and (unless ``dry_run``) insert all of it, or nothing.
    ``reader`` runs tracker.transfer.prepare in a second process (None: when it is worth it)."""
    with _rare_collections():
        if dry_run:
            scan = _Scan()
            for chunk in chunks(path, ctx, convert=None):
                _take(session, ctx, scan, chunk)
                _report(progress, "validating", scan.rows)
            _refuse_bad(path, scan)
        else:
            in_reader = _reader_is_worth_it(path) if reader is None else reader
            try:
                with session.begin_nested():
                    scan = _import_in_one_pass(
                        session, ctx, path, progress=progress, in_reader=in_reader
                    )
            except _MixedRefs:
                scan = _import_in_two_passes(session, ctx, path, progress=progress)
    generated = sum(scan.per_year.values())
    if not dry_run:
        details = {"rows": scan.rows, "generated_refs": generated}
        record(session, ctx, None, EventKind.IMPORTED, ctx.now, details=details)
    return ImportResult(rows=scan.rows, generated_refs=generated, dry_run=dry_run)


@contextmanager
def _rare_collections() -> Iterator[None]:
    """The cyclic collector's youngest generation collected every GC_EVERY allocations
    instead of every 700 while the import runs: it allocates several small acyclic objects
    per row (rows, times, decisions), which the collector would otherwise walk every row or
    two; each collection still runs, only less often."""
    first, second, third = gc.get_threshold()
    gc.set_threshold(max(first, GC_EVERY), second, third)
    try:
        yield
    finally:
        gc.set_threshold(first, second, third)


class _MixedRefs(Exception):
    """The file gives generated-style refs in a scope where it also leaves refs to generate:
    only the two-pass import numbers those the way ``refs.allocate`` promises."""


def _import_in_one_pass(
    session: Session,
    ctx: Context,
    path: Path,
    *,
    progress: Progress | None,
    in_reader: bool = False,
) -> _Scan:
    """The common case: each chunk is written as soon as it is validated, in the caller's
    transaction; a bad row anywhere stops the writing and the error rolls all of it back.

    Generated refs are numbered per chunk, which matches the two-pass numbering unless the
    same scope also has explicit generated-style refs; then _MixedRefs restarts the import.
    """
    scan = _Scan(one_pass=True)
    loader = _Loader(session, ctx, scan)
    produce = loader.prepared(path)
    source: AbstractContextManager[Iterator[Chunk]]
    source = _in_reader_process(produce) if in_reader else nullcontext(produce())
    with loader.writer.loading(), source as stream:
        for chunk in stream:
            _take(session, ctx, scan, chunk)
            if not scan.bad_rows:
                loader.write(chunk)
            _report(progress, "importing", scan.rows)
        _refuse_bad(path, scan)
        for scope, highest in scan.highest.items():
            refs.raise_counter(session, scope, highest)
    return scan


def _import_in_two_passes(
    session: Session,
    ctx: Context,
    path: Path,
    *,
    progress: Progress | None,
) -> _Scan:
    """Validate everything, spooling prepared chunks to a temporary file, then raise the ref
    counters past the explicit refs and write: generated refs skip every explicit one."""
    scan = _Scan()
    loader = _Loader(session, ctx, scan)
    with tempfile.TemporaryFile(prefix="svarfrist-import-") as spool:
        for chunk in loader.prepared(path)():
            _take(session, ctx, scan, chunk)
            if not scan.bad_rows:
                pickle.dump(chunk.plain(), spool, pickle.HIGHEST_PROTOCOL)
        _refuse_bad(path, scan)
        for scope, highest in scan.highest.items():
            refs.raise_counter(session, scope, highest)
        with loader.writer.loading():
            for chunk in _spooled(spool):
                loader.write(chunk)
                _report(progress, "importing", loader.done)
    return scan


def _report(progress: Progress | None, phase: str, rows: int) -> None:
    if progress is not None:
        progress(phase, rows)


def _take(session: Session, ctx: Context, scan: _Scan, chunk: Chunk) -> None:
    """The chunk's rows into ``scan``: problems found while reading, refs twice in the file,
    explicit refs already in the database, and the refs the import must generate."""
    prefix = ctx.settings.ref_prefix
    for number, ref, year, problems in chunk.entries:  # Entry
        scan.rows += 1
        if problems is not None:
            scan.bad(number, problems)
            continue
        if ref is None:
            scan.per_year[year] = scan.per_year.get(year, 0) + 1
            continue
        earlier = scan.explicit.get(ref)
        if earlier is not None:
            scan.bad(number, [f"ref: {ref!r} is also the ref of row {earlier}"])
            continue
        scan.explicit[ref] = number
        generated = refs.parse_generated(prefix, ref)
        if generated is not None:
            scope, n = generated
            if scope in scan.generating:
                raise _MixedRefs
            scan.highest[scope] = max(scan.highest.get(scope, 0), n)
        scan.unchecked.append((number, ref))
    # Checked before a one-pass write puts them in the database (afterwards each would find
    # itself).
    _check_refs(session, scan)


def _check_refs(session: Session, scan: _Scan) -> None:
    """Explicit refs that already exist in the database make their rows bad."""
    for start in range(0, len(scan.unchecked), REF_CHECK_CHUNK):
        part = scan.unchecked[start : start + REF_CHECK_CHUNK]
        wanted = [ref for _, ref in part]
        existing = set(session.scalars(select(Inquiry.ref).where(Inquiry.ref.in_(wanted))))
        for number, ref in part:
            if ref in existing:
                scan.bad(number, [f"ref: duplicate ref {ref!r}: an inquiry with that ref exists"])
    scan.unchecked.clear()


def _refuse_bad(path: Path, scan: _Scan) -> None:
    if not scan.bad_rows:
        return
    lines = scan.messages()
    more = scan.bad_rows - len(lines)
    if more > 0:
        lines.append(f"... and {more} more bad rows")
    raise BadInputError(
        f"{path}: {scan.bad_rows} bad row{'' if scan.bad_rows == 1 else 's'}, nothing imported:\n  "
        + "\n  ".join(lines)
    )


def _spooled(spool: IO[bytes]) -> Iterator[Chunk]:
    spool.seek(0)
    while True:
        try:
            yield Chunk.named(pickle.load(spool))
        except EOFError:
            return


class _Loader:
    """Writes prepared chunks: generated refs and reserved ids in, then the bulk writer."""

    def __init__(self, session: Session, ctx: Context, scan: _Scan) -> None:
        self.session, self.ctx, self.scan = session, ctx, scan
        self.writer = BulkWriter(session)
        self.done = 0

    def prepared(self, path: Path) -> Callable[[], Iterator[Chunk]]:
        """The file's chunks as :meth:`write` takes them: in this database's driver form,
        their obligations numbered from the id the writer hands out next (if known ahead)."""
        return partial(
            chunks,
            path,
            self.ctx,
            convert=driver_time(self.writer.sqlite),
            first_id=self.writer.next_id() or 0,
        )

    def write(self, chunk: Chunk) -> None:
        entries = chunk.entries
        assert chunk.prepared and len(entries) == len(chunk.inquiries)  # no bad row in it
        new_refs = self._refs_for([e.year for e in entries if e.ref is None])
        ids = self.writer.reserve_ids(len(entries))
        new_row = tuple.__new__  # builds the row in C, not through the NamedTuple's __new__
        inquiries = [
            new_row(
                InquiryRow,
                (inquiry_id, next(new_refs[e.year]) if e.ref is None else e.ref, *row[2:]),
            )
            for inquiry_id, e, row in zip(ids, entries, chunk.inquiries, strict=True)
        ]
        obligations, pauses = chunk.obligations, chunk.pauses
        # On SQLite the ids are the range the rows were prepared with, so they go in as they
        # are (a range equals only a range); otherwise each row gets its inquiry's real id.
        if ids != range(chunk.first, chunk.first + len(ids)):
            first = chunk.first
            obligations = [o._replace(inquiry_id=ids[o.inquiry_id - first]) for o in obligations]
            pauses = [p._replace(inquiry_id=ids[p.inquiry_id - first]) for p in pauses]
        self.writer.insert(inquiries, obligations)
        if pauses:
            self.writer.insert_pauses(pauses)
        self.done += len(entries)

    def _refs_for(self, years: list[int]) -> dict[int, Iterator[str]]:
        """Generated refs for the chunk's rows without one, per received year."""
        per_year: dict[int, int] = {}
        for year in years:
            per_year[year] = per_year.get(year, 0) + 1
        prefix, scan = self.ctx.settings.ref_prefix, self.scan
        new_refs = {}
        for year, count in per_year.items():
            scope = refs.scope_of(prefix, year)
            if scan.one_pass and scope in scan.highest:
                raise _MixedRefs
            scan.generating.add(scope)
            new_refs[year] = refs.allocate(self.session, prefix, year, count, taken=scan.explicit)
        return new_refs


# -- the reader process ------------------------------------------------------------------------
def _reader_is_worth_it(path: Path) -> bool:
    """A second process pays on a file of several chunks, with a second core to run on. It
    is forked (Linux only: the reader inherits the settings, calendar and rules instead of
    importing and reading them again, and fork is the documented default there)."""
    if sys.platform != "linux":
        return False
    try:
        return len(os.sched_getaffinity(0)) > 1 and path.stat().st_size >= READER_FROM_BYTES
    except OSError:
        return False  # the reading reports it, in process


@dataclass(frozen=True)
class _Failed:
    """What stopped the reader, for the importing process to raise."""

    error: BaseException


@contextmanager
def _in_reader_process(produce: Callable[[], Iterator[Chunk]]) -> Iterator[Iterator[Chunk]]:
    """``produce()`` (tracker.transfer.prepare.chunks) run in a forked process. The pipe holds about
    one chunk, so the reader stays at most a chunk or two ahead: memory stays flat. The
    reader never touches the database connection it inherits, and leaves with ``os._exit``
    (multiprocessing's way), so nothing of the connection is closed or flushed there."""
    import multiprocessing  # here: 40 ms of start-up that a small import does not need

    forking = multiprocessing.get_context("fork")
    receiver, sender = forking.Pipe(duplex=False)
    reader = forking.Process(
        target=_read, args=(sender, produce, os.getpid()), name="svarfrist-import-reader"
    )
    # Frozen across the fork: a collection in the reader would walk, and so copy page by
    # page, the whole inherited heap; the reader collects nothing (see _read).
    gc.freeze()
    try:
        reader.start()
    finally:
        gc.unfreeze()
    sender.close()
    try:
        yield _received(receiver)
    finally:
        # Stopped before the pipe closes, so it is never left writing into a closed pipe.
        if reader.is_alive():
            reader.terminate()
        reader.join()
        receiver.close()


def _received(receiver: Connection) -> Iterator[Chunk]:
    while True:
        try:
            message = receiver.recv()
        except EOFError:
            raise SvarfristError(
                "import: the process reading the file stopped unexpectedly"
            ) from None
        if message is None:
            return
        if isinstance(message, _Failed):
            raise message.error
        yield Chunk.named(message)


def _read(sender: Connection, produce: Callable[[], Iterator[Chunk]], parent: int) -> None:
    """The reader process's whole life: every chunk, then None, or what stopped it. Its rows
    and chunks hold no reference cycles, so the cyclic collector stays off (no collection
    walks, and so copies, the heap inherited from the parent)."""
    _die_with(parent)
    gc.disable()
    try:
        for chunk in produce():
            sender.send(chunk.plain())
        sender.send(None)
    except BaseException as error:  # noqa: BLE001 - the importing process raises it
        with suppress(BaseException):  # the importing process may be gone: nothing to tell
            sender.send(_Failed(_picklable(error)))
    finally:
        sender.close()


def _die_with(parent: int) -> None:
    """Let the kernel kill this process when ``parent`` dies, however it dies: a SIGKILLed
    import must not leave its reader blocked on a pipe nobody reads, holding the file and
    the memory of its chunks (PR_SET_PDEATHSIG; the reader runs on Linux only)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        os._exit(1)  # cannot promise to die with the parent: the parent sees EOFError
    if os.getppid() != parent:
        os._exit(1)  # the parent died before the request took effect


def _picklable(error: BaseException) -> BaseException:
    """``error`` if it survives the pipe; else one that keeps its class's kind and message."""
    try:
        pickle.loads(pickle.dumps(error))
    except (pickle.PickleError, TypeError, AttributeError):
        kind = BadInputError if isinstance(error, BadInputError) else SvarfristError
        return kind(str(error))
    return error
