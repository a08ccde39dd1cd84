"""``import``: a CSV file into the register, all rows or none, without holding it in memory.

Everything happens in the caller's one transaction. Every row and every explicit ref (also
against the database) is validated, and up to MAX_REPORTED bad rows are reported by number
and column; a dry run stops there. Valid rows get their deadlines on epoch microseconds
(the working-time index behind BusinessCalendar.due_us; the same arithmetic as
sla.evaluate, which a test holds it to) and are inserted in batches at driver level
(tracker.bulk), an order of magnitude faster than ORM ``add_all``.

Normally that is one streaming pass: each batch is written as soon as it is validated, and
a bad row later in the file rolls everything back. A file that both gives generated-style
refs and leaves refs to generate in the same year takes two passes (validate and spool to
a temporary file, then write), because generated refs must skip every explicit one.
One ``imported`` event records the count: the audit trail never holds a note.
"""

from __future__ import annotations

import heapq
import pickle
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker import refs
from tracker.bulk import BulkWriter
from tracker.calendar import to_us
from tracker.csvio import BATCH, FastParser, Spooled, parse_row, read_rows, spooled
from tracker.errors import BadInputError
from tracker.fastpath import Plan, by_rule, classify_us, exact_obligations, met_at, plans_for
from tracker.models import Event, Inquiry
from tracker.register import Context, EventKind
from tracker.response import US_PER_MINUTE, local_month_us, packed_outcome

MAX_REPORTED = 20
REF_CHECK_CHUNK = 1000
TIME_CACHE = 200_000

Progress = Callable[[str, int], None]
"""Called with (phase, rows done so far) every BATCH rows."""


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
        # A ref already in the database is found when its chunk of refs is checked, after
        # the problems of later rows: the heap keeps the lowest row numbers whatever the order.
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
) -> ImportResult:
    """Validate all of ``path`` and (unless ``dry_run``) insert all of it, or nothing."""
    plans = plans_for(ctx.rules, ctx.calendar)
    if dry_run:
        scan = _Scan()
        _validate(session, ctx, path, scan, plans=plans, progress=progress, sink=None)
        _refuse_bad(path, scan)
    else:
        try:
            with session.begin_nested():
                scan = _import_in_one_pass(session, ctx, path, plans=plans, progress=progress)
        except _MixedRefs:
            scan = _import_in_two_passes(session, ctx, path, plans=plans, progress=progress)
    generated = sum(scan.per_year.values())
    if not dry_run:
        session.add(
            Event(
                kind=EventKind.IMPORTED.value,
                at=ctx.now,
                recorded_at=ctx.now,
                actor=ctx.actor,
                details={"rows": scan.rows, "generated_refs": generated},
            )
        )
    return ImportResult(rows=scan.rows, generated_refs=generated, dry_run=dry_run)


class _MixedRefs(Exception):
    """The file gives generated-style refs in a scope where it also leaves refs to generate:
    only the two-pass import numbers those the way ``refs.allocate`` promises."""


def _import_in_one_pass(
    session: Session,
    ctx: Context,
    path: Path,
    *,
    plans: dict[tuple[str, bool], list[Plan]],
    progress: Progress | None,
) -> _Scan:
    """The common case: each batch is written as soon as it is validated, in the caller's
    transaction; a bad row anywhere stops the writing and the error rolls all of it back.

    Generated refs are numbered per batch, which matches the two-pass numbering unless the
    same scope also has explicit generated-style refs; then _MixedRefs restarts the import.
    """
    scan = _Scan(one_pass=True)
    loader = _Loader(session, ctx, scan, plans)
    with loader.writer.loading():
        _validate(session, ctx, path, scan, plans=plans, progress=progress, sink=loader.write)
        _refuse_bad(path, scan)
        for scope, highest in scan.highest.items():
            refs.raise_counter(session, scope, highest)
    return scan


def _import_in_two_passes(
    session: Session,
    ctx: Context,
    path: Path,
    *,
    plans: dict[tuple[str, bool], list[Plan]],
    progress: Progress | None,
) -> _Scan:
    """Validate everything, spooling valid rows to a temporary file, then raise the ref
    counters past the explicit refs and write: generated refs skip every explicit one."""
    with tempfile.TemporaryFile(prefix="svarfrist-import-") as spool:

        def to_spool(batch: list[Spooled]) -> None:
            pickle.dump(batch, spool, pickle.HIGHEST_PROTOCOL)

        scan = _Scan()
        _validate(session, ctx, path, scan, plans=plans, progress=None, sink=to_spool)
        _refuse_bad(path, scan)
        for scope, highest in scan.highest.items():
            refs.raise_counter(session, scope, highest)
        loader = _Loader(session, ctx, scan, plans)
        with loader.writer.loading():
            for batch in _batches(spool):
                loader.write(batch)
                if progress is not None:
                    progress("importing", loader.done)
    return scan


