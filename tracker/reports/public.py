"""The public page of response times: per department and rule over the last 90 days.

Computed the reports' way from the stored response times (``rule_state_minutes`` is
``state_minutes`` for one rule; ``with_times`` folds it into counts and minute histograms;
the median and 90th percentile are ``ResponseHistogram``'s, the share on time is the
reports' compliance): the public page and the management report cannot disagree.

For the public: no ref, no advisor, no note, nothing about one inquiry. A cell built from
fewer than :data:`MIN_INQUIRIES` answered inquiries is suppressed (None), so a small
department's figures cannot point at one citizen's case; and the median and 90th percentile
of a cell shown are withheld (None) when they rest on fewer than :data:`MIN_INQUIRIES`
response times (a met obligation may have none stored: its schedule no longer configured).
Nor can the total less the departments shown give either (:func:`complemented`), nor the
page of every office less the page of one office (``parts``: a cell, or its times, of every
office is shown only where no office's page withholds a part of it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tracker.core.calendar import COPENHAGEN
from tracker.reports.build import percent, with_times
from tracker.reports.obligations import ObligationCounts, rule_state_minutes
from tracker.reports.queries import Period
from tracker.reports.times import ResponseHistogram

DAYS = 90
"""The window: inquiries received in the 90 days up to the request's clock."""
MIN_INQUIRIES = 5
"""A cell with fewer answered inquiries than this is suppressed; its median and p90 are
withheld when they rest on fewer response times than this."""


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One department's figures for one rule; every figure None when suppressed."""

    suppressed: bool
    answered: int | None = None
    median_hours: float | None = None
    p90_hours: float | None = None
    on_time_percent: float | None = None
    """Met on time among met or overdue, as the reports' compliance."""
    times_withheld: bool = False
    """Shown, but without median and p90 (None): fewer than MIN_INQUIRIES response times,
    or the total less the cells showing theirs would give some (:func:`complemented`)."""

    def without_times(self) -> Cell:
        """This cell with its median and p90 withheld (a suppressed cell stays so)."""
        if self.suppressed:
            return self
        return replace(self, median_hours=None, p90_hours=None, times_withheld=True)


@dataclass(frozen=True, kw_only=True)
class Row:
    department: str | None
    """None for the row of all departments together."""
    cells: dict[str, Cell]
    """rule name -> its cell."""


@dataclass(frozen=True, kw_only=True)
class PublicTimes:
    start: datetime
    end: datetime
    rules: tuple[str, ...]
    rows: tuple[Row, ...]
    total: Row
    withheld: frozenset[tuple[str | None, str]] = frozenset()
    """(department, or None for the total; rule) of the cells with something in them (met
    or overdue) that the page does not show: suppressed, or of a rule it does not publish.
    Never shown itself; what the page of every office must not give away (``parts``)."""
    withheld_times: frozenset[tuple[str | None, str]] = frozenset()
    """The same for the cells shown whose median and p90 the page withholds, of one
    response time or more: the page of every office withholds their times too."""


def window(now: datetime) -> Period:
    """The last :data:`DAYS` days up to ``now``, as a report period."""
    start = now - timedelta(days=DAYS)
    return Period(
        first=start.astimezone(COPENHAGEN).date(),
        last=now.astimezone(COPENHAGEN).date(),
        start=start,
        end=now,
    )


def cell(counts: ObligationCounts | None, hist: ResponseHistogram | None) -> Cell:
    """A cell from a group's counts and histogram, suppressed below MIN_INQUIRIES answered,
    its times withheld below MIN_INQUIRIES response times."""
    answered = 0 if counts is None else counts.answered
    if counts is None or answered < MIN_INQUIRIES:
        return Cell(suppressed=True)
    shown = Cell(
        suppressed=False,
        answered=answered,
        on_time_percent=percent(counts.on_time, counts.judged),
    )
    if hist is None or hist.n < MIN_INQUIRIES:
        return shown.without_times()
    return replace(shown, median_hours=hist.hours(0.5), p90_hours=hist.hours(0.9))


def complemented(
    cells: dict[str | None, Cell],
    counts: dict[str | None, ObligationCounts],
    hists: Mapping[str | None, ResponseHistogram],
) -> dict[str | None, Cell]:
    """``cells`` (one rule's, per department) with the fewest shown departments suppressed
    too while the suppressed ones hold 1 to MIN_INQUIRIES - 1 answered (met: what the
    total's ``answered`` counts) or judged obligations (met or overdue: what its share on
    time counts) together; else the total less the departments shown would give a
    suppressed department's figures (one answered beside four overdue: its count and its
    one response time). None or MIN_INQUIRIES or more hidden together: nothing to derive.

    Then the same for the times (``hists``: the response times the total's median and p90
    rest on): while the cells without times shown (suppressed, or their times withheld)
    hold 1 to MIN_INQUIRIES - 1 response times together, the times of the shown cell with
    the fewest are withheld too."""

    def answered(key: str | None) -> int:
        c = counts.get(key)
        return 0 if c is None else c.answered

    def judged(key: str | None) -> int:
        c = counts.get(key)
        return 0 if c is None else c.judged

    def timed(key: str | None) -> int:
        h = hists.get(key)
        return 0 if h is None else h.n

    counted = _withheld(
        cells, lambda c: c.suppressed, (answered, judged), lambda _c: Cell(suppressed=True)
    )
    return _withheld(
        counted, lambda c: c.suppressed or c.times_withheld, (timed,), Cell.without_times
    )


