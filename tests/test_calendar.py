"""The Danish business calendar: docs/deadlines.md's examples, DST, closed days and properties."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import (
    EPOCH,
    MINUTE,
    SCHEDULE,
    CalendarCase,
    calendar_cases,
    instant,
)

from tracker.core.calendar import (
    BUILTIN_SCHEDULES,
    COPENHAGEN,
    FIRST_YEAR,
    LAST_YEAR,
    BusinessCalendar,
    ClosedDayRules,
    Pause,
    Schedule,
    from_us,
    parse_interval,
    to_us,
)
from tracker.errors import BadInputError, NoWorkingTimeError, UnknownScheduleError
from tracker.sla import Rule, deadline

# An independent list of Danish closed days; tests/data/README.md says how it was made.
CLOSED_DAYS_CSV = Path(__file__).parent / "data" / "dk_closed_days_2000_2040.csv"
CAL = BusinessCalendar()


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=COPENHAGEN)


# -- docs/deadlines.md, hand-checked examples (working_days, default closed days) ------------------
EXAMPLES = [
    pytest.param(local(2026, 11, 25, 10), 24, local(2026, 11, 26, 10), id="plain working day"),
    pytest.param(local(2026, 11, 27, 15), 24, local(2026, 11, 30, 15), id="weekend not counted"),
    pytest.param(local(2026, 11, 28, 11), 24, local(2026, 12, 1), id="saturday starts monday"),
    pytest.param(local(2026, 11, 27, 11), 48, local(2026, 12, 1, 11), id="callback two days"),
    pytest.param(local(2026, 4, 1, 12), 24, local(2026, 4, 7, 12), id="easter closed days"),
    pytest.param(local(2023, 5, 4, 9), 24, local(2023, 5, 8, 9), id="store bededag 2023 closed"),
    pytest.param(local(2024, 4, 25, 9), 24, local(2024, 4, 26, 9), id="store bededag 2024 open"),
    pytest.param(local(2026, 12, 23, 14), 24, local(2026, 12, 28, 14), id="christmas"),
]


@pytest.mark.parametrize(("received", "hours", "due"), EXAMPLES)
def test_every_hand_checked_example_of_deadlines_md_holds(
    received: datetime, hours: int, due: datetime
) -> None:
    got = CAL.due_at(received, hours, "working_days")
    assert got is not None
    assert to_us(got) == to_us(due)
    assert got.tzinfo is COPENHAGEN
    assert got.utcoffset() == due.utcoffset()


def test_a_deadline_ending_at_24_00_prints_as_next_midnight_even_if_that_day_is_closed() -> None:
    # Saturday 21 Dec 2024: the clock starts Monday 00:00 and ends Monday 24:00; Tuesday is
    # Juleaftensdag (closed), and the deadline is still Tuesday 00:00.
    assert CAL.due_at(local(2024, 12, 21, 11), 24, "working_days") == local(2024, 12, 24)


def test_the_same_instant_in_utc_gives_the_same_deadline() -> None:
    received = local(2026, 11, 27, 15).astimezone(UTC)
    assert CAL.due_at(received, 24, "working_days") == local(2026, 11, 30, 15)


def test_hours_may_be_a_timedelta_or_a_fraction() -> None:
    start = local(2026, 11, 25, 10)
    assert CAL.due_at(start, timedelta(hours=1, minutes=30), "office_hours") == local(
        2026, 11, 25, 11, 30
    )
    assert CAL.due_at(start, 1.5, "office_hours") == local(2026, 11, 25, 11, 30)


def test_zero_hours_is_due_at_once_even_outside_working_time() -> None:
    assert CAL.due_at(local(2026, 11, 28, 11), 0, "working_days") == local(2026, 11, 28, 11)


def test_office_hours_stop_at_15_30_and_at_13_00_on_friday() -> None:
    assert CAL.due_at(local(2026, 11, 26, 15), 1, "office_hours") == local(2026, 11, 27, 8, 30)
    assert CAL.due_at(local(2026, 11, 27, 12), 2, "office_hours") == local(2026, 11, 30, 9)


def test_received_outside_working_time_the_clock_starts_at_the_next_working_instant() -> None:
    assert CAL.next_working_instant(local(2026, 11, 28, 11), "working_days") == local(2026, 11, 30)
    assert CAL.next_working_instant(local(2026, 11, 25, 16), "office_hours") == local(
        2026, 11, 26, 8
    )
    inside = local(2026, 11, 25, 10, 17)
    assert CAL.next_working_instant(inside, "office_hours") == inside


# -- DST: a day is 23 or 25 real hours ---------------------------------------------------------
DST_CASES = [
    pytest.param(local(2026, 3, 29), local(2026, 3, 30), timedelta(hours=23), id="spring day 23h"),
    pytest.param(local(2026, 10, 25), local(2026, 10, 26), timedelta(hours=25), id="autumn 25h"),
    pytest.param(local(2026, 3, 28), local(2026, 3, 31), timedelta(hours=71), id="spring 3 days"),
    pytest.param(local(2026, 10, 24), local(2026, 10, 27), timedelta(hours=73), id="autumn 3 d"),
    pytest.param(
        local(2026, 3, 29, 1, 30), local(2026, 3, 29, 3, 30), timedelta(hours=1), id="over gap"
    ),
    pytest.param(
        local(2026, 10, 25, 1, 30),
        local(2026, 10, 25, 3, 30),
        timedelta(hours=3),
        id="over repeated hour",
    ),
]


@pytest.mark.parametrize(("a", "b", "expected"), DST_CASES)
def test_working_time_on_calendar_days_is_real_elapsed_time_across_dst(
    a: datetime, b: datetime, expected: timedelta
) -> None:
    assert CAL.working_time(a, b, "calendar_days") == expected


def test_24_calendar_hours_from_the_spring_dst_midnight_end_at_01_00_next_day() -> None:
    assert CAL.due_at(local(2026, 3, 29), 24, "calendar_days") == local(2026, 3, 30, 1)


def test_24_calendar_hours_from_the_autumn_dst_midnight_end_at_23_00_same_day() -> None:
    assert CAL.due_at(local(2026, 10, 25), 24, "calendar_days") == local(2026, 10, 25, 23)


def test_office_hours_across_a_dst_weekend_count_wall_clock_hours() -> None:
    assert CAL.due_at(local(2026, 3, 27, 12), 2, "office_hours") == local(2026, 3, 30, 9)
    assert CAL.due_at(local(2026, 10, 23, 12), 2, "office_hours") == local(2026, 10, 26, 9)


def night_calendar() -> BusinessCalendar:
    night = Schedule(name="night", week=(((120, 180),),) * 7, observes_closed_days=False)
    return BusinessCalendar(schedules={"night": night})


def test_an_interval_02_00_03_00_is_empty_on_the_spring_dst_day() -> None:
    cal = night_calendar()
    assert cal.working_time(local(2026, 3, 29), local(2026, 3, 30), "night") == timedelta(0)
    assert cal.due_at(local(2026, 3, 29), 1, "night") == local(2026, 3, 30, 3)


def test_an_interval_02_00_03_00_counts_twice_on_the_autumn_dst_day() -> None:
    cal = night_calendar()
    day = cal.working_time(local(2026, 10, 25), local(2026, 10, 26), "night")
    assert day == timedelta(hours=2)
    # Compared as UTC instants: == between zones is always False for a repeated wall time
    # (PEP 495), and == within one zone ignores the fold.
    first = cal.due_at(local(2026, 10, 25), 0.5, "night")
    second = cal.due_at(local(2026, 10, 25), 1.5, "night")
    assert first is not None
    assert second is not None
    assert first.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30+02:00
    assert second.astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30+01:00
    assert (first.fold, second.fold) == (0, 1)


def test_results_round_trip_through_the_repeated_hour() -> None:
    second_two_thirty = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    back = from_us(to_us(second_two_thirty))
    assert back.astimezone(UTC) == second_two_thirty
    assert back.utcoffset() == timedelta(hours=1)
    assert back.fold == 1


# -- closed, half and opened days, pauses -----------------------------------------------------
def test_a_half_day_counts_only_until_it_closes() -> None:
    cal = BusinessCalendar(rules=ClosedDayRules(half_days={date(2026, 11, 26): time(8)}))
    # Wed 10:00-24:00 is 14 h, Thu 00:00-08:00 is 8 h, Fri 00:00-02:00 the last 2 h.
    assert cal.due_at(local(2026, 11, 25, 10), 24, "working_days") == local(2026, 11, 27, 2)


def test_a_half_day_opens_a_day_that_would_otherwise_be_closed() -> None:
    cal = BusinessCalendar(rules=ClosedDayRules(half_days={date(2026, 12, 24): time(12)}))
    assert cal.due_at(local(2026, 12, 23, 14), 24, "office_hours") == local(2026, 12, 30, 11, 30)
    assert cal.working_time(local(2026, 12, 24), local(2026, 12, 25), "office_hours") == timedelta(
        hours=4
    )


def test_a_yearly_half_day_applies_every_year() -> None:
    cal = BusinessCalendar(rules=ClosedDayRules(yearly_half_days={(12, 23): time(12)}))
    for year in (2025, 2026, 2030):
        day = local(year, 12, 23)
        if day.weekday() < 5:
            worked = cal.working_time(day, day + timedelta(days=1), "working_days")
            assert worked == timedelta(hours=12), year


def test_an_opened_date_is_worked_although_it_is_a_closing_day() -> None:
    cal = BusinessCalendar(rules=ClosedDayRules(opened_dates=frozenset({date(2026, 12, 24)})))
    assert cal.due_at(local(2026, 12, 23, 14), 24, "working_days") == local(2026, 12, 24, 14)


def test_a_one_off_closed_date_is_skipped() -> None:
    cal = BusinessCalendar(rules=ClosedDayRules(closed_dates=frozenset({date(2026, 11, 26)})))
    assert cal.due_at(local(2026, 11, 25, 10), 24, "working_days") == local(2026, 11, 27, 10)
    assert date(2026, 11, 26) in {c.day for c in cal.closed_days(2026)}


def test_without_extra_closing_days_24_december_is_a_working_day() -> None:
    cal = BusinessCalendar(rules=ClosedDayRules(extra_closed=()))
    assert cal.due_at(local(2026, 12, 23, 14), 24, "working_days") == local(2026, 12, 24, 14)


def test_calendar_days_ignore_closed_days() -> None:
    assert CAL.due_at(local(2026, 12, 23, 14), 48, "calendar_days") == local(2026, 12, 25, 14)


def test_a_closed_pause_moves_the_deadline_by_the_working_time_it_covered() -> None:
    pause = Pause(start=local(2026, 11, 25, 12), end=local(2026, 11, 25, 15))
    due = CAL.due_at(local(2026, 11, 25, 10), 24, "working_days", [pause])
    assert due == local(2026, 11, 26, 13)
    assert CAL.working_time(local(2026, 11, 25, 10), due, "working_days", [pause]) == timedelta(
        hours=24
    )


def test_a_pause_over_a_weekend_covers_no_working_time_and_moves_nothing() -> None:
    pause = Pause(start=local(2026, 11, 28, 9), end=local(2026, 11, 29, 18))
    assert CAL.due_at(local(2026, 11, 27, 15), 24, "working_days", [pause]) == local(
        2026, 11, 30, 15
    )


def test_overlapping_pauses_count_once() -> None:
    pauses = [
        Pause(start=local(2026, 11, 25, 12), end=local(2026, 11, 25, 15)),
        Pause(start=local(2026, 11, 25, 14), end=local(2026, 11, 25, 16)),
    ]
    assert CAL.due_at(local(2026, 11, 25, 10), 24, "working_days", pauses) == local(
        2026, 11, 26, 14
    )


def test_a_pause_before_the_deadline_that_has_not_ended_gives_no_deadline() -> None:
    pause = Pause(start=local(2026, 11, 25, 12))
    assert CAL.due_at(local(2026, 11, 25, 10), 24, "working_days", [pause]) is None


def test_an_open_pause_from_the_start_gives_no_deadline_even_without_working_time() -> None:
    never = Schedule(name="never", week=((),) * 7)
    cal = BusinessCalendar(schedules={"never": never})
    start = local(2026, 11, 25, 10)
    assert cal.due_at(start, 1, "never", [Pause(start=start)]) is None
    assert cal.due_at(start, 0, "never", [Pause(start=start)]) == start


def test_a_pause_that_starts_after_the_deadline_changes_nothing() -> None:
    pause = Pause(start=local(2026, 11, 27, 12))
    assert CAL.due_at(local(2026, 11, 25, 10), 24, "working_days", [pause]) == local(
        2026, 11, 26, 10
    )


def test_working_time_leaves_out_paused_time_and_is_zero_backwards() -> None:
    a, b = local(2026, 11, 25, 10), local(2026, 11, 25, 20)
    pause = Pause(start=local(2026, 11, 25, 12))
    assert CAL.working_time(a, b, "working_days", [pause]) == timedelta(hours=2)
    assert CAL.working_time(b, a, "working_days") == timedelta(0)


# -- errors and bounds ------------------------------------------------------------------------
def test_negative_hours_are_refused() -> None:
    with pytest.raises(BadInputError, match="negative"):
        CAL.due_at(local(2026, 11, 25, 10), -1, "working_days")


@pytest.mark.parametrize("hours", [float("inf"), float("nan"), 1e300])
def test_hours_that_are_not_a_finite_number_are_refused(hours: float) -> None:
    with pytest.raises(BadInputError, match="finite"):
        CAL.due_at(local(2026, 11, 25, 10), hours, "working_days")


def test_a_year_the_calendar_cannot_build_is_refused_by_name() -> None:
    with pytest.raises(BadInputError, match="9999"):
        BusinessCalendar().due_at(datetime(9999, 12, 31, 12, tzinfo=UTC), 1, "working_days")


def test_a_refused_year_leaves_the_calendar_usable_for_other_years() -> None:
    cal = BusinessCalendar()
    for _ in range(2):  # refused before anything is built, not after building 2027-2100
        with pytest.raises(BadInputError, match="1771-2100"):
            cal.due_at(datetime(9999, 12, 31, 12, tzinfo=UTC), 1, "working_days")
        assert cal.due_at(local(2026, 11, 27, 15), 24, "working_days") == local(2026, 11, 30, 15)
    with pytest.raises(BadInputError, match="1771-2100"):
        cal.due_at(datetime(1, 1, 1, 12, tzinfo=UTC), 1, "working_days")
    cal = BusinessCalendar()
    early = datetime(1772, 6, 1, 12, tzinfo=UTC)
    due = cal.due_at(early, 1, "working_days")
    with pytest.raises(BadInputError):
        cal.due_at(datetime(1770, 1, 2, 12, tzinfo=UTC), 1, "working_days")
    assert cal.due_at(early, 1, "working_days") == due


def test_deadlines_are_computed_only_in_years_with_holiday_data() -> None:
    """The holidays library knows Denmark's public holidays from 1771 to 2100 and none after:
    a deadline in 2101 would count Christmas Day as a working day, so it is refused by name."""
    for year in (FIRST_YEAR, 1900, 2026, LAST_YEAR):
        assert any(d.month == 12 and d.day == 25 for d in CAL.rules.closed_days(year)), year
    # Wednesday 22 December 2100: 48 working hours skip Christmas Eve (a Friday, closed)
    # and the weekend of the 25th and 26th.
    wed = local(2100, 12, 22, 10)
    assert CAL.due_at(wed, 48, "working_days") == local(2100, 12, 27, 10)
    with pytest.raises(BadInputError, match="year 2101 is outside the years the calendar"):
        CAL.due_at(local(2100, 12, 30, 10), 48, "working_days")
    with pytest.raises(BadInputError, match="outside the years the calendar supports"):
        CAL.due_at(local(2150, 12, 23, 10), 24, "working_days")


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(BadInputError, match="time zone"):
        CAL.due_at(datetime(2026, 11, 25, 10), 1, "working_days")


def test_an_unknown_schedule_is_named() -> None:
    with pytest.raises(UnknownScheduleError, match="nope"):
        CAL.due_at(local(2026, 11, 25, 10), 1, "nope")


def test_a_schedule_without_working_intervals_raises_after_a_bounded_search() -> None:
    never = Schedule(name="never", week=((),) * 7)
    cal = BusinessCalendar(schedules={"never": never})
    with pytest.raises(NoWorkingTimeError, match="never"):
        cal.due_at(local(2026, 11, 25, 10), 1, "never")
    with pytest.raises(NoWorkingTimeError):
        cal.next_working_instant(local(2026, 11, 25, 10), "never")


@pytest.mark.parametrize(
    "text", ["8-15", "08:00", "15:00-08:00", "08:00-24:30", "25:00-26:00", "08:60-09:00"]
)
def test_a_malformed_interval_is_refused(text: str) -> None:
    with pytest.raises(BadInputError, match="interval"):
        parse_interval(text)


def test_an_interval_may_end_at_24_00() -> None:
    assert parse_interval("16:00-24:00") == (960, 1440)


def test_overlapping_schedule_intervals_are_refused() -> None:
    with pytest.raises(BadInputError, match="overlapping"):
        Schedule(name="bad", week=(((60, 180), (120, 240)),) + ((),) * 6)


# -- any year ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("received", "due"),
    [
        pytest.param(local(1990, 12, 21, 10), local(1990, 12, 27, 10), id="christmas 1990"),
        pytest.param(local(2090, 4, 12, 9), local(2090, 4, 18, 9), id="easter 2090"),
    ],
)
def test_years_far_from_today_work(received: datetime, due: datetime) -> None:
    assert BusinessCalendar().due_at(received, 24, "working_days") == due


def test_extending_the_index_backwards_gives_the_same_results_as_a_fresh_calendar() -> None:
    late, early = local(2030, 6, 3, 10), local(2001, 2, 14, 13)
    backwards = BusinessCalendar()
    backwards.due_at(late, 24, "working_days")  # builds 2030 first
    fresh = BusinessCalendar()
    for sched in ("working_days", "office_hours"):
        assert backwards.due_at(early, 36, sched) == fresh.due_at(early, 36, sched)
        assert backwards.working_time(early, late, sched) == fresh.working_time(early, late, sched)
    assert backwards.due_at(late, 24, "working_days") == fresh.due_at(late, 24, "working_days")


# -- closed days of a year --------------------------------------------------------------------
CLOSED_2023 = [
    date(2023, 1, 1),
    date(2023, 4, 6),
    date(2023, 4, 7),
    date(2023, 4, 9),
    date(2023, 4, 10),
    date(2023, 5, 5),  # Store Bededag, the last one
    date(2023, 5, 18),
    date(2023, 5, 28),
    date(2023, 5, 29),
    date(2023, 6, 5),
    date(2023, 12, 24),
    date(2023, 12, 25),
    date(2023, 12, 26),
    date(2023, 12, 31),
]
CLOSED_2024 = [
    date(2024, 1, 1),
    date(2024, 3, 28),
    date(2024, 3, 29),
    date(2024, 3, 31),
    date(2024, 4, 1),
    date(2024, 5, 9),
    date(2024, 5, 19),
    date(2024, 5, 20),
    date(2024, 6, 5),
    date(2024, 12, 24),
    date(2024, 12, 25),
    date(2024, 12, 26),
    date(2024, 12, 31),
]
CLOSED_2026 = [
    date(2026, 1, 1),
    date(2026, 4, 2),
    date(2026, 4, 3),
    date(2026, 4, 5),
    date(2026, 4, 6),
    date(2026, 5, 14),
    date(2026, 5, 24),
    date(2026, 5, 25),
    date(2026, 6, 5),
    date(2026, 12, 24),
    date(2026, 12, 25),
    date(2026, 12, 26),
    date(2026, 12, 31),
]


@pytest.mark.parametrize(
    ("year", "expected"),
    [(2023, CLOSED_2023), (2024, CLOSED_2024), (2026, CLOSED_2026)],
    ids=["2023", "2024", "2026"],
)
def test_the_closed_days_of_a_year_are_the_hand_written_list(
    year: int, expected: list[date]
) -> None:
    assert [c.day for c in CAL.closed_days(year)] == expected


def test_store_bededag_is_closed_in_2023_and_open_from_2024() -> None:
    assert CAL.day_intervals(date(2023, 5, 5), BUILTIN_SCHEDULES["working_days"]) == ()
    assert CAL.day_intervals(date(2024, 4, 26), BUILTIN_SCHEDULES["working_days"]) == ((0, 1440),)


def test_closed_days_carry_danish_and_english_names() -> None:
    by_day = {c.day: c for c in CAL.closed_days(2026)}
    assert by_day[date(2026, 12, 24)].name_da == "Juleaftensdag"
    assert by_day[date(2026, 4, 3)].name_da == "Langfredag"
    assert by_day[date(2026, 4, 3)].name_en == "Good Friday"


def test_closed_weekdays_of_2000_to_2040_match_the_independent_list() -> None:
    expected: dict[int, set[date]] = {year: set() for year in range(2000, 2041)}
    with CLOSED_DAYS_CSV.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            day = date.fromisoformat(row["date"])
            if day.weekday() < 5:
                expected[day.year].add(day)
    working_days = BUILTIN_SCHEDULES["working_days"]
    for year, days in expected.items():
        closed = set()
        day = date(year, 1, 1)
        while day.year == year:
            if day.weekday() < 5 and not CAL.day_intervals(day, working_days):
                closed.add(day)
            day += timedelta(days=1)
        assert closed == days, year


# -- properties against a brute-force reference -----------------------------------------------
# The reference steps one minute at a time over real (UTC) instants: a minute counts when its
# local Copenhagen wall time falls in a working interval of its local date and it is not
# paused. Minutes are exact because every interval, pause, start and DST change (01:00 UTC) in
# these cases is on a whole minute. It gives up after HORIZON minutes or LIMIT counted ones.
HORIZON = 12 * 1440
LIMIT = 20 * 60
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@cache
def public_holidays(year: int) -> frozenset[date]:
    return frozenset(
        holidays.country_holidays("DK", years=year, language="da", categories=("public",))
    )


@cache
def offset_minutes(utc_hour: int) -> int:
    """Copenhagen's UTC offset during an hour (changes happen on whole UTC hours)."""
    offset = (EPOCH + timedelta(hours=utc_hour)).astimezone(COPENHAGEN).utcoffset()
    assert offset is not None
    return offset // MINUTE


