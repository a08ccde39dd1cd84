"""One sweep: refresh obligations whose time has come, plan reminders, send due mail.

A sweep is what ``svarfrist tick`` runs once and ``svarfrist run`` runs on a schedule:

1. *refresh*: obligations with ``next_action_at <= now`` (an index range scan, so a sweep
   that finds nothing costs the same with a thousand or a million open obligations) get
   their state recomputed with ``sla.classify``; reminders whose time has come are written
   to the outbox **in the same transaction** as the state change; ``next_action_at`` moves
   to the next instant anything can happen. The register indexes every obligation it writes
   for a look at once (``obligations.first_look``), so new and moved ones are planned by the
   next sweep (a ``due_soon`` may have to go out before warn_at, see
   ``reminders.due_soon_send_at``).
2. *digest*: once a day, after the digest time on a working day, one digest per recipient;
   and the monthly management report (``reports_mail``), once per month and recipient.
3. *deliver*: claim and send due outbox rows (``notify.deliver``).
4. record ``last_sweep`` for ``svarfrist status``.

Each step does bounded work. A row that raises has its next check pushed forward first (so
it cannot crash-loop the daemon), then it is logged and the sweep goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, true, update
from sqlalchemy.orm import Session, sessionmaker

from tracker.config import (
    DEFAULT_OFFICE,
    Office,
    Settings,
    build_offices,
    management_recipients,
)
from tracker.config.offices import escalation_address
from tracker.core import cover
from tracker.core.calendar import BusinessCalendar
from tracker.core.reminders import (
    DigestItem,
    Kind,
    ObligationFacts,
    ReminderPolicy,
    decide,
    digest_at,
    digests,
)
from tracker.mail import links
from tracker.mail.render import MailConfig
from tracker.notify import (
    Connector,
    DeliveryPolicy,
    DeliveryReport,
    SmtpConfig,
    deliver,
    smtp_connector,
)
from tracker.sla import Deadline, classify
from tracker.store import outbox
from tracker.store.db import transaction
from tracker.store.models import Inquiry, Obligation
from tracker.store.queries import DEADLINE_COLUMNS

log = logging.getLogger(__name__)

# Rows per refresh transaction, and transactions per sweep: bounded work per sweep.
REFRESH_BATCH = 500
MAX_REFRESH_BATCHES = 20
# When planning one obligation raises, look at it again after this long.
ERROR_RETRY = timedelta(hours=1)
LAST_SWEEP = "last_sweep"
DIGEST_DONE = "digest"


@dataclass(frozen=True, kw_only=True)
class MonthlyAudience:
    """Who gets which monthly report, and when it falls due (tracker.reports.monthly_mail):
    every office's (``office`` None) or one office's own, each once per month."""

    office: str | None
    calendar: BusinessCalendar
    monthly_time: time
    recipients: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class OfficeServices:
    """One office's reminders: its calendar (closed days, sending window), its policy, per
    department where ``escalation_to`` is a table, and its default recipient."""

    key: str
    calendar: BusinessCalendar
    policy: ReminderPolicy
    """The policy of a department with no escalation address of its own."""
    policies: Mapping[str, ReminderPolicy]
    """Per department escalated to an address of its own (``escalation_to`` as a table)."""
    default_recipient: str | None

    def policy_of(self, department: str) -> ReminderPolicy:
        return self.policies.get(department, self.policy)


def office_services(office: Office) -> OfficeServices:
    reminders = office.settings.reminders
    policy = ReminderPolicy(
        window=reminders.window_schedule,
        escalation_after_hours=reminders.escalation_after_hours,
        escalation_to=escalation_address(reminders, ""),
        digest_time=reminders.digest_time,
    )
    table = reminders.escalation_to if isinstance(reminders.escalation_to, dict) else {}
    return OfficeServices(
        key=office.key,
        calendar=office.calendar,
        policy=policy,
        policies={d: replace(policy, escalation_to=to) for d, to in table.items()},
        default_recipient=office.settings.default_recipient,
    )


@dataclass(frozen=True, kw_only=True)
class Services:
    """Everything a sweep needs, built once from the settings."""

    factory: sessionmaker[Session]
    calendar: BusinessCalendar
    """The office ``default``'s (the top level's): the monthly report's."""
    policy: ReminderPolicy
    offices: Mapping[str, OfficeServices]
    """Each office's reminders; an inquiry of an office no longer configured is planned
    as the office ``default``'s."""
    delivery: DeliveryPolicy
    mail: MailConfig
    connect: Connector
    default_recipient: str | None
    settings: Settings
    monthly: tuple[MonthlyAudience, ...] = ()
    """The monthly reports to plan (those with recipients), built once."""