def _refuse_bad(path: Path, scan: _Scan) -> None:
    if not scan.bad_rows:
        return
    lines = scan.messages()
    more = scan.bad_rows - len(lines)
    if more > 0:
        lines.append(f"... and {more} more bad rows")
    raise BadInputError(
        f"{path}: {scan.bad_rows} bad rows, nothing imported:\n  " + "\n  ".join(lines)
    )


def _validate(
    session: Session,
    ctx: Context,
    path: Path,
    scan: _Scan,
    *,
    plans: dict[tuple[str, bool], list[Plan]],
    progress: Progress | None,
    sink: Callable[[list[Spooled]], None] | None,
) -> None:
    """Check every row into ``scan``; while all are valid, hand them to ``sink`` in batches
    (never the whole file in memory)."""
    prefix = ctx.settings.ref_prefix
    needs_recipient = not ctx.settings.default_recipient
    fast = FastParser(ctx)
    batch: list[Spooled] = []
    for number, values in read_rows(path):
        scan.rows += 1
        if values is None:
            scan.bad(number, ["wrong number of fields for the header"])
            continue
        item = fast(values)
        if item is None:
            row, problems = parse_row(values, ctx)
            if row is None:
                scan.bad(number, problems)
                continue
            item = spooled(row, ctx.calendar.tz)
        ref, channel, callback, advisor = item[0], item[2], item[6], item[5]
        if (
            needs_recipient
            and not advisor
            and any(met_at(item, p.fulfilled_by) is None for p in plans[channel, callback])
        ):
            scan.bad(number, ["advisor: required, since no default_recipient is configured"])
            continue
        if ref is None:
            scan.per_year[item[11]] = scan.per_year.get(item[11], 0) + 1
        else:
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
            if len(scan.unchecked) >= REF_CHECK_CHUNK:
                _check_refs(session, scan)
        if sink is not None and not scan.bad_rows:
            batch.append(item)
            if len(batch) >= BATCH:
                _flush(session, scan, sink, batch)
                batch = []
        if progress is not None and scan.rows % BATCH == 0:
            progress("importing" if scan.one_pass else "validating", scan.rows)
    _check_refs(session, scan)
    if sink is not None and batch:
        _flush(session, scan, sink, batch)


def _flush(
    session: Session, scan: _Scan, sink: Callable[[list[Spooled]], None], batch: list[Spooled]
) -> None:
    # The batch's explicit refs are checked against the database before a one-pass write
    # puts them there (afterwards each would find itself).
    _check_refs(session, scan)
    if not scan.bad_rows:
        sink(batch)


def _check_refs(session: Session, scan: _Scan) -> None:
    """Explicit refs that already exist in the database make their rows bad."""
    if not scan.unchecked:
        return
    wanted = [ref for _, ref in scan.unchecked]
    existing = set(session.scalars(select(Inquiry.ref).where(Inquiry.ref.in_(wanted))))
    for number, ref in scan.unchecked:
        if ref in existing:
            scan.bad(number, [f"ref: duplicate ref {ref!r}: an inquiry with that ref exists"])
    scan.unchecked.clear()


def _batches(spool: IO[bytes]) -> Iterator[list[Spooled]]:
    spool.seek(0)
    while True:
        try:
            yield pickle.load(spool)
        except EOFError:
            return


class _Texts(dict[int, Any]):
    """Epoch µs -> the driver's form, each distinct instant converted once: deadlines repeat,
    and met_at repeats another column of its row. A miss converts (``__missing__``), so a
    lookup is one subscript."""

    def __init__(self, convert: Callable[[int], Any]) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, us: int) -> Any:
        value = self[us] = self.convert(us)
        return value


