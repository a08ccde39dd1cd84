"""The monthly management e-mail: last month's compliance report, once, through the outbox.

When: the first working day of the month (Danish calendar, the ``working_days`` schedule:
weekends, public holidays and the customary closing days are skipped, so 1 January never
and 2 January only if it is a weekday) at ``reports.monthly_time`` local time (default 08:00).
From that instant until the month ends the report is *due*; a sweep that finds it due
enqueues one outbox row per management recipient with the key ``report:YYYY-MM:<recipient>``.
The outbox ignores an existing key, so replicas, restarts and every later sweep of the
month add nothing, and a daemon that was down on the day catches up when it comes back.

An office with management recipients of its own (``[offices.KEY.reports]``) gets its own
report the same way, on its own calendar and ``monthly_time``, keyed
``report:YYYY-MM:<office>:<recipient>``; the top level's recipients get every office's.

The mail carries identifiers, configured names and figures only: never a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tracker.config import Settings, management_recipients, office_settings
from tracker.core.calendar import COPENHAGEN, BusinessCalendar
from tracker.core.spreadsheet import BOM
from tracker.reports.build import build_report, monthly_compliance
from tracker.reports.format import report_csv, report_text
from tracker.reports.html import report_page
from tracker.reports.labels import labels_for, month_name
from tracker.reports.queries import GroupBy, period_day, period_of
from tracker.store.outbox import enqueue, existing_keys

REPORT_KIND = "report"
SCHEDULE = "working_days"
# A month has at least one working day; 31 bounds the search for a calendar without any.
_DAYS_IN_LONGEST_MONTH = 31


@dataclass(frozen=True, kw_only=True)
class MonthlyReportDue:
    """Whether last month's report is due at ``now``, and which month and instant that is."""

    month: str
    """The reported month, ``YYYY-MM`` (the month before ``now``'s local month)."""
    first: date
    last: date
    send_at: datetime
    """This month's first working day at the configured local time, in UTC."""
    due: bool


def first_working_day(calendar: BusinessCalendar, year: int, month: int) -> date | None:
    """The first day of the month with working time on ``working_days`` (None: there is none)."""
    schedule = calendar.schedule(SCHEDULE)
    day = date(year, month, 1)
    for _ in range(_DAYS_IN_LONGEST_MONTH):
        if day.month != month:
            break
        if calendar.day_intervals(day, schedule):
            return day
        day += timedelta(days=1)
    return None


def monthly_report_due(
    calendar: BusinessCalendar, monthly_time: time, now: datetime
) -> MonthlyReportDue:
    """Is the previous month's report due at ``now``? Pure: ``now`` comes from the caller.

    The month is taken in local time (Europe/Copenhagen), because "the first working day
    at 08:00" is a wall-clock promise; the instant is returned in UTC like all stored times.
    A ``now`` whose month or month before is outside the years a report covers
    (tracker.reports.queries.period_day) raises BadInputError.
    """
    local = now.astimezone(COPENHAGEN)
    # Years a report period covers only (BadInputError otherwise): both this month, whose
    # day before must exist, and the reported month.
    this_month = period_day(date(local.year, local.month, 1), "now")
    last = this_month - timedelta(days=1)
    first = period_day(last.replace(day=1), "the month before now")
    working = first_working_day(calendar, this_month.year, this_month.month)
    day = working or this_month
    send_at = datetime.combine(day, monthly_time, tzinfo=COPENHAGEN).astimezone(UTC)
    return MonthlyReportDue(
        month=f"{first.year:04d}-{first.month:02d}",
        first=first,
        last=last,
        send_at=send_at,
        due=working is not None and now >= send_at,
    )


def report_key(month: str, recipient: str) -> str:
    return f"report:{month}:{recipient}"


def report_keys(
    due: MonthlyReportDue, recipients: Sequence[str], office: str | None = None
) -> dict[str, str]:
    """Each recipient's outbox key of ``due``'s report (of ``office`` alone, if given)."""
    month = due.month if office is None else f"{due.month}:{office}"
    return {r: report_key(month, r) for r in recipients}


def monthly_payload(
    session: Session,
    settings: Settings,
    due: MonthlyReportDue,
    now: datetime,
    office: str | None = None,
) -> dict[str, Any]:
    """Subject, text, self-contained HTML and the Excel CSV of last month, per department
    (of ``office`` alone if given; ``settings`` are then that office's view)."""
    lang = settings.reminders.language
    labels = labels_for(lang)
    period = period_of(due.first, due.last)
    if office is not None:
        period = period.of_offices(frozenset({office}))
    report = build_report(session, by=GroupBy.DEPARTMENT, period=period, now=now)
    months = monthly_compliance(session, period, now)
    csv_text = report_csv(report)
    subject = labels["monthly_subject"].format(month=month_name(due.month, lang))
    return {
        "subject": subject if office is None else f"{subject} ({office})",
        "text": report_text(report, labels, lang),
        "html": report_page(report, months, labels, lang),
        "attachment_name": f"svarfrist-{due.month}{'' if office is None else '-' + office}.csv",
        # The renderer encodes the text as UTF-8; the BOM makes it utf-8-sig for Excel.
        "attachment_csv": BOM + csv_text,
    }


def enqueue_monthly_report(
    session: Session,
    settings: Settings,
    calendar: BusinessCalendar,
    now: datetime,
    office: str | None = None,
) -> bool:
    """Enqueue last month's report for each management recipient once; True if any was added.

    Without ``office``: the top level's ``reports.management_recipients``, the report of
    every office. With ``office``: that office's own recipients
    (tracker.config.management_recipients), its report alone, on its calendar (``calendar``)
    and its ``monthly_time``. Cheap when there is nothing to do (not due, no recipients, or
    every key already queued): the report is only built when a recipient still lacks it.
    """
    recipients = management_recipients(settings, office)
    if not recipients:
        return False
    view = settings if office is None else office_settings(settings, office)
    due = monthly_report_due(calendar, view.reports.monthly_time, now)
    if not due.due:
        return False
    keys = report_keys(due, recipients, office)
    queued = existing_keys(session, keys.values())
    missing = [r for r in recipients if keys[r] not in queued]
    if not missing:
        return False
    payload = monthly_payload(session, view, due, now, office)
    added = False
    for recipient in missing:
        added |= enqueue(
            session,
            key=keys[recipient],
            kind=REPORT_KIND,
            recipient=recipient,
            payload=payload,
            send_at=now,
            created_at=now,
        )
    return added