def build_services(
    settings: Settings, factory: sessionmaker[Session], connect: Connector | None = None
) -> Services:
    built = build_offices(settings)
    offices = {key: office_services(o) for key, o in built.items()}
    default = offices[DEFAULT_OFFICE]
    reminders = settings.reminders
    smtp = settings.smtp
    password = smtp.password.get_secret_value() if smtp.password is not None else None
    office_commands = {
        key: {name: str(rule.fulfilled_by) for name, rule in o.rules.items()}
        for key, o in built.items()
    }
    key = settings.web.key()  # the web app's key: its /m/ route checks what this signs
    secret = key.get_secret_value() if key is not None else None
    if smtp.username and password is None:
        # As below, not refused; but every mail would try to log in without a password.
        log.warning(
            "smtp.username is set but no smtp.password reaches this process: the SMTP server "
            "will refuse the log-in and no mail goes out (give the daemon its credential)"
        )
    if settings.web.base_url and secret is None:
        # Not refused: a command run by hand may lack the daemon's credentials. Said once,
        # at start, so an office that set base_url learns why its mails carry no links.
        log.warning(
            "web.base_url is set but no web.secret_key reaches this process: reminder mails "
            "carry the command line, not one-click links (give the daemon the web app's key)"
        )
    return Services(
        factory=factory,
        calendar=default.calendar,
        policy=default.policy,
        offices=offices,
        delivery=DeliveryPolicy(
            retry=outbox.RetryPolicy(max_attempts=settings.daemon.max_attempts),
            lease=timedelta(seconds=settings.daemon.claim_lease_seconds),
            catch_up_after=timedelta(minutes=reminders.catch_up_after_minutes),
            fallback=settings.default_recipient,
            office_fallbacks={key: o.default_recipient for key, o in offices.items()},
            windows={key: (o.calendar, o.policy.window) for key, o in offices.items()},
        ),
        mail=MailConfig(
            mail_from=settings.mail_from,
            language=reminders.language,
            commands=office_commands[DEFAULT_OFFICE],
            office_commands=office_commands,
            links=links.maker(settings.web.base_url, secret),
        ),
        connect=connect
        or smtp_connector(
            SmtpConfig(
                host=smtp.host,
                port=smtp.port,
                security=smtp.security,
                username=smtp.username,
                password=password,
                timeout_seconds=smtp.timeout_seconds,
                ca_file=smtp.ca_file,
            )
        ),
        default_recipient=default.default_recipient,
        settings=settings,
        monthly=monthly_audiences(settings, built),
    )


@dataclass(frozen=True, kw_only=True)
class SweepReport:
    refreshed: int
    enqueued: int
    errors: int
    digests: int
    delivery: DeliveryReport

    @property
    def found_work(self) -> bool:
        d = self.delivery
        return bool(self.refreshed or self.digests or d.sent or d.failed or d.retried)