class _Loader:
    """Writes valid batches: refs, deadlines and state at ``now`` on epoch µs, then the
    bulk writer. Converting an instant to the driver's form is the costliest step per row,
    hence :class:`_Texts`."""

    def __init__(
        self, session: Session, ctx: Context, scan: _Scan, plans: dict[tuple[str, bool], list[Plan]]
    ) -> None:
        self.session, self.ctx, self.scan, self.plans = session, ctx, scan, plans
        self.writer = BulkWriter(session)
        self.now_us = to_us(ctx.now)
        self.times = _Texts(self.writer.converter())
        self.created = self.times[self.now_us]
        self.done = 0

    def write(self, batch: list[Spooled]) -> None:
        times, created = self.times, self.created
        if len(times) > TIME_CACHE:
            times.clear()
        new_refs = self._refs_for(batch)
        ids = self.writer.reserve_ids(len(batch))
        inquiries = []
        for inquiry_id, item in zip(ids, batch, strict=True):
            (ref, rec, channel, department, topic, advisor, callback, rep, cbk, clo, note, year,
             _pauses) = item  # fmt: skip
            if ref is None:
                ref = next(new_refs[year])
            rec_v = times[rec]
            rep_v = None if rep is None else times[rep]
            cbk_v = None if cbk is None else times[cbk]
            clo_v = None if clo is None else times[clo]
            inquiries.append(
                (inquiry_id, ref, channel, department, topic, advisor, callback,
                 rec_v, rep_v, cbk_v, clo_v, note, created)
            )  # fmt: skip
        paused = [p for p, item in enumerate(batch) if item[12]]
        if paused:  # rare: those rows take the SLA engine's exact path
            fast = [p for p in range(len(batch)) if not batch[p][12]]
            obligations = _obligations(
                [batch[p] for p in fast], [ids[p] for p in fast], plans=self.plans,
                ctx=self.ctx, now_us=self.now_us, times=times,
            )  # fmt: skip
            obligations += self._paused_obligations([(ids[p], batch[p]) for p in paused])
        else:
            obligations = _obligations(
                batch, ids, plans=self.plans, ctx=self.ctx, now_us=self.now_us, times=times
            )  # fmt: skip
        self.writer.insert(inquiries, obligations)
        if paused:
            self.writer.insert_pauses(
                [(ids[p], times[a], None if b is None else times[b])
                 for p in paused for a, b in batch[p][12]]
            )  # fmt: skip
        self.done += len(batch)

    def _paused_obligations(self, rows: list[tuple[int, Spooled]]) -> list[tuple[Any, ...]]:
        """Obligation rows of inquiries with pauses, exactly as the register writes them."""
        ctx, times = self.ctx, self.times

        def time(us: int | None) -> Any:
            return None if us is None else times[us]

        return [
            (inquiry_id, rule, schedule, hours, time(warn), time(due), time(met), minutes,
             local_month_us(item[1]), item[3],
             None if met is None else packed_outcome(due is not None and met > due, minutes),
             state, time(next_us))
            for inquiry_id, item in rows
            for rule, schedule, hours, warn, due, met, minutes, state, next_us in exact_obligations(
                item, ctx.rules, ctx.calendar, ctx.now
            )
        ]  # fmt: skip

    def _refs_for(self, batch: list[Spooled]) -> dict[int, Iterator[str]]:
        """Generated refs for the batch's rows without one, per received year."""
        per_year: dict[int, int] = {}
        for item in batch:
            if item[0] is None:
                per_year[item[11]] = per_year.get(item[11], 0) + 1
        prefix, scan = self.ctx.settings.ref_prefix, self.scan
        new_refs = {}
        for year, count in per_year.items():
            scope = refs.scope_of(prefix, year)
            if scan.one_pass and scope in scan.highest:
                raise _MixedRefs
            scan.generating.add(scope)
            new_refs[year] = refs.allocate(self.session, prefix, year, count, taken=scan.explicit)
        return new_refs


def _obligations(
    batch: list[Spooled],
    ids: Sequence[int],
    *,
    plans: dict[tuple[str, bool], list[Plan]],
    ctx: Context,
    now_us: int,
    times: _Texts,
) -> list[tuple[Any, ...]]:
    """The batch's obligation rows: deadlines per rule for the whole batch at once, the
    state at ``now``, and the stored response time of those met (rows without pauses)."""
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for plan, positions in by_rule(batch, plans, ctx.rules):
        name, schedule, hours, fulfilled_by = (
            plan.name,
            plan.schedule,
            plan.hours,
            plan.fulfilled_by,
        )
        starts = [batch[p][1] for p in positions]
        dues = plan.advance_many(starts, plan.due_us)
        warns = plan.advance_many(starts, plan.warn_us)
        mets = [met_at(batch[p], fulfilled_by) for p in positions]
        answered = [
            (start, met) for start, met in zip(starts, mets, strict=True) if met is not None
        ]
        worked = iter(plan.elapsed_many([r for r, _ in answered], [m for _, m in answered]))
        for p, start, due, warn, met in zip(positions, starts, dues, warns, mets, strict=True):
            state, _ = classify_us(warn, due, met, now_us)
            if met is None:  # unmet: the next sweep looks at it from its received time on
                met_v, minutes, next_v, code = None, None, times[start], None
            else:
                met_v, minutes, next_v = times[met], next(worked) // US_PER_MINUTE, None
                code = packed_outcome(met > due, minutes)  # the reports' stored outcome
            append(
                (ids[p], name, schedule, hours, times[warn], times[due], met_v, minutes,
                 local_month_us(start), batch[p][3], code, state, next_v)
            )  # fmt: skip
    return rows