def _withheld(
    cells: dict[str | None, Cell],
    hidden: Callable[[Cell], bool],
    measures: Sequence[Callable[[str | None], int]],
    withhold: Callable[[Cell], Cell],
) -> dict[str | None, Cell]:
    """``cells`` with ``withhold`` applied to the shown cells (not ``hidden``), fewest by the
    last of ``measures`` first, while what is hidden holds 1 to MIN_INQUIRIES - 1 together
    by any measure: the one rule of :func:`complemented`, for the counts and for the times."""
    out = [key for key, c in cells.items() if hidden(c)]
    totals = [sum(measure(key) for key in out) for measure in measures]
    shown = sorted(
        (key for key, c in cells.items() if not hidden(c)),
        key=lambda key: (measures[-1](key), key or ""),
    )
    result = dict(cells)
    for key in shown:
        if not any(0 < n < MIN_INQUIRIES for n in totals):
            break
        result[key] = withhold(result[key])
        totals = [n + measure(key) for n, measure in zip(totals, measures, strict=True)]
    return result


def _together(
    counts: Iterable[ObligationCounts], hists: Iterable[ResponseHistogram]
) -> tuple[ObligationCounts, ResponseHistogram]:
    counts = list(counts)
    total = ObligationCounts(
        key=None,
        obligations=sum(c.obligations for c in counts),
        on_time=sum(c.on_time for c in counts),
        late=sum(c.late for c in counts),
        overdue=sum(c.overdue for c in counts),
    )
    merged = ResponseHistogram()
    for hist in hists:
        merged.minutes.update(hist.minutes)
    return total, merged


def response_times(
    session: Session,
    *,
    rules: Sequence[str],
    departments: Sequence[str],
    now: datetime,
    offices: frozenset[str] | None = None,
    published: Sequence[str] | None = None,
    parts: Sequence[PublicTimes] = (),
) -> PublicTimes:
    """Every department (the configured ones first, then any others found) for ``rules``;
    ``offices``: those offices' inquiries only (None: every office). ``published``: the
    rules the page shows (None: all of ``rules``); the others' cells with something in them
    count as withheld. ``parts``: the pages of the offices one by one (each computed for
    ``rules``), for the page of every office: a cell one of them withholds a part of is
    suppressed here too, else this cell less the parts shown would give it."""
    period = window(now).of_offices(offices)
    assert period.start is not None and period.end is not None
    kept = frozenset().union(*(part.withheld for part in parts))
    kept_times = frozenset().union(*(part.withheld_times for part in parts))

    def made(
        key: str | None,
        rule: str,
        counts: ObligationCounts | None,
        hist: ResponseHistogram | None,
    ) -> Cell:
        """:func:`cell`, suppressed or without times where a part withholds it or them."""
        if (key, rule) in kept:
            return Cell(suppressed=True)
        built = cell(counts, hist)
        return built.without_times() if (key, rule) in kept_times else built

    found: dict[str, dict[str | None, Cell]] = {}
    totals: dict[str, Cell] = {}
    withheld: set[tuple[str | None, str]] = set()
    withheld_times: set[tuple[str | None, str]] = set()
    for rule in rules:
        counts, hists, _ = with_times(rule_state_minutes(session, rule, period, now))
        cells = {key: made(key, rule, counts[key], hists.get(key)) for key in counts}
        found[rule] = complemented(cells, counts, hists)
        together = _together(counts.values(), hists.values())
        totals[rule] = made(None, rule, together[0], together[1])
        hidden = published is not None and rule not in published
        for key, c in [*found[rule].items(), (None, totals[rule])]:
            group = together[0] if key is None else counts[key]
            if (hidden or c.suppressed) and group.judged:
                withheld.add((key, rule))
            timed = together[1] if key is None else hists.get(key)
            if (hidden or c.times_withheld) and timed is not None and timed.n:
                withheld_times.add((key, rule))
    seen = {key for per_rule in found.values() for key in per_rule if key is not None}
    names = [*departments, *sorted(seen - set(departments))]
    rows = tuple(
        Row(
            department=name,
            cells={rule: found[rule].get(name, Cell(suppressed=True)) for rule in rules},
        )
        for name in names
    )
    return PublicTimes(
        start=period.start,
        end=period.end,
        rules=tuple(rules),
        rows=rows,
        total=Row(department=None, cells=totals),
        withheld=frozenset(withheld),
        withheld_times=frozenset(withheld_times),
    )