async def sweep(svc: Services, now: datetime, stop: asyncio.Event | None = None) -> SweepReport:
    """One sweep at ``now`` (the caller reads the clock once and passes it)."""
    refreshed, enqueued, errors = await asyncio.to_thread(refresh, svc, now)
    made = await asyncio.to_thread(plan_digests, svc, now)
    made += await asyncio.to_thread(plan_reports, svc, now)
    delivery = await deliver(
        factory=svc.factory,
        mail=svc.mail,
        connect=svc.connect,
        policy=svc.delivery,
        now=now,
        stop=stop,
    )
    report = SweepReport(
        refreshed=refreshed, enqueued=enqueued, errors=errors, digests=made, delivery=delivery
    )
    await asyncio.to_thread(_record_sweep, svc, now, report)
    return report


def refresh(svc: Services, now: datetime) -> tuple[int, int, int]:
    """Refresh and plan obligations whose next look has come; (refreshed, enqueued, errors)."""
    totals = [0, 0, 0]
    for _ in range(MAX_REFRESH_BATCHES):
        counts = _refresh_batch(svc, now)
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        if counts[0] < REFRESH_BATCH:
            break
    return totals[0], totals[1], totals[2]


_COLUMNS = (
    Obligation.id,
    *DEADLINE_COLUMNS,  # rule, schedule, hours, warn_at, due_at: unpacked by _decide_row
    Obligation.met_at,
    Obligation.state,
    Obligation.next_action_at,
    Inquiry.id,
    Inquiry.ref,
    Inquiry.department,
    Inquiry.advisor,
    Inquiry.received_at,
    Inquiry.office,
)


def _refresh_batch(svc: Services, now: datetime) -> tuple[int, int, int]:
    """One transaction: read a batch, decide each row in pure code, write in bulk.

    The outbox rows and the obligations' new state and next check commit together. A row
    whose planning raises gets its next check pushed forward instead, and is logged.
    """
    errors = 0
    with transaction(svc.factory) as session:
        # Index range scan on obligations.next_action_at.
        query = (
            select(*_COLUMNS)
            .join(Inquiry, Obligation.inquiry_id == Inquiry.id)
            .where(Obligation.next_action_at <= now)
            .order_by(Obligation.next_action_at, Obligation.id)
        )
        query = query.limit(REFRESH_BATCH).with_for_update(skip_locked=True, of=Obligation)
        rows = session.execute(query).all()
        messages: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        for row in rows:
            try:
                state, next_check, planned = _decide_row(svc, row, now)
            except Exception:
                errors += 1
                # Push first, so a row that always raises cannot stall every sweep.
                changes.append({"id": row[0], "state": row[7], "next_action_at": now + ERROR_RETRY})
                log.exception("cannot plan reminders for obligation %s; retrying later", row[0])
                continue
            messages.extend(planned)
            if state != row[7] or next_check != row[8]:
                changes.append({"id": row[0], "state": state, "next_action_at": next_check})
        if changes:  # ORM bulk UPDATE by primary key: one executemany
            session.execute(update(Obligation), changes)
        enqueued = outbox.enqueue_many(session, messages)
    return len(rows), enqueued, errors


def _decide_row(
    svc: Services, row: Any, now: datetime
) -> tuple[str, datetime | None, list[dict[str, Any]]]:
    """Pure: the obligation's state at ``now``, its next check and the outbox rows to add."""
    (oid, rule, schedule, hours, warn_at, due_at, met_at, _, _) = row[:9]
    inquiry_id, ref, department, advisor, received_at, office_key = row[9:]
    office = svc.offices.get(office_key) or svc.offices[DEFAULT_OFFICE]
    facts = ObligationFacts(
        obligation_id=oid,
        inquiry_id=inquiry_id,
        ref=ref,
        rule=rule,
        schedule=schedule,
        department=department,
        recipient=cover.owner(advisor, office.default_recipient),
        received_at=received_at,
        warn_at=warn_at,
        due_at=due_at,
        met_at=met_at,
    )
    deadline = Deadline(rule=rule, schedule=schedule, hours=hours, warn_at=warn_at, due_at=due_at)
    state, change = classify(deadline, met_at, now)
    # The office's calendar and sending window, and its department's escalation address.
    decision = decide(facts, office.calendar, office.policy_of(department), now, change)
    planned = [
        {
            "key": reminder.key,
            "kind": str(reminder.kind),
            "recipient": reminder.recipient,
            # planned_at: when it was meant to go out, so a late one can join a catch-up.
            "payload": reminder.payload() | {"planned_at": reminder.send_at.isoformat()},
            "send_at": send_at,
            "inquiry_id": reminder.inquiry_id,
            "obligation_id": reminder.obligation_id,
            "created_at": now,
        }
        for reminder, send_at in decision.enqueue
    ]
    return str(state), decision.next_check_at, planned


