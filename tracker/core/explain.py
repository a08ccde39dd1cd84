"""Why a deadline falls where it does: the days a clock skipped, in Danish and English. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from tracker.core.calendar import (
    WEEKDAY_NAMES_DA,
    WEEKDAY_NAMES_EN,
    BusinessCalendar,
    Pause,
    hours_to_us,
)

# A closed stretch longer than this is summarised rather than listed day by day.
MAX_LISTED_DAYS = 400


class SkipReason(StrEnum):
    WEEKEND = "weekend"
    CLOSED = "closed"
    HALF_DAY = "half_day"


@dataclass(frozen=True, kw_only=True)
class SkippedDay:
    day: date
    reason: SkipReason
    name_da: str
    name_en: str
    closes_at: time | None = None

    def describe(self, language: str) -> str:
        weekday = (WEEKDAY_NAMES_DA if language == "da" else WEEKDAY_NAMES_EN)[self.day.weekday()]
        name = self.name_da if language == "da" else self.name_en
        if self.reason is SkipReason.HALF_DAY and self.closes_at is not None:
            closes = self.closes_at.strftime("%H:%M")
            what = (
                f"{name}, lukker kl. {closes}" if language == "da" else f"{name}, closes {closes}"
            )
        else:
            what = name
        return f"{self.day.isoformat()} {weekday}: {what}"


@dataclass(frozen=True, kw_only=True)
class Explanation:
    received_at: datetime
    counted_from: datetime
    hours: float
    schedule: str
    due_at: datetime | None
    skipped: tuple[SkippedDay, ...]
    pauses: tuple[Pause, ...]

    def lines(self, language: str) -> list[str]:
        da = language == "da"
        out = [
            ("Uret starter " if da else "Clock starts ") + self.counted_from.isoformat(),
        ]
        if not self.skipped:
            out.append("Ingen dage sprunget over" if da else "No days skipped")
        for day in self.skipped:
            out.append(("Sprunget over " if da else "Skipped ") + day.describe(language))
        for pause in self.pauses:
            end = pause.end.isoformat() if pause.end else ("åben" if da else "open")
            out.append(("Pause " if da else "Paused ") + f"{pause.start.isoformat()} - {end}")
        return out


def explain(
    calendar: BusinessCalendar,
    start: datetime,
    hours: float,
    schedule: str,
    pauses: Iterable[Pause] = (),
) -> Explanation:
    """Compute a deadline and list every local date up to it that had less working time
    than a plain weekday: weekends (no intervals in the weekly pattern), closed days with
    their names, and half days with their closing time."""
    pauses = tuple(pauses)
    hours_to_us(hours)  # rejects negative hours with the same message as due_at
    sched = calendar.schedule(schedule)
    due = calendar.due_at(start, hours, schedule, pauses)
    counted_from = calendar.next_working_instant(start, schedule)
    first = start.astimezone(calendar.tz).date()
    end = due or counted_from
    if end > start:
        # The last day the clock ran is the date of the instant just before the deadline: a
        # deadline at Monday 24:00 (Tuesday 00:00) skipped nothing on Tuesday, even if it is
        # closed. Subtracting in UTC keeps the instant exact across a DST change.
        end = end.astimezone(UTC) - timedelta(microseconds=1)
    last = end.astimezone(calendar.tz).date()
    last = min(last, first + timedelta(days=MAX_LISTED_DAYS))
    skipped: list[SkippedDay] = []
    day = first
    while day <= last:
        skipped.extend(_skip_of(calendar, day, sched.name))
        day += timedelta(days=1)
    return Explanation(
        received_at=start,
        counted_from=counted_from,
        hours=hours,
        schedule=schedule,
        due_at=due,
        skipped=tuple(skipped),
        pauses=pauses,
    )


def _skip_of(calendar: BusinessCalendar, day: date, schedule: str) -> list[SkippedDay]:
    sched = calendar.schedule(schedule)
    weekly = sched.week[day.weekday()]
    if not weekly:
        return [
            SkippedDay(
                day=day,
                reason=SkipReason.WEEKEND,
                name_da="weekend",
                name_en="weekend",
            )
        ]
    if not sched.observes_closed_days:
        return []
    closed = calendar.rules.day(day)
    if closed is None:
        return []
    reason = SkipReason.HALF_DAY if closed.closes_at is not None else SkipReason.CLOSED
    return [
        SkippedDay(
            day=day,
            reason=reason,
            name_da=closed.name_da,
            name_en=closed.name_en,
            closes_at=closed.closes_at,
        )
    ]
