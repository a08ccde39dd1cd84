"""``import``: a CSV file into the register, all rows or none, without holding it in memory.

Two streaming passes in the caller's one transaction. The first validates every row and
every explicit ref (also against the database), reporting up to MAX_REPORTED bad rows by
number and column; a dry run stops there. The second computes the deadlines on epoch
microseconds (the working-time index behind BusinessCalendar.due_us; the same arithmetic
as sla.evaluate, which a test holds it to) and inserts in batches with driver-level
executemany through SQLAlchemy Core, an order of magnitude faster than ORM ``add_all``.
One ``imported`` event records the count: the audit trail never holds a note.
"""

from __future__ import annotations

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
from tracker.fastpath import Plan, by_rule, classify_us, met_at, plans_for
from tracker.models import Event, Inquiry
from tracker.register import Context, EventKind
from tracker.response import US_PER_MINUTE

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
    messages: list[tuple[int, str]] = field(default_factory=list)
    unchecked: list[tuple[int, str]] = field(default_factory=list)

    def bad(self, row: int, problems: list[str]) -> None:
        self.bad_rows += 1
        if len(self.messages) < MAX_REPORTED:
            self.messages.append((row, f"row {row}: " + "; ".join(problems)))


def import_csv(
    session: Session,
    ctx: Context,
    path: Path,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate all of ``path``, then (unless ``dry_run``) insert all of it."""
    plans = plans_for(ctx.rules, ctx.calendar)
    with tempfile.TemporaryFile(prefix="svarfrist-import-") as spool:
        scan = _validate(
            session, ctx, path, plans=plans, progress=progress, spool=None if dry_run else spool
        )
        _refuse_bad(path, scan)
        if not dry_run:
            _insert(session, ctx, scan, spool, plans=plans, progress=progress)
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


def _refuse_bad(path: Path, scan: _Scan) -> None:
    if not scan.bad_rows:
        return
    lines = [text for _, text in sorted(scan.messages)[:MAX_REPORTED]]
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
    *,
    plans: dict[tuple[str, bool], list[Plan]],
    progress: Progress | None,
    spool: IO[bytes] | None,
) -> _Scan:
    """Pass one: check every row; valid rows go to ``spool`` in batches (never all in memory)."""
    scan = _Scan()
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
                scan.highest[scope] = max(scan.highest.get(scope, 0), n)
            scan.unchecked.append((number, ref))
            if len(scan.unchecked) >= REF_CHECK_CHUNK:
                _check_refs(session, scan)
        if spool is not None and not scan.bad_rows:
            batch.append(item)
            if len(batch) >= BATCH:
                pickle.dump(batch, spool, pickle.HIGHEST_PROTOCOL)
                batch = []
        if progress is not None and scan.rows % BATCH == 0:
            progress("validating", scan.rows)
    _check_refs(session, scan)
    if spool is not None and batch:
        pickle.dump(batch, spool, pickle.HIGHEST_PROTOCOL)
    return scan


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


def _insert(
    session: Session,
    ctx: Context,
    scan: _Scan,
    spool: IO[bytes],
    *,
    plans: dict[tuple[str, bool], list[Plan]],
    progress: Progress | None,
) -> None:
    """Pass two: refs, deadlines and state at ``now`` on epoch µs, then driver executemany."""
    prefix = ctx.settings.ref_prefix
    for scope, highest in scan.highest.items():
        refs.raise_counter(session, scope, highest)
    new_refs: dict[int, Iterator[str]] = {
        year: refs.allocate(session, prefix, year, count, taken=scan.explicit)
        for year, count in scan.per_year.items()
    }
    writer = BulkWriter(session)
    now_us = to_us(ctx.now)
    # Converting an instant to the driver's form is the costliest step per row, so each
    # distinct instant is converted once (deadlines repeat; met_at repeats another column
    # of the same row). next_action_at of an unmet obligation is its received time: the
    # daemon's next sweep plans it (obligations.first_look).
    seen: dict[int, Any] = {}
    get, convert = seen.get, writer.converter()
    created = convert(now_us)
    # All ids at once: on PostgreSQL one round trip to the sequence instead of one per batch.
    all_ids = writer.reserve_ids(scan.rows)
    done = 0
    with writer.loading(scan.rows):
        for batch in _batches(spool):
            if len(seen) > TIME_CACHE:
                seen.clear()
            ids = all_ids[done : done + len(batch)]
            inquiries = []
            for inquiry_id, item in zip(ids, batch, strict=True):
                (
                    ref,
                    rec,
                    channel,
                    department,
                    topic,
                    advisor,
                    callback,
                    rep,
                    cbk,
                    clo,
                    note,
                    year,
                ) = item
                if ref is None:
                    ref = next(new_refs[year])
                rec_v = get(rec) or seen.setdefault(rec, convert(rec))
                rep_v = None if rep is None else get(rep) or seen.setdefault(rep, convert(rep))
                cbk_v = None if cbk is None else get(cbk) or seen.setdefault(cbk, convert(cbk))
                clo_v = None if clo is None else get(clo) or seen.setdefault(clo, convert(clo))
                inquiries.append(
                    (inquiry_id, ref, channel, department, topic, advisor, callback,
                     rec_v, rep_v, cbk_v, clo_v, note, created)
                )  # fmt: skip
            writer.insert(
                inquiries,
                _obligations(
                    batch, ids, plans=plans, ctx=ctx, now_us=now_us, seen=seen, convert=convert
                ),
            )
            done += len(batch)
            if progress is not None:
                progress("importing", done)


def _obligations(
    batch: list[Spooled],
    ids: Sequence[int],
    *,
    plans: dict[tuple[str, bool], list[Plan]],
    ctx: Context,
    now_us: int,
    seen: dict[int, Any],
    convert: Callable[[int], Any],
) -> list[tuple[Any, ...]]:
    """The batch's obligation rows: deadlines per rule for the whole batch at once, the
    state at ``now``, and the stored response time of those met (no pauses on import)."""
    get = seen.get
    rows = []
    for plan, positions in by_rule(batch, plans, ctx.rules):
        starts = [batch[p][1] for p in positions]
        dues = plan.advance_many(starts, plan.due_us)
        warns = plan.advance_many(starts, plan.warn_us)
        mets = [met_at(batch[p], plan.fulfilled_by) for p in positions]
        pairs = zip(positions, mets, strict=True)
        answered = [(batch[p][1], met) for p, met in pairs if met is not None]
        worked = iter(plan.elapsed_many([r for r, _ in answered], [m for _, m in answered]))
        for p, due, warn, met in zip(positions, dues, warns, mets, strict=True):
            state, _ = classify_us(warn, due, met, now_us)
            due_v = get(due) or seen.setdefault(due, convert(due))
            warn_v = get(warn) or seen.setdefault(warn, convert(warn))
            if met is None:  # unmet: the next sweep looks at it from its received time on
                met_v, minutes, next_v = None, None, seen[batch[p][1]]
            else:
                met_v, minutes, next_v = seen[met], next(worked) // US_PER_MINUTE, None
            rows.append(
                (ids[p], plan.name, plan.schedule, plan.hours, warn_v, due_v, met_v, minutes,
                 state, next_v)
            )  # fmt: skip
    return rows