def plan_digests(svc: Services, now: datetime) -> int:
    """Each office's digests of today (on its own calendar, digest time and window), once,
    after its digest time; none if its window has closed today. One transaction for every
    office: one read of their done marks and one query of their open obligations due by
    tonight, not one of each per office (bench/offices.py: 98 offices)."""
    due = [(o, day) for o in svc.offices.values() if (day := _digest_day(o, now)) is not None]
    if not due:
        return 0
    with transaction(svc.factory) as session:
        done = outbox.get_states(session, DIGEST_DONE)  # every office's, in one query
        due = [(o, day) for o, day in due if _done_day(done.get(_done_key(o))) != day]
        if not due:
            return 0
        sending: dict[str, tuple[date, datetime]] = {}
        for office, day in due:
            send_at = office.calendar.next_working_instant(now, office.policy.window)
            if send_at.astimezone(office.calendar.tz).date() == day:
                sending[office.key] = (day, send_at)
        # One office: every inquiry is its (no office filter).
        several = len(svc.offices) > 1
        rows = _due_by_tonight(session, svc, sending, several=several)
        made: dict[str, int] = {}
        for office, day in due:
            made[office.key] = 0
            if office.key not in sending:
                continue
            items = [
                DigestItem(
                    ref=ref, rule=rule, department=department, recipient=recipient, due_at=due_at
                )
                for rule, due_at, ref, department, advisor in rows.get(office.key, ())
                if due_at is not None
                and (recipient := cover.owner(advisor, office.default_recipient))
            ]
            for digest in digests(items, day, now):
                made[office.key] += outbox.enqueue(
                    session,
                    key=digest.key,
                    kind=Kind.DIGEST,
                    recipient=digest.recipient,
                    payload=digest.payload(),
                    send_at=sending[office.key][1],
                    created_at=now,
                )
        outbox.put_states(
            session,
            now,
            {_done_key(o): {"day": day.isoformat(), "digests": made[o.key]} for o, day in due},
        )
    return sum(made.values())


def _digest_day(office: OfficeServices, now: datetime) -> date | None:
    """The office's local (Europe/Copenhagen) date if its digest time has come today; None
    on a closed day, with digests off, or before the digest time."""
    today = now.astimezone(office.calendar.tz).date()
    at = digest_at(office.calendar, office.policy, today)
    return None if at is None or now < at else today


def _done_key(office: OfficeServices) -> str:
    return DIGEST_DONE if office.key == DEFAULT_OFFICE else f"{DIGEST_DONE}:{office.key}"


def _done_day(value: Mapping[str, Any] | None) -> date | None:
    """The day whose digests a done mark records."""
    day = (value or {}).get("day")
    return date.fromisoformat(day) if isinstance(day, str) else None


