"""Why a deadline falls where it does: the skipped days, in Danish and English."""

from __future__ import annotations

from datetime import date, datetime, time

from tracker.core.calendar import COPENHAGEN, BusinessCalendar, ClosedDayRules, Pause
from tracker.core.explain import SkipReason, explain

CAL = BusinessCalendar()


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=COPENHAGEN)


def test_christmas_lists_the_closed_days_and_the_weekend_with_names() -> None:
    why = explain(CAL, local(2026, 12, 23, 14), 24, "working_days")
    assert why.due_at == local(2026, 12, 28, 14)
    assert [(s.day, s.reason, s.name_da) for s in why.skipped] == [
        (date(2026, 12, 24), SkipReason.CLOSED, "Juleaftensdag"),
        (date(2026, 12, 25), SkipReason.CLOSED, "Juledag"),
        (date(2026, 12, 26), SkipReason.WEEKEND, "weekend"),
        (date(2026, 12, 27), SkipReason.WEEKEND, "weekend"),
    ]
    assert why.lines("da")[1] == "Sprunget over 2026-12-24 torsdag: Juleaftensdag"
    assert why.lines("en")[1] == "Skipped 2026-12-24 thursday: Christmas Eve"


def test_a_deadline_at_midnight_does_not_list_the_closed_day_it_ends_before() -> None:
    why = explain(CAL, local(2024, 12, 21, 11), 24, "working_days")
    assert why.due_at == local(2024, 12, 24)
    assert [s.day for s in why.skipped] == [date(2024, 12, 21), date(2024, 12, 22)]


def test_the_clock_starts_at_the_next_working_instant() -> None:
    why = explain(CAL, local(2026, 11, 28, 11), 24, "working_days")
    assert why.counted_from == local(2026, 11, 30)
    assert why.lines("da")[0] == "Uret starter 2026-11-30T00:00:00+01:00"
    assert why.lines("en")[0] == "Clock starts 2026-11-30T00:00:00+01:00"


def test_a_plain_working_day_skips_nothing() -> None:
    why = explain(CAL, local(2026, 11, 25, 10), 24, "working_days")
    assert why.skipped == ()
    assert why.lines("da")[1:] == ["Ingen dage sprunget over"]
    assert why.lines("en")[1:] == ["No days skipped"]


def test_a_half_day_is_listed_with_its_closing_time() -> None:
    cal = BusinessCalendar(rules=ClosedDayRules(half_days={date(2026, 11, 26): time(12)}))
    why = explain(cal, local(2026, 11, 25, 10), 24, "working_days")
    (half,) = why.skipped
    assert (half.day, half.reason, half.closes_at) == (
        date(2026, 11, 26),
        SkipReason.HALF_DAY,
        time(12),
    )
    assert half.describe("da").endswith("lukker kl. 12:00")
    assert half.describe("en").endswith("closes 12:00")


def test_pauses_are_listed_and_an_open_one_leaves_no_deadline() -> None:
    pause = Pause(start=local(2026, 11, 25, 12))
    why = explain(CAL, local(2026, 11, 25, 10), 24, "working_days", [pause])
    assert why.due_at is None
    assert why.lines("da")[-1] == "Pause 2026-11-25T12:00:00+01:00 - åben"
    assert why.lines("en")[-1] == "Paused 2026-11-25T12:00:00+01:00 - open"


def test_calendar_days_skip_no_closed_day() -> None:
    why = explain(CAL, local(2026, 12, 23, 14), 48, "calendar_days")
    assert why.skipped == ()
