"""SQL aggregation for reports: GROUP BY on SQLite and PostgreSQL, never a row per inquiry.

Everything is evaluated *at ``now``* from the stored times, not from the cached ``state``
column (which is only as fresh as the last sweep):

* an inquiry is closed when ``closed_at <= now``, otherwise open;
* an obligation is met when ``met_at <= now``: on time when ``met_at <= due_at`` (or it has
  no deadline), late otherwise; an unmet obligation is overdue when ``due_at <= now``.

Periods are half-open UTC ranges on ``received_at`` built from local dates (see
:func:`period_of`), and may be narrowed to some offices (``report --office``, a web caller
of one office) and departments (a web caller held to some): :func:`scope_filter` is that
condition, and every pass takes it, shortcuts included (a period holding every stored row
holds every office's rows: one office's still need the filter). Unnarrowed, no pass has any
extra term. This module counts
inquiries, lists breaches and holds what the passes share (periods, month keys); the
obligation passes are in tracker.reports.obligations. The breach list is streamed; nothing
is loaded all at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session

from tracker.core.calendar import COPENHAGEN, MAX_YEAR, MIN_YEAR
from tracker.core.units import ONE_US
from tracker.errors import BadInputError, about
from tracker.store.models import Inquiry, Obligation, UTCDateTime
from tracker.store.scope import Scope, in_offices

# Rows fetched per round trip when streaming; bounds the memory of a streamed pass.
STREAM_BATCH = 5_000
# GROUP BY the first output column: the key may hold bound parameters (the month CASE),
# which PostgreSQL would not recognise as the same expression if repeated.
FIRST_COLUMN: ColumnElement[Any] = literal_column("1")
# On SQLite a period covering more than this share of the stored time span is read by a
# full table scan: walking the received_at index and fetching each row is ~4x slower there
# (measured on 1,000,000 rows, bench/report.py). PostgreSQL's planner has statistics.
FULL_SCAN_SHARE = 0.25


class GroupBy(StrEnum):
    DEPARTMENT = "department"
    CHANNEL = "channel"
    RULE = "rule"
    ADVISOR = "advisor"
    TOPIC = "topic"
    MONTH = "month"
    OFFICE = "office"
    """The inquiry's office (tracker.config.offices): offices side by side."""


@dataclass(frozen=True, kw_only=True)
class Period:
    """Local dates, both inclusive (None: unbounded), and their half-open UTC range."""

    first: date | None
    last: date | None
    start: datetime | None
    end: datetime | None
    offices: frozenset[str] | None = None
    """Only these offices' inquiries and obligations (None: every office, no filter at all;
    empty: nothing). See :func:`scope_filter`."""
    departments: frozenset[str] | None = None
    """Only these departments' (None: every department, no filter; empty: nothing): a
    caller held to departments (``web.restrict_departments``) sees only their figures."""

    def of_offices(self, offices: frozenset[str] | None) -> Period:
        """This period narrowed to ``offices`` (a Scope's ``offices``; None: every office)."""
        return replace(self, offices=offices)

    def within(self, scope: Scope) -> Period:
        """This period narrowed to what ``scope`` reaches: its offices and departments."""
        return replace(self, offices=scope.offices, departments=scope.departments)


def local_midnight(day: date) -> datetime:
    """Copenhagen midnight of ``day`` in UTC: a period is in local days, storage is UTC."""
    return datetime.combine(day, time(0), tzinfo=COPENHAGEN).astimezone(UTC)


def period_day(day: date, what: str) -> date:
    """``day`` if a report period may start or end on it: in the years the calendar supports,
    so that its local midnight, the next one and its month's bounds all exist in UTC (near
    year 1 and 9999 they do not). ``what`` names the value in the error (``--from``)."""
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise BadInputError(
            f"{what}: {day} is outside the years a report covers ({MIN_YEAR:04d}-{MAX_YEAR})"
        )
    return day


