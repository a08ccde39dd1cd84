"""The monthly management e-mail: when it is due, enqueued once per recipient, what it holds."""

from __future__ import annotations

import email
from datetime import UTC, datetime, time
from email.message import Message

import pytest
from report_data import database, generated, local
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.config import ReportSettings, Settings
from tracker.core.calendar import BusinessCalendar
from tracker.errors import BadInputError
from tracker.mail.render import MailConfig, render
from tracker.reports.monthly_mail import (
    enqueue_monthly_report,
    first_working_day,
    monthly_report_due,
)
from tracker.store.models import OutboxMessage

CAL = BusinessCalendar()
EIGHT = time(8, 0)
BOSSES = ["leder@fredericia.dk", "udvalg-ø@fredericia.dk"]


@pytest.mark.parametrize(
    ("now", "due", "month", "send_at"),
    [
        # Tuesday 1 December 2026, a plain working day
        (local(2026, 12, 1, 7, 59), False, "2026-11", local(2026, 12, 1, 8)),
        (local(2026, 12, 1, 8, 0), True, "2026-11", local(2026, 12, 1, 8)),
        (local(2026, 12, 31, 23, 59), True, "2026-11", local(2026, 12, 1, 8)),
        # New Year's Day is closed and 2-3 January 2027 are a weekend: Monday the 4th
        (local(2027, 1, 1, 9, 0), False, "2026-12", local(2027, 1, 4, 8)),
        (local(2027, 1, 4, 8, 0), True, "2026-12", local(2027, 1, 4, 8)),
        # Sunday 1 November 2026: Monday the 2nd
        (local(2026, 11, 1, 12, 0), False, "2026-10", local(2026, 11, 2, 8)),
        # Summer time: 08:00 local is 06:00 UTC (the month is local, too)
        (datetime(2026, 4, 1, 6, 0, tzinfo=UTC), True, "2026-03", local(2026, 4, 1, 8)),
        (datetime(2026, 3, 31, 22, 30, tzinfo=UTC), False, "2026-03", local(2026, 4, 1, 8)),
        # Easter 2026: 1 April is a Wednesday and open; 2 April (Skærtorsdag) is not first
        (local(2026, 4, 1, 8, 0), True, "2026-03", local(2026, 4, 1, 8)),
    ],
)
def test_it_is_due_from_the_first_working_day_at_the_configured_time(
    now: datetime, due: bool, month: str, send_at: datetime
) -> None:
    decision = monthly_report_due(CAL, EIGHT, now)
    assert (decision.due, decision.month, decision.send_at) == (due, month, send_at)
    assert decision.send_at.tzinfo == UTC


@pytest.mark.parametrize(
    "now",
    [
        datetime(1, 1, 15, 10, tzinfo=UTC),  # no month before it at all
        datetime(2, 1, 15, 10, tzinfo=UTC),  # the month before is in year 1
        datetime(9999, 12, 15, 10, tzinfo=UTC),
    ],
)
def test_a_now_whose_month_a_report_cannot_cover_is_bad_input_not_an_overflow(
    now: datetime,
) -> None:
    with pytest.raises(BadInputError, match="outside the years a report covers"):
        monthly_report_due(CAL, EIGHT, now)


def test_the_first_and_last_months_a_report_covers_are_due_as_any_other() -> None:
    first = monthly_report_due(CAL, EIGHT, datetime(2, 2, 15, 10, tzinfo=UTC))
    last = monthly_report_due(CAL, EIGHT, datetime(9998, 12, 15, 10, tzinfo=UTC))
    assert (first.month, first.due, last.month, last.due) == ("0002-01", True, "9998-11", True)


def test_the_first_working_day_skips_weekends_and_holidays() -> None:
    assert first_working_day(CAL, 2027, 1).isoformat() == "2027-01-04"  # type: ignore[union-attr]
    assert first_working_day(CAL, 2026, 6).isoformat() == "2026-06-01"  # type: ignore[union-attr]


