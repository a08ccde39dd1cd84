"""SQL aggregation of obligations for reports: one GROUP BY pass, on SQLite and PostgreSQL.

States are evaluated at ``now`` as tracker.reports.queries describes. Response times are
stored with each met obligation (``obligations.response_minutes``, and with its lateness in
``obligations.outcome``, a code of tracker.core.outcome), so one GROUP BY over (key, outcome
code at now) yields the obligation counts and a minute histogram per key together. Reports
read stored values only: a met obligation without a stored response time (its schedule no
longer configured, or a row written outside Svarfrist) counts as on time or late but has no
response time, so it is left out of the median and p90 (:data:`Report.untimed
<tracker.reports.build.Report>` counts it).

By month or department over whole months, with every met obligation met by ``now`` (the
usual report), the groups are read off an index on (stored key, outcome, ...) in its order,
without sorting or reading the table (:func:`_stored_groups`); anything else takes the
sorted pass over obligations joined to their inquiries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Session

from tracker.core.outcome import NOT_MEASURED, SCALE, Outcome
from tracker.reports.queries import (
    FIRST_COLUMN,
    STREAM_BATCH,
    GroupBy,
    Period,
    filters,
    group_key,
    is_sqlite,
    local_midnight,
    month_key,
    month_label,
    month_starts,
    period_of,
    received_column,
    scope_filter,
)
from tracker.store.models import LACKING, Inquiry, Obligation

# Months travel through SQL as integers yyyymm (obligations.received_month, or the CASE over
# month starts), other keys on SQLite as their position among the inquiry pass's keys. A
# pass groups by ``number * _SHIFT + code`` as one integer: SQLite's sorter compares one
# integer much faster than two columns (bench/report.py).
_SHIFT = 2**40


@dataclass(frozen=True, kw_only=True)
class ObligationCounts:
    key: str | None
    obligations: int
    on_time: int
    late: int
    overdue: int

    @property
    def answered(self) -> int:
        """Those met, on time or late: what a response time is measured for."""
        return self.on_time + self.late

    @property
    def judged(self) -> int:
        """Those whose outcome is known (met, or overdue): what compliance is a share of."""
        return self.on_time + self.late + self.overdue


StateCodes = list[tuple[str | None, int, int]]
"""A batch of groups of the combined pass: (key, code, how many obligations), the code an
outcome code (tracker.core.outcome) of the state at now and the stored response minutes
(none when unmet, or met without a stored time). Streamed in batches: ~groups x distinct
minutes in all (64,000 for departments over 1,000,000 inquiries)."""


def _sql_int(value: int) -> Any:
    """An integer constant inlined in the SQL (the planner sees it; no bound parameter)."""
    return literal_column(str(int(value)))


def _sql_encode(state: Any, minutes: Any) -> Any:
    """tracker.core.outcome.encode in SQL, for a met row without a stored outcome
    (``minutes`` NULL: not measured)."""
    plus_one = func.coalesce(minutes, _sql_int(NOT_MEASURED)) + 1
    return _sql_int(SCALE) * plus_one + state


def _sql_state(code: Any) -> Any:
    """The :class:`Outcome` of a code in SQL (codes are never negative)."""
    return code % _sql_int(SCALE)


def _obligations(session: Session, by: GroupBy, period: Period) -> tuple[Any, Select[Any]]:
    """The key expression, and the period's obligations to select it from.

    By month over the whole stored span the stored received_month is the key and no join
    is needed; a row written outside Svarfrist without it gets its inquiry's month from a
    subquery (coalesce evaluates it for those rows only). Otherwise obligations are joined
    to their inquiries for the key and the period's filter.
    """
    received, in_period = received_column(session, period)
    months = month_starts(session, period) if by is GroupBy.MONTH else []
    if by is GroupBy.MONTH and in_period is None:
        derived = (
            select(month_key(received, months))
            .where(Inquiry.id == Obligation.inquiry_id)
            .scalar_subquery()
        )
        return func.coalesce(Obligation.received_month, derived), select().select_from(Obligation)
    key = group_key(by, received, months)
    if by is GroupBy.MONTH:
        key = func.coalesce(Obligation.received_month, key)
    joined = select().select_from(Obligation).join(Inquiry, Inquiry.id == Obligation.inquiry_id)
    # Narrowed to offices, the obligation's own copy of the office too (the same value): on
    # PostgreSQL the office's obligations then come off a covering index and are hash-joined
    # to its inquiries, not looked up one by one among every other office's (migration 0013).
    own_office = filters(scope_filter(period, Obligation))
    return key, joined.where(*filters(in_period), *own_office)


def _met_by(session: Session, now: datetime) -> bool:
    """Whether every met obligation was met by ``now`` (the usual case: ``now`` is the
    present): then "met at now" is "met_at IS NOT NULL". One index lookup."""
    met = Obligation.met_at.is_not(None)  # the partial index ix_obligations_met_at's rows
    latest = session.connection().execute(select(func.max(Obligation.met_at)).where(met)).scalar()
    return latest is None or latest <= now


def _code(now: datetime, *, minutes: bool, met_by: bool) -> Any:
    """An obligation's state at ``now`` as an outcome code (tracker.core.outcome): with
    ``minutes`` carrying a met one's stored response minutes, else the bare :class:`Outcome`.
    ``met_by``: :func:`_met_by`'s answer, asked once per pass by the caller.

    A met obligation's code is its stored ``outcome``, derived from met_at, due_at and the
    stored response_minutes only where it is NULL (rows written outside Svarfrist): one
    column read instead of three compared per row.
    """
    met_at, due_at = Obligation.met_at, Obligation.due_at
    # What the stored outcome would hold, for a met row without it.
    late: Any = case((met_at > due_at, _sql_int(Outcome.LATE)), else_=_sql_int(Outcome.ON_TIME))
    stored: Any = Obligation.outcome
    if minutes:
        derived = _sql_encode(late, Obligation.response_minutes)
    else:
        derived, stored = late, _sql_state(stored)
    overdue, pending = _sql_int(Outcome.OVERDUE), _sql_int(Outcome.PENDING)
    unmet = case((due_at <= now, overdue), else_=pending)
    if met_by:  # met_at decides, as below: a NULL test costs no comparison
        return case((met_at.is_(None), unmet), else_=func.coalesce(stored, derived))
    return case((met_at <= now, func.coalesce(stored, derived)), else_=unmet)


def _key_index(key: Any, keys: Sequence[str], first: int = 0) -> Any:
    """The position of ``key`` among ``keys`` (sorted, distinct) plus ``first``, as a binary
    search of CASEs, or -1 for a value not among them.

    SQLite only: its BINARY collation orders text as Python does (UTF-8 bytes, code
    points); PostgreSQL's collation may not, and it groups by two columns just as well.
    """
    if len(keys) == 1:
        position: Any = literal_column(str(first))
        return case((key == literal(keys[0]), position), else_=literal_column("-1"))
    middle = len(keys) // 2
    return case(
        (key < literal(keys[middle]), _key_index(key, keys[:middle], first)),
        else_=_key_index(key, keys[middle:], first + middle),
    )


def _key_decoder(
    session: Session, by: GroupBy, period: Period, key: Any, keys: Sequence[str | None] | None
) -> tuple[Any, Callable[[int], str | None]] | None:
    """An integer standing for ``key`` and the function turning it back, or None where
    grouping by the key itself is the way (PostgreSQL, or keys not known beforehand).

    One integer GROUP BY key (with the state code packed in) is what SQLite's sorter
    compares fastest: ~0.1 s less over 1,000,000 inquiries than (text key, code).
    """
    if by is GroupBy.MONTH:
        return key, _month_labels(session, period)
    if keys is None or not is_sqlite(session):
        return None
    named = sorted({k for k in keys if k is not None})
    table: list[str | None] = [*named, None]
    index = _key_index(key, named) if named else literal_column("-1")
    null: Any = literal_column(str(len(named)))

    def decode(position: int) -> str | None:
        if position < 0:  # a key the inquiry pass did not see: no report can be right
            raise LookupError(f"a {by.value} among the obligations is not among the inquiries")
        return table[position]

    return case((key.is_(None), null), else_=index), decode


def _grouped(
    session: Session,
    by: GroupBy,
    period: Period,
    now: datetime,
    *,
    minutes: bool,
    keys: Sequence[str | None] | None,
) -> Iterator[StateCodes]:
    """Batches of (key, state code, how many) over the period's obligations: one GROUP BY
    pass, streamed in batches of :data:`STREAM_BATCH` groups."""
    met_by = _met_by(session, now)
    if by in _STORED:
        whole = received_column(session, period)[1] is None  # the period holds every row
        span = (None, None) if whole else _whole_months(period)
        if span is not None and met_by:
            yield from _stored_groups(session, by, period, now, span, minutes=minutes)
            return
    key, rows = _obligations(session, by, period)
    code = _code(now, minutes=minutes, met_by=met_by)
    connection = session.connection()
    decoder = _key_decoder(session, by, period, key, keys)
    if decoder is None:
        stmt = rows.add_columns(key, code, func.count()).group_by(FIRST_COLUMN, literal_column("2"))
        result = connection.execute(stmt.execution_options(yield_per=STREAM_BATCH))
        for part in result.partitions():
            yield [(k, c, n) for k, c, n in part]
        return
    number, decode = decoder
    packed = number * literal(_SHIFT, BigInteger) + code
    yield from _packed(session, rows.add_columns(packed, func.count()), decode)


def _packed(
    session: Session, stmt: Select[Any], decode: Callable[[int], str | None]
) -> Iterator[StateCodes]:
    """``stmt`` (number * _SHIFT + code, how many) grouped by its first column, decoded."""
    query = stmt.group_by(FIRST_COLUMN).execution_options(yield_per=STREAM_BATCH)
    last: int | None = None  # the rows come ordered by key: decode each key once
    label: str | None = None
    for part in session.connection().execute(query).partitions():
        batch = []
        for value, n in part:
            position, c = divmod(value, _SHIFT)
            if position != last:
                last, label = position, decode(position)
            batch.append((label, c, n))
        yield batch


def _whole_months(period: Period) -> tuple[int | None, int | None] | None:
    """The period as whole local months (first, last as yyyymm; None: unbounded), or None
    when it starts or ends inside a month, or its UTC range is not its dates' (cut short
    at ``now``: tracker.reports.queries.as_of)."""
    first, last = period.first, period.last
    if first is not None and first.day != 1:
        return None
    if last is not None and (last + timedelta(days=1)).day != 1:
        return None
    if (period.start, period.end) != (
        None if first is None else local_midnight(first),
        None if last is None else local_midnight(last + timedelta(days=1)),
    ):
        return None
    return (
        None if first is None else first.year * 100 + first.month,
        None if last is None else last.year * 100 + last.month,
    )


def _stored_groups(
    session: Session,
    by: GroupBy,
    period: Period,
    now: datetime,
    span: tuple[int | None, int | None],
    *,
    minutes: bool,
) -> Iterator[StateCodes]:
    """:func:`_grouped` by month or department, for whole months (``span``) when every met
    obligation was met by ``now``: read from an index, then corrected.

    Obligations are grouped by (stored key, outcome), which the index on (key, outcome,
    [received_month,] due_at) holds in order: no sort and no table row (0.09-0.12 s against
    0.45 s for the sorted pass over 1,000,000 inquiries, bench/report.py's data). A met
    obligation's code is its outcome; a NULL outcome is taken as unmet, overdue when
    due_at <= now. Rows for which that may be wrong (met without an outcome, or without a
    stored key: written outside Svarfrist) are few, found by a partial index and
    re-counted by :func:`_corrections`.
    """
    column = _STORED[by]
    month, outcome, due_at = Obligation.received_month, Obligation.outcome, Obligation.due_at
    label: Callable[[Any], str | None] = (
        _month_labels(session, period) if by is GroupBy.MONTH else _same
    )
    connection = session.connection()
    # An office's obligations: the obligations' own copy of the office, which the index on
    # (office, outcome, received_month, due_at) holds.
    office = scope_filter(period, Obligation)
    counted = [column.is_not(None), *_between(month, *span), *filters(office)]
    overdue = func.count().filter(outcome.is_(None), due_at <= now)
    unmet = func.count().filter(outcome.is_(None))
    if minutes:
        grouped: Any = select(column, outcome, func.count(), overdue).where(*counted)
        stmt = grouped.group_by(column, outcome).execution_options(yield_per=STREAM_BATCH)
        overdue_code, pending_code = int(Outcome.OVERDUE), int(Outcome.PENDING)
        for part in connection.execute(stmt).partitions():
            batch: StateCodes = []
            append = batch.append
            for k, code, n, due in part:
                key = k if label is _same else label(k)  # departments: no call per row
                if code is not None:
                    append((key, code, n))
                    continue
                append((key, overdue_code, due))
                append((key, pending_code, n - due))
            yield batch
    else:
        state = _sql_state(outcome)
        on_time = func.count().filter(state == _sql_int(Outcome.ON_TIME))
        late = func.count().filter(state == _sql_int(Outcome.LATE))
        tallied: Any = select(column, on_time, late, overdue, unmet).where(*counted)
        yield [
            (label(k), int(code), n)
            for k, a, b, due, open_ in connection.execute(tallied.group_by(column))
            for code, n in zip(Outcome, (a, b, due, open_ - due), strict=True)
            if n
        ]
    corrected = _corrections(session, by, now, span, office, minutes=minutes)
    yield [(label(k), c, n) for k, c, n in corrected]


def _corrections(
    session: Session,
    by: GroupBy,
    now: datetime,
    span: tuple[int | None, int | None],
    office: ColumnElement[bool] | None,
    *,
    minutes: bool,
) -> list[tuple[Any, int, int]]:
    """(key, code, +/- how many) turning :func:`_stored_groups`' index counts exact for the
    rows that lack a stored value (``LACKING``, a partial index: usually none): what the
    index pass counted for them comes off, what they really are goes on. ``office``: the
    stored pass's office filter (an obligation's office is never missing, so it is the
    same before and after)."""
    if office is not None and not _maybe_lacking(session):
        # Narrowed to offices, PostgreSQL would drive the pass below from the office's
        # obligations (a heap page each, scattered among other offices') to find that none
        # lacks a value; one look at the partial index says so first.
        return []
    column = _STORED[by]
    month, outcome, due_at = Obligation.received_month, Obligation.outcome, Obligation.due_at
    key, month_of, rows = _unstored(session, by)
    overdue, pending = _sql_int(Outcome.OVERDUE), _sql_int(Outcome.PENDING)
    stored = outcome if minutes else _sql_state(outcome)
    counted_code = func.coalesce(stored, case((due_at <= now, overdue), else_=pending))
    was_counted = and_(column.is_not(None), *_between(month, *span))
    belongs = and_(True, *_between(month_of, *span))
    stmt = (
        rows.add_columns(
            case((was_counted, column)),
            counted_code,
            case((belongs, key)),
            _code(now, minutes=minutes, met_by=True),  # only _stored_groups asks
            func.count(),
        )
        # By id, so the partial index drives it (not an index the GROUP BY would prefer).
        .where(Obligation.id.in_(_lacking_ids(session)), *filters(office))
        .group_by(*(literal_column(str(i)) for i in range(1, 5)))
    )
    net: dict[tuple[Any, int], int] = {}
    for before, before_code, after, after_code, n in session.connection().execute(stmt):
        if before is not None:
            net[before, before_code] = net.get((before, before_code), 0) - n
        if after is not None:
            net[after, after_code] = net.get((after, after_code), 0) + n
    return [(k, code, n) for (k, code), n in net.items() if n]


def _maybe_lacking(session: Session) -> bool:
    """Whether an obligation may lack a stored value. On PostgreSQL a count over the partial
    index (not ``LIMIT 1``, which its estimate of ``LACKING`` turns into a table scan); on
    SQLite the correction pass reads that index first whatever else it filters on (INDEXED
    BY), so it is asked there."""
    if is_sqlite(session):
        return True
    lacking = select(func.count()).select_from(_lacking_ids(session).subquery())
    return bool(session.connection().execute(lacking).scalar_one())


def _lacking_ids(session: Session) -> Any:
    """The ids of the ``LACKING`` obligations, read off their partial index.

    On SQLite named with INDEXED BY: its OR optimisation would otherwise read LACKING's
    ``met_at IS NOT NULL`` term off ix_obligations_met_at, every met obligation (0.7 s
    over 1,000,000 inquiries instead of nothing). The inner FROM is the subquery's own.
    """
    if is_sqlite(session):
        source = text("obligations INDEXED BY ix_obligations_lacking")
        return select(literal_column("obligations.id")).select_from(source).where(LACKING)
    return select(Obligation.id).where(LACKING).correlate(None)


def _same(key: str | None) -> str | None:
    return key


def _month_labels(session: Session, period: Period) -> Callable[[int], str | None]:
    """yyyymm -> ``YYYY-MM``, the period's months labelled once."""
    labels = {month: month_label(month) for month, _ in month_starts(session, period)}
    return lambda month: labels.get(month) or month_label(month)