def period_of(first: date | None, last: date | None) -> Period:
    """``--from``/``--to`` as [first 00:00 local, day after last 00:00 local) in UTC.

    Raises BadInputError for a day :func:`period_day` refuses."""
    first = None if first is None else period_day(first, "first day")
    last = None if last is None else period_day(last, "last day")
    return Period(
        first=first,
        last=last,
        start=local_midnight(first) if first else None,
        end=local_midnight(last + timedelta(days=1)) if last else None,
    )


def checked_period(
    first: date | None, last: date | None, names: tuple[str, str] = ("--from", "--to")
) -> Period:
    """period_of, refusing a day :func:`period_day` refuses and a first day after the last
    (``names``: the two inputs' names, as the errors say them, and the field a day's refusal
    is about: the API's ``from``/``to``, a page's ``fra``/``til``)."""
    first = None if first is None else about(names[0])(period_day)(first, names[0])
    last = None if last is None else about(names[1])(period_day)(last, names[1])
    if first and last and first > last:
        raise BadInputError(f"{names[0]} {first} is after {names[1]} {last}").coded("order")
    return period_of(first, last)


def as_of(session: Session, period: Period, now: datetime) -> Period:
    """``period`` as the register held it at ``now``: an inquiry received after ``now``
    did not exist yet, so a period ending later ends just after ``now`` (received_at <=
    now, as a reply with ``met_at <= now`` is a reply then and ``closed_at <= now`` a close;
    times are stored to the microsecond). Every report entry point (tracker.reports.build)
    reads its period through this. ``first`` and ``last`` stay the dates asked for.

    Cut short only when the period (of its offices and departments) holds an inquiry
    received after ``now`` (one index lookup; usually none, ``now`` being the present), so
    the figures are the same either way and the usual report keeps the passes that read
    whole months from stored keys (which a range cut short cannot use)."""
    after = now + ONE_US
    if period.end is not None and period.end <= after:
        return period
    received: Any = Inquiry.received_at
    later = _and(and_(received >= after, _in_period(received, period)), scope_filter(period))
    found = session.connection().execute(select(Inquiry.id).where(later).limit(1)).first()
    return period if found is None else replace(period, end=after)


@dataclass(frozen=True, kw_only=True)
class InquiryCounts:
    key: str | None
    count: int
    closed: int


@dataclass(frozen=True, kw_only=True)
class Breach:
    """An obligation met late or overdue at ``now``. No note or other free text."""

    ref: str
    rule: str
    schedule: str
    office: str
    department: str
    advisor: str | None
    received_at: datetime
    due_at: datetime
    met_at: datetime | None


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def scope_filter(
    period: Period, model: type[Inquiry] | type[Obligation] = Inquiry
) -> ColumnElement[bool] | None:
    """The period's office and department condition on ``model``'s rows (None: every
    office and department, no condition): the one place a report pass is narrowed. Passes
    over inquiries, or obligations joined to them, test the inquiry's office; passes over
    obligations alone (the stored-key index passes) test the obligation's copy of it. A
    department is always the inquiry's own (an obligation's copy may be missing, LACKING,
    and the correction pass must see the same rows as the pass it corrects)."""
    terms: list[ColumnElement[bool]] = []
    if period.offices is not None:
        terms.append(in_offices(model.office, period.offices))
    if period.departments is not None:
        departments = Inquiry.department.in_(sorted(period.departments))
        if model is Obligation:
            mine = select(Inquiry.id).where(departments)
            departments = Obligation.inquiry_id.in_(mine)
        terms.append(departments)
    if not terms:
        return None
    return and_(*terms) if len(terms) > 1 else terms[0]