def settings(url: str, recipients: list[str]) -> Settings:
    return Settings(
        database_url=url,
        departments=["Økonomi og Personale", "Teknik og Miljø", "Børn og Unge", "Diverse"],
        reports=ReportSettings(management_recipients=recipients, monthly_time=EIGHT),
    )


def outbox(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.key)))


def test_it_enqueues_one_report_per_recipient_once(database_url: str) -> None:
    config = settings(database_url, BOSSES)
    with database(database_url, generated(150)) as engine:
        with Session(engine) as session, session.begin():
            early = local(2026, 4, 1, 7, 0)
            assert enqueue_monthly_report(session, config, CAL, early) is False
            assert outbox(session) == []
        now = local(2026, 4, 1, 8, 5)
        with Session(engine) as session, session.begin():
            assert enqueue_monthly_report(session, config, CAL, now) is True
        for later in (now, local(2026, 4, 2, 8, 0), local(2026, 4, 30, 23, 0)):
            with Session(engine) as session, session.begin():
                assert enqueue_monthly_report(session, config, CAL, later) is False
        with Session(engine) as session:
            rows = outbox(session)
    assert [r.key for r in rows] == [f"report:2026-03:{b}" for b in sorted(BOSSES)]
    assert {r.kind for r in rows} == {"report"}
    assert {r.recipient for r in rows} == set(BOSSES)
    payload = rows[0].payload
    assert set(payload) == {"subject", "text", "html", "attachment_name", "attachment_csv"}
    assert payload["subject"] == "Svarfrist: månedsrapport for marts 2026"
    assert payload["attachment_name"] == "svarfrist-2026-03.csv"
    assert payload["attachment_csv"].startswith("\ufeffkey;count;share")
    assert "Periode: 2026-03-01 – 2026-03-31" in payload["text"]
    assert '<svg role="img"' in payload["html"]
    assert all("FORTROLIG" not in str(v) for v in payload.values())


def test_a_recipient_added_later_gets_the_month_too(database_url: str) -> None:
    now = local(2026, 4, 1, 9, 0)
    with database(database_url, generated(30)) as engine:
        with Session(engine) as session, session.begin():
            assert enqueue_monthly_report(session, settings(database_url, BOSSES[:1]), CAL, now)
        with Session(engine) as session, session.begin():
            assert enqueue_monthly_report(session, settings(database_url, BOSSES), CAL, now)
        with Session(engine) as session:
            assert len(outbox(session)) == 2


def test_nothing_is_enqueued_without_recipients(database_url: str) -> None:
    with database(database_url, generated(10)) as engine, Session(engine) as session:
        assert (
            enqueue_monthly_report(session, settings(database_url, []), CAL, local(2026, 4, 1, 9))
            is False
        )


def test_the_outbox_row_renders_as_html_mail_with_text_and_the_csv_attached(
    database_url: str,
) -> None:
    with database(database_url, generated(60)) as engine:
        with Session(engine) as session, session.begin():
            enqueue_monthly_report(
                session, settings(database_url, BOSSES), CAL, local(2026, 4, 1, 9)
            )
        with Session(engine) as session:
            row = outbox(session)[0]
    envelope = render(
        kind=row.kind,
        payload=row.payload,
        recipient=row.recipient,
        message_id="<report.1@svarfrist>",
        config=MailConfig(mail_from="svarfrist@fredericia.dk"),
        now=local(2026, 4, 1, 9, 1),
    )
    message = email.message_from_bytes(envelope.data)
    assert message["X-Svarfrist-Kind"] == "report"
    types = [part.get_content_type() for part in message.walk()]
    assert types == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/csv",
    ]
    attachment: Message = list(message.walk())[-1]
    assert attachment.get_filename() == "svarfrist-2026-03.csv"
    data = attachment.get_payload(decode=True)
    assert isinstance(data, bytes)
    assert data.startswith(b"\xef\xbb\xbfkey;count;share")