# The stored copy of each key :func:`_stored_groups` can group by.
_STORED: dict[GroupBy, Any] = {
    GroupBy.MONTH: Obligation.received_month,
    GroupBy.DEPARTMENT: Obligation.department,
}


def _unstored(session: Session, by: GroupBy) -> tuple[Any, Any, Select[Any]]:
    """The key and month of any obligation (stored, or from its inquiry), and the rows."""
    whole = period_of(None, None)
    if by is GroupBy.MONTH:
        key, rows = _obligations(session, by, whole)
        return key, key, rows
    months = month_starts(session, whole)
    rows = select().select_from(Obligation).join(Inquiry, Inquiry.id == Obligation.inquiry_id)
    key = func.coalesce(Obligation.department, Inquiry.department)
    received: Any = Inquiry.received_at
    month_of = func.coalesce(Obligation.received_month, month_key(received, months))
    return key, month_of, rows


def _between(column: Any, lo: int | None, hi: int | None) -> list[ColumnElement[bool]]:
    return [*([] if lo is None else [column >= lo]), *([] if hi is None else [column <= hi])]


def obligation_counts(
    session: Session,
    by: GroupBy,
    period: Period,
    now: datetime,
    keys: Sequence[str | None] | None = None,
) -> list[ObligationCounts]:
    """Obligations of the period's inquiries per key: met on time, met late, overdue.

    ``keys``: the keys :func:`inquiry_counts` found for the same period, if known (SQLite
    then groups by their positions, see :func:`_key_decoder`)."""
    counts: dict[str | None, list[int]] = {}
    for batch in _grouped(session, by, period, now, minutes=False, keys=keys):
        for k, code, n in batch:
            counts.setdefault(k, [0] * len(Outcome))[code] += n
    return [counts_of(k, c) for k, c in counts.items()]