def received_column(session: Session, period: Period) -> tuple[Any, ColumnElement[bool] | None]:
    """``received_at`` as the key expressions should read it, and the period's filter with
    its office filter (None: the period holds every stored inquiry of every office, so no
    filter is needed).

    On SQLite a period covering most of the stored span reads ``+received_at`` (no index),
    and one covering all of it needs no period filter (two comparisons a row saved, and a
    monthly obligation pass needs no join); the office filter stays.
    """
    column: Any = Inquiry.received_at
    office = scope_filter(period)
    if period.start is None and period.end is None:
        return column, office
    if not is_sqlite(session):
        return column, _and(_in_period(column, period), office)
    lo, hi = _span(session, _and(and_(True), office))
    if lo is None or hi is None or hi <= lo:
        return column, _and(_in_period(column, period), office)
    if (period.start is None or period.start <= lo) and (period.end is None or hi < period.end):
        return column, office
    start = max(period.start or lo, lo)
    end = min(period.end or hi, hi)
    if (end - start) / (hi - lo) > FULL_SCAN_SHARE:
        # A unary plus keeps SQLite's comparison on the stored text but hides the index.
        column = literal_column("+inquiries.received_at", type_=UTCDateTime())
    return column, _and(_in_period(column, period), office)


def _and(condition: ColumnElement[bool], office: ColumnElement[bool] | None) -> ColumnElement[bool]:
    """``condition``, and the office filter if there is one."""
    return condition if office is None else and_(condition, office)


def _span(session: Session, where: ColumnElement[bool]) -> tuple[datetime | None, datetime | None]:
    """The first and last received_at of the inquiries ``where`` holds: two index lookups.

    Separate subqueries, because SQLite answers a lone min() or max() from the index but
    scans the whole index for ``SELECT min(x), max(x)``.
    """
    lo = select(func.min(Inquiry.received_at)).where(where).scalar_subquery()
    hi = select(func.max(Inquiry.received_at)).where(where).scalar_subquery()
    first, last = session.connection().execute(select(lo, hi)).one()
    return first, last


def _in_period(received: ColumnElement[datetime], period: Period) -> ColumnElement[bool]:
    terms = []
    if period.start is not None:
        terms.append(received >= period.start)
    if period.end is not None:
        terms.append(received < period.end)
    return and_(True, *terms)


def filters(condition: ColumnElement[bool] | None) -> list[ColumnElement[bool]]:
    return [] if condition is None else [condition]


def month_starts(session: Session, period: Period) -> list[tuple[int, datetime]]:
    """(yyyymm, local month start in UTC) for every month the period's data touches: from
    its first to its last inquiry received, never the whole of a wide period (``--from
    0002-01-01`` would otherwise make 120,000 months of CASEs)."""
    lo, hi = _span(session, _and(_in_period(Inquiry.received_at, period), scope_filter(period)))  # type: ignore[arg-type]
    if lo is None or hi is None:
        return []
    first = lo.astimezone(COPENHAGEN).date()
    last = hi.astimezone(COPENHAGEN).date()
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append((year * 100 + month, local_midnight(date(year, month, 1))))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _month_ranges(
    months: list[tuple[int, datetime]], period: Period
) -> list[tuple[int, datetime, datetime]]:
    """(yyyymm, first instant, end instant) of each month, clipped to the period."""
    ranges = []
    for i, (month, start) in enumerate(months):
        if i + 1 < len(months):
            end = months[i + 1][1]
        else:
            year, number = divmod(month, 100)
            after = date(year + 1, 1, 1) if number == 12 else date(year, number + 1, 1)
            end = local_midnight(after)
        lo = max(start, period.start) if period.start else start
        hi = min(end, period.end) if period.end else end
        ranges.append((month, lo, hi))
    return ranges


def month_label(month: int | None) -> str | None:
    """yyyymm as the reports print it, ``YYYY-MM``."""
    return None if month is None else f"{month // 100:04d}-{month % 100:02d}"


def key_label(by: GroupBy, key: Any) -> str | None:
    return month_label(key) if by is GroupBy.MONTH else key


def month_key(received: ColumnElement[datetime], months: list[tuple[int, datetime]]) -> Any:
    """Local calendar month of ``received_at`` as CASEs over UTC month starts (DST-exact).

    The CASEs nest as a balanced binary search, so a row costs log2(months) comparisons
    (5 for two years) instead of one per month.
    """
    if not months:
        return cast(literal_column("NULL"), Integer)  # typed: PostgreSQL coalesces it
    if len(months) == 1:
        return literal(months[0][0])
    middle = len(months) // 2
    return case(
        (received < months[middle][1], month_key(received, months[:middle])),
        else_=month_key(received, months[middle:]),
    )