def reference_day(case: CalendarCase, day: date) -> bytearray:
    """One flag per wall-clock minute of a local date: is it working time?"""
    intervals = case.week[day.weekday()]
    if case.observes_closed_days and day not in case.opened_dates:
        if day in case.half_days:
            closes = case.half_days[day]
            cutoff = closes.hour * 60 + closes.minute
            intervals = tuple((a, min(b, cutoff)) for a, b in intervals if a < cutoff)
        elif (
            day in public_holidays(day.year)
            or (day.month, day.day) in case.extra_closed
            or day in case.closed_dates
        ):
            intervals = ()
    flags = bytearray(1440)
    for a, b in intervals:
        flags[a:b] = b"\x01" * (b - a)
    return flags


def reference_minutes(case: CalendarCase, start: int | None = None) -> tuple[list[int], bool]:
    """The counted minutes from ``start`` (case.start by default), and whether an open pause
    stopped the clock for good before LIMIT minutes were found."""
    first = case.start if start is None else start
    paused: set[int] = set()
    open_from: int | None = None
    for a, b in case.pauses:
        if b is None:
            open_from = a if open_from is None else min(open_from, a)
        else:
            paused.update(range(a, b))
    days: dict[int, bytearray] = {}
    counted: list[int] = []
    for minute in range(first, first + HORIZON):
        if open_from is not None and minute >= open_from:
            return counted, True
        if minute in paused:
            continue
        day_number, wall = divmod(minute + offset_minutes(minute // 60), 1440)
        flags = days.get(day_number)
        if flags is None:
            flags = days[day_number] = reference_day(
                case, date.fromordinal(EPOCH_ORDINAL + day_number)
            )
        if flags[wall]:
            counted.append(minute)
            if len(counted) >= LIMIT:
                break
    return counted, False


def reference_due(start: int, counted: list[int], stopped: bool, n: int) -> int | None:
    """The reference deadline as an epoch minute."""
    if n == 0:
        return start
    if n <= len(counted):
        return counted[n - 1] + 1
    assert stopped, "the strategy draws n within the reference's reach"
    return None


def minute_of(moment: datetime | None) -> int | None:
    """An instant as an exact epoch minute, so that the fold of a repeated hour counts
    (== between two datetimes of one zone compares wall times and ignores the fold)."""
    if moment is None:
        return None
    assert moment.second == 0
    assert moment.microsecond == 0
    return (moment - EPOCH) // MINUTE


PROPERTY_SETTINGS = settings(max_examples=120, deadline=None)


@PROPERTY_SETTINGS
@given(case=calendar_cases(), data=st.data())
def test_due_at_equals_the_brute_force_reference(case: CalendarCase, data: st.DataObject) -> None:
    counted, stopped = reference_minutes(case)
    n = data.draw(st.integers(0, len(counted) + (3 if stopped else 0)), label="minutes")
    cal, pauses = case.calendar(), case.pause_values()
    due = cal.due_at(case.start_at(), timedelta(minutes=n), SCHEDULE, pauses)
    assert minute_of(due) == reference_due(case.start, counted, stopped, n)
    if due is not None:
        worked = cal.working_time(case.start_at(), due, SCHEDULE, pauses)
        assert worked == timedelta(minutes=n)


@PROPERTY_SETTINGS
@given(case=calendar_cases(), data=st.data())
def test_due_at_is_monotonic_in_hours(case: CalendarCase, data: st.DataObject) -> None:
    counted, _ = reference_minutes(case)
    a = data.draw(st.integers(0, len(counted)), label="fewer minutes")
    b = data.draw(st.integers(a, len(counted)), label="more minutes")
    cal, pauses = case.calendar(), case.pause_values()
    due_a = cal.due_at(case.start_at(), timedelta(minutes=a), SCHEDULE, pauses)
    due_b = cal.due_at(case.start_at(), timedelta(minutes=b), SCHEDULE, pauses)
    if due_a is None:
        assert due_b is None
    elif due_b is not None:
        assert to_us(due_a) <= to_us(due_b)


@PROPERTY_SETTINGS
@given(case=calendar_cases(), later_by=st.integers(0, 3 * 1440), data=st.data())
def test_due_at_is_monotonic_in_start(
    case: CalendarCase, later_by: int, data: st.DataObject
) -> None:
    counted, _ = reference_minutes(case, case.start + later_by)
    n = data.draw(st.integers(0, len(counted)), label="minutes")
    cal, pauses = case.calendar(), case.pause_values()
    hours = timedelta(minutes=n)
    early = cal.due_at(case.start_at(), hours, SCHEDULE, pauses)
    late = cal.due_at(instant(case.start + later_by), hours, SCHEDULE, pauses)
    if early is None:
        assert late is None
    elif late is not None:
        assert to_us(early) <= to_us(late)


@PROPERTY_SETTINGS
@given(case=calendar_cases(), data=st.data())
def test_warn_at_is_never_after_due_at(case: CalendarCase, data: st.DataObject) -> None:
    counted, _ = reference_minutes(case)
    hours = data.draw(st.integers(0, len(counted)), label="minutes") / 60
    warn_before = data.draw(st.integers(0, 25 * 60), label="warn minutes") / 60
    rule = Rule(name="r", hours=hours, schedule=SCHEDULE, warn_before=warn_before)
    dl = deadline(case.calendar(), rule, case.start_at(), case.pause_values())
    if dl.due_at is not None:
        assert dl.warn_at is not None
        assert to_us(dl.warn_at) <= to_us(dl.due_at)
    if warn_before >= hours:
        assert dl.warn_at is not None
        assert to_us(dl.warn_at) == to_us(case.start_at())


# -- the batch API ------------------------------------------------------------------------------
@PROPERTY_SETTINGS
@given(
    starts=st.lists(
        st.integers(to_us(local(1999, 6, 1)), to_us(local(2031, 6, 1))), min_size=0, max_size=40
    ),
    minutes=st.integers(0, 200 * 60),
    schedule=st.sampled_from(sorted(BUILTIN_SCHEDULES)),
)
def test_due_many_gives_what_due_at_gives_for_each_start_in_order(
    starts: list[int], minutes: int, schedule: str
) -> None:
    # A fresh calendar per example, so the batch itself has to extend the index both ways.
    times = [from_us(us) for us in starts]
    hours = timedelta(minutes=minutes)
    assert BusinessCalendar().due_many(times, hours, schedule) == [
        CAL.due_at(moment, hours, schedule) for moment in times
    ]


def test_due_many_refuses_a_naive_time_by_name() -> None:
    with pytest.raises(BadInputError, match="no time zone"):
        CAL.due_many([local(2026, 1, 5, 9), datetime(2026, 1, 5, 9)], 24, "working_days")