def counts_of(key: str | None, tally: Sequence[int]) -> ObligationCounts:
    """A key's obligation counts from its tally per :class:`Outcome` (indexed by it)."""
    return ObligationCounts(
        key=key,
        obligations=sum(tally),
        on_time=tally[Outcome.ON_TIME],
        late=tally[Outcome.LATE],
        overdue=tally[Outcome.OVERDUE],
    )


def state_minutes(
    session: Session,
    by: GroupBy,
    period: Period,
    now: datetime,
    keys: Sequence[str | None] | None = None,
) -> Iterator[StateCodes]:
    """Obligations of the period's inquiries per (key, state at ``now``, stored minutes).

    One GROUP BY pass gives both the obligation counts (sum over minutes) and the response
    time histogram (the met states' minutes), so only groups x distinct minutes come back.
    State and minutes travel packed in one integer (:data:`StateCodes`), and on SQLite
    with the key's position (or month) in front: one integer GROUP BY key, which SQLite's
    sorter compares much faster than two or three columns (bench/report.py). ``keys`` as
    for :func:`obligation_counts`.
    """
    return _grouped(session, by, period, now, minutes=True, keys=keys)


def rule_state_minutes(
    session: Session, rule: str, period: Period, now: datetime
) -> Iterator[StateCodes]:
    """:func:`state_minutes` by department for one rule's obligations only (the public page
    of response times: acknowledgement and call-back apart). The same codes, the same
    stored minutes, one GROUP BY pass over the period's obligations of that rule."""
    key, rows = _obligations(session, GroupBy.DEPARTMENT, period)
    code = _code(now, minutes=True, met_by=_met_by(session, now))
    stmt = (
        rows.where(Obligation.rule == rule)
        .add_columns(key, code, func.count())
        .group_by(FIRST_COLUMN, literal_column("2"))
    )
    yield [(k, c, n) for k, c, n in session.connection().execute(stmt)]