def group_key(
    by: GroupBy, received: ColumnElement[datetime], months: list[tuple[int, datetime]]
) -> Any:
    if by is GroupBy.MONTH:
        return month_key(received, months)
    if by is GroupBy.RULE:
        return Obligation.rule
    column: Any = getattr(Inquiry, by.value)
    return column


def is_met(now: datetime, met_at: Any = Obligation.met_at) -> ColumnElement[bool]:
    return and_(met_at.is_not(None), met_at <= now)


def met_at_column(session: Session) -> Any:
    """``met_at``, or on SQLite ``+met_at``: reports are driven by received_at, and SQLite
    would otherwise walk the met obligations' met_at index with a table lookup per row
    (~4x slower than a scan over 1,000,000 obligations)."""
    if is_sqlite(session):
        return literal_column("+obligations.met_at", type_=UTCDateTime())
    return Obligation.met_at


def _overdue(now: datetime) -> ColumnElement[bool]:
    unmet = Obligation.met_at.is_(None) | (Obligation.met_at > now)
    return and_(unmet, Obligation.due_at.is_not(None), Obligation.due_at <= now)


def inquiry_counts(
    session: Session, by: GroupBy, period: Period, now: datetime
) -> list[InquiryCounts]:
    """Inquiries received in the period per key, and how many were closed at ``now``.

    Grouped by rule, an inquiry counts once under each rule it carries an obligation for.
    """
    if by is GroupBy.MONTH:
        monthly = _monthly_inquiry_counts(session, period, now)
        if monthly is not None:
            return monthly
    return _scanned_inquiry_counts(session, by, period, now)


def _scanned_inquiry_counts(
    session: Session, by: GroupBy, period: Period, now: datetime
) -> list[InquiryCounts]:
    """:func:`inquiry_counts` as one GROUP BY over the period's inquiries.

    Closed at now = closed at all (``count(closed_at)``) less those closed after now, when
    the closed_at index shows those are few (the usual case): counting a column's values
    is cheaper per row than comparing it with now (~0.03 s over 1,000,000 inquiries).
    """
    received, in_period = received_column(session, period)
    months = month_starts(session, period) if by is GroupBy.MONTH else []
    key = group_key(by, received, months).label("key")
    later = Inquiry.closed_at > now
    connection = session.connection()
    correct = by is not GroupBy.RULE and _few(session, later, scope_filter(period))
    closed = func.count(Inquiry.closed_at) if correct else func.count().filter(~later)
    stmt = select(key, func.count(), closed).where(*filters(in_period))
    if by is GroupBy.RULE:
        stmt = stmt.select_from(Obligation).join(Inquiry, Inquiry.id == Obligation.inquiry_id)
    rows = connection.execute(stmt.group_by(FIRST_COLUMN)).all()
    after: dict[Any, int] = {}
    if correct:
        # +received_at on SQLite: the period filter must not steer it off the closed_at index.
        plus: Any = _unindexed(session)
        late_key = group_key(by, plus, months)
        late = select(late_key, func.count()).where(
            later, _and(_in_period(plus, period), scope_filter(period))
        )
        after = {k: int(n) for k, n in connection.execute(late.group_by(FIRST_COLUMN))}
    return [
        InquiryCounts(key=key_label(by, k), count=int(n), closed=int(c) - after.get(k, 0))
        for k, n, c in rows
    ]


