"""Management reports as values: query result -> report value (-> text, CSV, JSON, HTML).

The caller passes the period and ``now``; nothing here reads the clock. Counts come from SQL
GROUP BY (tracker.reports.queries). Response times are working minutes on the Danish
calendar, pauses excluded, stored with each met obligation when it is met
(tracker.core.response); the reports never measure one themselves, so a figure does not
depend on who wrote the row. One GROUP BY over (key, outcome code) gives the obligation
counts and one histogram per group at minute resolution, so memory depends on the number of
groups and the spread of response times, never on the number of rows; the median and 90th
percentile are read off the histogram exactly. A met obligation without a stored response
time is counted (on time or late) but left out of the median and p90, and counted in
:attr:`Report.untimed`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy.orm import Session

from tracker.config import stored_office
from tracker.core.calendar import BusinessCalendar
from tracker.core.outcome import STATE_BITS, STATE_MASK, Outcome
from tracker.core.units import ONE_US, US_PER_HOUR
from tracker.reports.obligations import (
    ObligationCounts,
    StateCodes,
    counts_of,
    obligation_counts,
    state_minutes,
)
from tracker.reports.queries import (
    GroupBy,
    InquiryCounts,
    Period,
    as_of,
    breaches,
    inquiry_counts,
)
from tracker.reports.times import ResponseHistogram, rounded

# The annual report lists this many of the most frequent topics.
TOP_TOPICS = 8


def percent(part: int, whole: int, places: int = 1, *, round_down: bool = False) -> float | None:
    """``part`` of ``whole`` in percent, rounded half up (274 of 463 -> 59.2); None if whole 0.

    ``round_down`` truncates instead, as the annual report does for the population share
    (463 of 40,368 -> 1.14 %, never overstating the reach).
    """
    if whole == 0:
        return None
    return rounded(Fraction(part * 100, whole), places, round_down=round_down)


@dataclass(frozen=True, kw_only=True)
class ReportRow:
    key: str | None
    count: int
    share: float | None
    open: int
    closed: int
    obligations: int
    on_time: int
    late: int
    overdue: int
    compliance: float | None
    """On time among met-or-overdue, percent, one decimal; None when there are none."""
    median_hours: float | None = None
    p90_hours: float | None = None


@dataclass(frozen=True, kw_only=True)
class Report:
    period: Period
    by: GroupBy
    now: datetime
    total: int
    open: int
    closed: int
    rows: tuple[ReportRow, ...]
    """Largest count first (ties by key); by month, oldest month first."""
    untimed: int = 0
    """Met obligations without a stored response time (their schedule no longer configured,
    or written outside Svarfrist): in the counts, not in the median and p90."""

    @property
    def obligations(self) -> ReportRow:
        """All groups' obligations together (each obligation is in exactly one group)."""
        return _row(
            None,
            count=self.total,
            total=self.total,
            closed=self.closed,
            obl=_sum(self.rows),
            hist=None,
        )


def _sum(rows: Iterable[ReportRow]) -> ObligationCounts:
    rows = list(rows)
    return ObligationCounts(
        key=None,
        obligations=sum(r.obligations for r in rows),
        on_time=sum(r.on_time for r in rows),
        late=sum(r.late for r in rows),
        overdue=sum(r.overdue for r in rows),
    )


def _row(
    key: str | None,
    *,
    count: int,
    total: int,
    closed: int,
    obl: ObligationCounts | None,
    hist: ResponseHistogram | None,
) -> ReportRow:
    obl = obl or ObligationCounts(key=key, obligations=0, on_time=0, late=0, overdue=0)
    judged = obl.judged
    return ReportRow(
        key=key,
        count=count,
        share=percent(count, total),
        open=count - closed,
        closed=closed,
        obligations=obl.obligations,
        on_time=obl.on_time,
        late=obl.late,
        overdue=obl.overdue,
        compliance=percent(obl.on_time, judged),
        median_hours=hist.hours(0.5) if hist else None,
        p90_hours=hist.hours(0.9) if hist else None,
    )


