"""The database-free half of ``import``: a CSV file read in chunks, every row validated, and
the valid ones made ready to insert (deadlines on epoch microseconds, state at ``now``,
times in the driver's form): all but their generated refs, and on PostgreSQL their ids,
which need the database.

Needing no database is what lets this half run in a second process while the first one
writes (tracker.transfer.importer), so what it hands over is plain picklable data: a :class:`Chunk`.
The deadlines use the working-time index behind BusinessCalendar.due_us, the same arithmetic
as sla.evaluate, which a test holds it to; rows with pauses take the SLA engine's exact path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.core.calendar import to_us
from tracker.core.response import US_PER_MINUTE, local_month_us, packed_outcome
from tracker.store.register import Context
from tracker.transfer.csvio import BATCH, FastParser, Spooled, parse_row, read_rows, spooled
from tracker.transfer.fastpath import Plan, by_rule, classify_us, exact_obligations, met_at

Plans = dict[tuple[str, bool], list[Plan]]
Entry = tuple[int, str | None, int, list[str] | None]
"""A data row as the import's bookkeeping sees it: (row number, explicit ref or None, local
year received, None if valid or else its problems)."""

# Distinct instants kept converted; a long file's cache is emptied when it grows past this.
TIME_CACHE = 200_000
NO_ADVISOR = ["advisor: required, since no default_recipient is configured"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """Up to BATCH consecutive data rows. ``inquiries`` holds INQUIRY_COLUMNS without id and
    ref, one per valid row in file order. Rows of ``obligations`` (OBLIGATION_COLUMNS) and
    ``pauses`` (PAUSE_COLUMNS) begin with the id their inquiry gets if the valid rows are
    numbered on from ``chunks``' ``first_id``: ``first`` is the id of this chunk's first one.
    The three lists are empty when ``prepared`` is false: a dry run, or a chunk after a bad
    row, which will never be written."""

    entries: list[Entry]
    first: int
    prepared: bool
    inquiries: list[tuple[Any, ...]]
    obligations: list[tuple[Any, ...]]
    pauses: list[tuple[Any, ...]]


class _Texts(dict[int, Any]):
    """Epoch µs -> the driver's form, each distinct instant converted once: deadlines repeat,
    and met_at repeats another column of its row. A miss converts (``__missing__``), so a
    lookup is one subscript. Without it converting is the costliest step per row."""

    def __init__(self, convert: Callable[[int], Any]) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, us: int) -> Any:
        value = self[us] = self.convert(us)
        return value


def chunks(
    path: Path,
    ctx: Context,
    plans: Plans,
    *,
    convert: Callable[[int], Any] | None,
    first_id: int = 0,
) -> Iterator[Chunk]:
    """Every data row of ``path``, BATCH rows per chunk, never the whole file in memory.
    ``convert`` turns epoch µs into the driver's form (tracker.store.bulk.driver_time); None only
    validates (a dry run). Rows stop being prepared after the first bad one: nothing will be
    written then. ``first_id`` is the inquiry id the first valid row is expected to get."""
    needs_recipient = not ctx.settings.default_recipient
    fast = FastParser(ctx)
    # None from the first bad row on, or in a dry run: nothing will be written.
    preparer = None if convert is None else _Preparer(ctx, plans, convert, first_id=first_id)
    entries: list[Entry] = []
    valid: list[Spooled] = []
    for number, values in read_rows(path):
        item = None if values is None else fast(values)
        if item is None:
            problems = ["wrong number of fields for the header"]
            if values is not None:
                row, problems = parse_row(values, ctx)
                item = None if row is None else spooled(row, ctx.calendar.tz)
            if item is None:
                entries.append((number, None, 0, problems))
                preparer = None
        if item is not None:
            if (
                needs_recipient
                and not item[5]
                and any(met_at(item, p.fulfilled_by) is None for p in plans[item[2], item[6]])
            ):
                entries.append((number, None, 0, NO_ADVISOR))
                preparer = None
            else:
                entries.append((number, item[0], item[11], None))
                if preparer is not None:
                    valid.append(item)
        if len(entries) >= BATCH:
            yield _chunk(preparer, entries, valid)
            entries, valid = [], []
    if entries:
        yield _chunk(preparer, entries, valid)


def _chunk(preparer: _Preparer | None, entries: list[Entry], valid: list[Spooled]) -> Chunk:
    if preparer is None:
        return Chunk(entries, 0, False, [], [], [])
    return preparer.chunk(entries, valid)


class _Preparer:
    """Valid rows into insertable ones, keeping the time cache from chunk to chunk."""

    def __init__(
        self, ctx: Context, plans: Plans, convert: Callable[[int], Any], *, first_id: int
    ) -> None:
        self.ctx, self.plans = ctx, plans
        self.times = _Texts(convert)
        self.now_us = to_us(ctx.now)
        self.next_id = first_id

    def chunk(self, entries: list[Entry], valid: list[Spooled]) -> Chunk:
        first = self.next_id
        self.next_id += len(valid)
        times = self.times
        if len(times) > TIME_CACHE:
            times.clear()
        created = times[self.now_us]
        inquiries = [
            (channel, department, topic, advisor, callback, times[rec],
             None if rep is None else times[rep], None if cbk is None else times[cbk],
             None if clo is None else times[clo], note, created)
            for (_, rec, channel, department, topic, advisor, callback, rep, cbk, clo, note, _,
                 _) in valid
        ]  # fmt: skip
        paused = [p for p, item in enumerate(valid) if item[12]]
        if not paused:
            obligations = self._obligations(valid, range(first, first + len(valid)))
            return Chunk(entries, first, True, inquiries, obligations, [])
        # Rare: rows with pauses take the SLA engine's exact path.
        fast = [p for p in range(len(valid)) if not valid[p][12]]
        obligations = self._obligations([valid[p] for p in fast], [first + p for p in fast])
        obligations += self._paused_obligations([(first + p, valid[p]) for p in paused])
        pauses = [
            (first + p, times[start], None if end is None else times[end])
            for p in paused
            for start, end in valid[p][12]
        ]
        return Chunk(entries, first, True, inquiries, obligations, pauses)

    def _obligations(self, batch: list[Spooled], ids_of: Sequence[int]) -> list[tuple[Any, ...]]:
        """The obligation rows of rows without pauses: deadlines per rule for the whole batch
        at once, the state at ``now``, and the stored response time of those met.
        ``ids_of`` gives each row's expected inquiry id (see Chunk)."""
        times, now_us = self.times, self.now_us
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        for plan, positions in by_rule(batch, self.plans, self.ctx.rules):
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
                    (ids_of[p], name, schedule, hours, times[warn], times[due], met_v,
                     minutes, local_month_us(start), batch[p][3], code, state, next_v)
                )  # fmt: skip
        return rows

    def _paused_obligations(self, rows: list[tuple[int, Spooled]]) -> list[tuple[Any, ...]]:
        """Obligation rows of rows with pauses, exactly as the register writes them."""
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