def _few(
    session: Session, condition: ColumnElement[bool], office: ColumnElement[bool] | None
) -> bool:
    """Whether at most 1 % of the inquiries (of the offices) meet ``condition``: index-only
    counts (closed_at; with offices, office and closed_at)."""
    connection = session.connection()
    matching = connection.execute(select(func.count()).where(_and(condition, office)))
    everything = select(func.count()).select_from(Inquiry)
    total = connection.execute(everything if office is None else everything.where(office))
    return bool(matching.scalar_one() <= total.scalar_one() // 100)


def _unindexed(session: Session) -> Any:
    """received_at as a filter that steers no plan: ``+received_at`` on SQLite."""
    if is_sqlite(session):
        return literal_column("+inquiries.received_at", type_=UTCDateTime())
    return Inquiry.received_at


def _monthly_inquiry_counts(
    session: Session, period: Period, now: datetime
) -> list[InquiryCounts] | None:
    """:func:`inquiry_counts` per month without a pass over every inquiry, or None when the
    scan is the faster way.

    A month is a range of received_at, so its count is read off the received_at index
    (no table row, no sort). Closed = count - not closed at now; the inquiries not closed
    at ``now`` (open, or closed after it) come off the closed_at index, and are usually a
    small share: for a ``now`` long ago most are, and the table scan is cheaper then.
    """
    months = month_starts(session, period)
    if not months:
        return []
    connection = session.connection()
    ranges = _month_ranges(months, period)
    office = scope_filter(period)
    counts = connection.execute(
        select(*(_received_between(lo, hi, office) for _, lo, hi in ranges))
    )
    per_month = [int(n) for n in counts.one()]
    not_closed = _and(or_(Inquiry.closed_at.is_(None), Inquiry.closed_at > now), office)
    unclosed = connection.execute(select(func.count()).where(not_closed)).scalar_one()
    if unclosed > FULL_SCAN_SHARE * sum(per_month):
        return None
    # +received_at on SQLite: the period filter must not steer it off the closed_at index.
    received = _unindexed(session)
    stmt = (
        select(month_key(received, months), func.count())
        .where(not_closed, _in_period(received, period))
        .group_by(FIRST_COLUMN)
    )
    still_open = {k: int(n) for k, n in connection.execute(stmt)}
    return [
        InquiryCounts(key=month_label(month), count=n, closed=n - still_open.get(month, 0))
        for (month, _, _), n in zip(ranges, per_month, strict=True)
        if n
    ]


def _received_between(lo: datetime, hi: datetime, office: ColumnElement[bool] | None) -> Any:
    """How many inquiries (of the offices) were received in [lo, hi): an index range count
    (on received_at, or on office and received_at)."""
    within = _and(and_(Inquiry.received_at >= lo, Inquiry.received_at < hi), office)
    return select(func.count()).select_from(Inquiry).where(within).scalar_subquery()


def breaches(session: Session, period: Period, now: datetime) -> Iterator[Breach]:
    """Obligations met late or overdue at ``now``, oldest inquiry first, streamed."""
    # +met_at on SQLite: not the met obligations' met_at index (a lookup per met row).
    met_at = met_at_column(session)
    late = and_(is_met(now, met_at), Obligation.due_at.is_not(None), met_at > Obligation.due_at)
    stmt = (
        select(
            Inquiry.ref,
            Obligation.rule,
            Obligation.schedule,
            Inquiry.office,
            Inquiry.department,
            Inquiry.advisor,
            Inquiry.received_at,
            Obligation.due_at,
            Obligation.met_at,
        )
        .select_from(Obligation)
        .join(Inquiry, Inquiry.id == Obligation.inquiry_id)
        .where(
            _and(_in_period(Inquiry.received_at, period), scope_filter(period)),  # type: ignore[arg-type]
            late | _overdue(now),
        )
        .order_by(Inquiry.received_at, Inquiry.ref, Obligation.rule)
        .execution_options(yield_per=STREAM_BATCH)
    )
    rows = session.connection().execute(stmt)
    for ref, rule, schedule, office, dept, advisor, rec, due, met_at in rows:
        assert due is not None  # late and overdue both need a deadline
        yield Breach(
            ref=ref,
            rule=rule,
            schedule=schedule,
            office=office,
            department=dept,
            advisor=advisor,
            received_at=rec,
            due_at=due,
            met_at=met_at if met_at is not None and met_at <= now else None,
        )