def _sort_key(by: GroupBy) -> Callable[[ReportRow], tuple[int, str]]:
    """The order of a report's rows: largest count first (ties by key); by month, the
    months in date order (their keys, ``YYYY-MM``, sort so), as a chart or a reader of any
    format expects them."""
    if by is GroupBy.MONTH:
        return lambda row: (0, row.key or "")
    return lambda row: (-row.count, row.key or "")


def with_times(
    batches: Iterable[StateCodes],
) -> tuple[dict[str | None, ObligationCounts], dict[str | None, ResponseHistogram], int]:
    """Fold the combined pass into obligation counts and minute histograms per key, and
    count the met obligations that have no stored response time.

    Up to groups x distinct minutes rows (143,000 by month over 1,000,000 inquiries), so
    the loop is kept lean: the code split with tracker.core.outcome's bit layout inline
    rather than by a call to ``decode`` per row, the key's tallies looked up on a new key
    (rows come grouped by key).
    """
    counts: dict[str | None, list[int]] = {}
    hists: dict[str | None, ResponseHistogram] = {}
    unstored = 0
    met = max(Outcome.ON_TIME, Outcome.LATE)
    last: object = counts  # no key is this object: the first row looks its key up
    tally: list[int] = []
    hist: ResponseHistogram | None = None
    for batch in batches:
        for key, code, n in batch:
            if key != last:
                last = key
                tally = counts.setdefault(key, [0] * len(Outcome))
                hist = hists.get(key)
            state = code & STATE_MASK
            tally[state] += n
            if state <= met:
                plus_one = code >> STATE_BITS
                if not plus_one:
                    unstored += n
                    continue
                if hist is None:
                    hist = hists[key] = ResponseHistogram()
                hist.minutes[plus_one - 1] += n
    return {key: counts_of(key, c) for key, c in counts.items()}, hists, unstored


def build_report(
    session: Session,
    *,
    by: GroupBy,
    period: Period,
    now: datetime,
    response_times: bool = True,
) -> Report:
    """Counts, shares, open/closed, obligations and compliance per ``by`` key at ``now``.

    ``response_times=False`` skips the median/p90 pass (the monthly chart needs no times).
    Grouped by rule, ``count`` is the inquiries carrying that rule; ``total`` stays the
    number of inquiries in the period, so those shares need not add up to 100. An inquiry
    received after ``now`` did not exist yet and is not counted (:func:`as_of`).
    """
    period = as_of(session, period, now)
    inquiries = inquiry_counts(session, by, period, now)
    hists: dict[str | None, ResponseHistogram] = {}
    untimed = 0
    keys = [i.key for i in inquiries]  # SQLite groups obligations by their positions
    if response_times:
        groups = state_minutes(session, by, period, now, keys)
        obligations, hists, untimed = with_times(groups)
    else:
        obligations = {o.key: o for o in obligation_counts(session, by, period, now, keys)}
    if by is GroupBy.RULE:
        totals = inquiry_counts(session, GroupBy.CHANNEL, period, now)
    else:
        totals = inquiries
    total = sum(i.count for i in totals)
    closed = sum(i.closed for i in totals)
    report_rows = [
        _row(
            i.key,
            count=i.count,
            total=total,
            closed=i.closed,
            obl=obligations.get(i.key),
            hist=hists.get(i.key),
        )
        for i in inquiries
    ]
    return Report(
        period=period,
        by=by,
        now=now,
        total=total,
        open=total - closed,
        closed=closed,
        rows=tuple(sorted(report_rows, key=_sort_key(by))),
        untimed=untimed,
    )


@dataclass(frozen=True, kw_only=True)
class ShareRow:
    key: str | None
    count: int
    share: float | None
    open: int