def _due_by_tonight(
    session: Session, svc: Services, sending: Mapping[str, tuple[date, datetime]], *, several: bool
) -> dict[str, list[Any]]:
    """Per office of ``sending``, its open obligations due before the end of its digest day
    as (rule, due_at, ref, department, advisor); one query per distinct end of day (one in
    practice: every office keeps Copenhagen time). ``several``: by the inquiry's office;
    otherwise every inquiry is the one office's."""
    ends: dict[datetime, list[str]] = {}
    for key, (day, _) in sending.items():
        tz = svc.offices[key].calendar.tz
        ends.setdefault(
            datetime.combine(day + timedelta(days=1), datetime.min.time(), tz), []
        ).append(key)
    found: dict[str, list[Any]] = {}
    for tomorrow, keys in ends.items():
        rows = session.execute(
            select(
                Inquiry.office,
                Obligation.rule,
                Obligation.due_at,
                Inquiry.ref,
                Inquiry.department,
                Inquiry.advisor,
            )
            .join(Inquiry, Obligation.inquiry_id == Inquiry.id)
            # Partial index (due_at) WHERE met_at IS NULL: open obligations due by tonight.
            .where(
                Obligation.met_at.is_(None),
                Obligation.due_at < tomorrow,
                Inquiry.office.in_(keys) if several else true(),
            )
        ).all()
        for office, *row in rows:
            found.setdefault(office if several else keys[0], []).append(row)
    return found


def monthly_audiences(
    settings: Settings, offices: Mapping[str, Office]
) -> tuple[MonthlyAudience, ...]:
    """The monthly reports with recipients: every office's (the top level's recipients, on
    the office ``default``'s calendar), then each office's own on its calendar."""
    every = MonthlyAudience(
        office=None,
        calendar=offices[DEFAULT_OFFICE].calendar,
        monthly_time=settings.reports.monthly_time,
        recipients=tuple(management_recipients(settings, None)),
    )
    own = (
        MonthlyAudience(
            office=key,
            calendar=office.calendar,
            monthly_time=office.settings.reports.monthly_time,
            recipients=tuple(management_recipients(settings, key)),
        )
        for key, office in offices.items()
    )
    return tuple(a for a in (every, *own) if a.recipients)


def plan_reports(svc: Services, now: datetime) -> int:
    """Queue the monthly management reports once per month and recipient
    (reports.monthly_mail): which are due is worked out in code, then one transaction reads
    whether their outbox rows exist (every sweep of the month after the first working day
    asks, for every office with recipients); only a report someone still lacks is built, in
    a transaction of its own.

    A failure here is logged and retried by the next sweep; it never holds up reminders.
    """
    if not svc.monthly:
        return 0
    from tracker.reports.monthly_mail import (
        enqueue_monthly_report,
        monthly_report_due,
        report_keys,
    )

    try:
        wanted: dict[str | None, set[str]] = {}
        for audience in svc.monthly:
            due = monthly_report_due(audience.calendar, audience.monthly_time, now)
            if due.due:
                keys = report_keys(due, audience.recipients, audience.office)
                wanted[audience.office] = set(keys.values())
        if not wanted:
            return 0
        with transaction(svc.factory) as session:
            queued = outbox.existing_keys(session, set().union(*wanted.values()))
    except Exception:
        log.exception("cannot plan the monthly reports; the next sweep tries again")
        return 0
    added = 0
    for office, due_keys in wanted.items():
        if due_keys <= queued:
            continue
        calendar = svc.calendar if office is None else svc.offices[office].calendar
        try:
            with transaction(svc.factory) as session:
                added += enqueue_monthly_report(session, svc.settings, calendar, now, office)
        except Exception:
            log.exception(
                "cannot build the monthly report%s; the next sweep tries again",
                "" if office is None else f" of office {office}",
            )
    return added


def _record_sweep(svc: Services, now: datetime, report: SweepReport) -> None:
    d = report.delivery
    with transaction(svc.factory) as session:
        outbox.put_state(
            session,
            LAST_SWEEP,
            now,
            {
                "refreshed": report.refreshed,
                "enqueued": report.enqueued,
                "errors": report.errors,
                "digests": report.digests,
                "sent": d.sent,
                "messages": d.messages,
                "retried": d.retried,
                "failed": d.failed,
                "cancelled": d.cancelled,
            },
        )