@dataclass(frozen=True, kw_only=True)
class AnnualReport:
    """The advisors' annual-report tables, counted instead of hand-counted."""

    period: Period
    now: datetime
    total: int
    open: int
    closed: int
    population: int | None
    population_share: float | None
    """Percent of the adult population that made contact, two decimals, rounded down."""
    departments: tuple[ShareRow, ...]
    channels: tuple[ShareRow, ...]
    topics: tuple[ShareRow, ...]
    """The most frequent topics (at most TOP_TOPICS), largest first."""
    months: tuple[ReportRow, ...]
    """Obligations and compliance per month, in calendar order (for the chart)."""


def _shares(counts: list[InquiryCounts], total: int) -> tuple[ShareRow, ...]:
    rows = [
        ShareRow(key=c.key, count=c.count, share=percent(c.count, total), open=c.count - c.closed)
        for c in counts
    ]
    return tuple(sorted(rows, key=lambda r: (-r.count, r.key or "")))


def monthly_compliance(session: Session, period: Period, now: datetime) -> tuple[ReportRow, ...]:
    """Obligations and compliance per local calendar month, oldest first."""
    period = as_of(session, period, now)
    rows = obligation_counts(session, GroupBy.MONTH, period, now)
    return tuple(
        sorted(
            (_row(o.key, count=0, total=0, closed=0, obl=o, hist=None) for o in rows),
            key=_sort_key(GroupBy.MONTH),
        )
    )


def build_annual(
    session: Session, *, period: Period, now: datetime, population: int | None
) -> AnnualReport:
    """Per department and first-contact channel (counts, shares, open), top topics, reach."""
    period = as_of(session, period, now)
    departments = inquiry_counts(session, GroupBy.DEPARTMENT, period, now)
    total = sum(d.count for d in departments)
    closed = sum(d.closed for d in departments)
    topics = [t for t in inquiry_counts(session, GroupBy.TOPIC, period, now) if t.key]
    return AnnualReport(
        period=period,
        now=now,
        total=total,
        open=total - closed,
        closed=closed,
        population=population,
        population_share=percent(total, population, 2, round_down=True) if population else None,
        departments=_shares(departments, total),
        channels=_shares(inquiry_counts(session, GroupBy.CHANNEL, period, now), total),
        topics=_shares(topics, total)[:TOP_TOPICS],
        months=monthly_compliance(session, period, now),
    )


@dataclass(frozen=True, kw_only=True)
class BreachRow:
    ref: str
    rule: str
    department: str
    advisor: str | None
    received_at: datetime
    due_at: datetime
    met_at: datetime | None
    hours_late: float | None
    """Working hours on the rule's schedule from due_at to met_at (or ``now`` if unmet);
    None when that schedule is no longer configured."""
    office: str
    """The inquiry's office (a register of several offices lists them together)."""


def breach_rows(
    session: Session,
    calendars: Mapping[str, BusinessCalendar],
    *,
    period: Period,
    now: datetime,
) -> Iterator[BreachRow]:
    """Every obligation met late or overdue at ``now`` for inquiries received in the period,
    how late counted on its inquiry's own office's calendar (``calendars``: office key ->
    calendar; an office no longer configured counts on ``default``'s)."""
    period = as_of(session, period, now)
    for b in breaches(session, period, now):
        calendar = stored_office(calendars, b.office)
        end = b.met_at if b.met_at is not None else now
        hours: float | None = None
        if b.schedule in calendar.schedules:
            late = calendar.working_time(b.due_at, end, b.schedule)
            hours = rounded(Fraction(late // ONE_US, US_PER_HOUR), 2)
        yield BreachRow(
            ref=b.ref,
            rule=b.rule,
            department=b.department,
            advisor=b.advisor,
            received_at=b.received_at,
            due_at=b.due_at,
            met_at=b.met_at,
            hours_late=hours,
            office=b.office,
        )
