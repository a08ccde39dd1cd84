"""Which reminder e-mails an obligation gets, and when: pure planning next to ``sla.py``.

Rules (docs/contract.md, "E-mail"):

* ``due_soon`` at warn_at and ``overdue`` at due_at, each moved to the next instant inside the
  sending window (a schedule on the Danish calendar, default working days 07:00-18:00 local).
* A ``due_soon`` is never sent at or after the deadline. When the window does not open again
  before the deadline it is moved *earlier*, into the last window period before the deadline
  (keeping the rule's warning lead from that period's close, never before the inquiry was
  received); when no window period fits at all it is dropped.
* Nothing for an obligation that is met: a met obligation gets no further reminder of any kind.
* ``escalation`` (optional): to a configured lead address, N working hours (on the rule's own
  schedule) after a missed deadline, moved into the window.
* A daily ``digest`` per recipient at the digest time on working days: what is due today and
  what is overdue; no digest when there is nothing.
* After downtime, reminders that are long past their send time are consolidated: one message
  per recipient instead of a burst (``consolidate``).

Nothing here reads the clock: ``now`` is always a parameter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from tracker.core.calendar import COPENHAGEN, BusinessCalendar, day_pieces, from_us, to_us

# How far back a due_soon may be moved to find an earlier sending window (Easter is the
# longest run of closed days: Thursday to Monday).
MAX_LOOKBACK_DAYS = 14
# The last usable instant of a window period is this much before its (exclusive) end.
_WINDOW_END_MARGIN = timedelta(minutes=1)


class Kind(StrEnum):
    """The ``X-Svarfrist-Kind`` of a message."""

    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    ESCALATION = "escalation"
    DIGEST = "digest"
    REPORT = "report"


OBLIGATION_KINDS = frozenset({Kind.DUE_SOON, Kind.OVERDUE, Kind.ESCALATION})


@dataclass(frozen=True, kw_only=True)
class ReminderPolicy:
    """The configured sending window and escalation (``[reminders]`` in the config)."""

    window: str
    escalation_after_hours: float | None = None
    escalation_to: str | None = None
    digest_time: time | None = time(7, 30)
    digest_schedule: str = "working_days"
    """Which days get a digest: those on which this schedule has working time."""


@dataclass(frozen=True, kw_only=True)
class ObligationFacts:
    """One open or met obligation with what its reminders need, as plain values.

    Only identifiers and configured names: never the inquiry's note or other free text.
    """

    obligation_id: int
    inquiry_id: int
    ref: str
    rule: str
    schedule: str
    department: str
    recipient: str | None
    received_at: datetime
    warn_at: datetime | None
    due_at: datetime | None
    met_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class Reminder:
    """One planned message about one obligation; ``key`` makes it unique in the outbox."""

    kind: Kind
    obligation_id: int
    inquiry_id: int
    recipient: str
    send_at: datetime
    ref: str
    rule: str
    department: str
    due_at: datetime

    @property
    def key(self) -> str:
        return reminder_key(self.obligation_id, self.kind)

    def payload(self) -> dict[str, str]:
        """What rendering needs: identifiers, configured names and times (UTC ISO), no text."""
        return {
            "ref": self.ref,
            "rule": self.rule,
            "department": self.department,
            "due_at": self.due_at.isoformat(),
        }


def reminder_key(obligation_id: int, kind: Kind) -> str:
    return f"reminder:{obligation_id}:{kind}"


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What a sweep does for one obligation at ``now``.

    ``enqueue``: reminders to write now, each with the instant it may go out (inside the
    window). ``next_check_at``: when this obligation needs looking at again (None: only an
    event such as a reply can change anything).
    """

    enqueue: tuple[tuple[Reminder, datetime], ...]
    next_check_at: datetime | None


def plan(
    facts: ObligationFacts, calendar: BusinessCalendar, policy: ReminderPolicy
) -> tuple[Reminder, ...]:
    """Every reminder an unmet obligation gets, independent of ``now``; () once it is met."""
    if facts.met_at is not None or facts.due_at is None or facts.recipient is None:
        return ()
    due = facts.due_at

    def make(kind: Kind, at: datetime, recipient: str) -> Reminder:
        return Reminder(
            kind=kind,
            obligation_id=facts.obligation_id,
            inquiry_id=facts.inquiry_id,
            recipient=recipient,
            send_at=at,
            ref=facts.ref,
            rule=facts.rule,
            department=facts.department,
            due_at=due,
        )

    planned: list[Reminder] = []
    if facts.warn_at is not None and facts.warn_at < due:
        soon = due_soon_send_at(calendar, policy.window, facts.warn_at, due, facts.received_at)
        if soon is not None:
            planned.append(make(Kind.DUE_SOON, soon, facts.recipient))
    planned.append(
        make(Kind.OVERDUE, calendar.next_working_instant(due, policy.window), facts.recipient)
    )
    if policy.escalation_to and policy.escalation_after_hours is not None:
        late = calendar.due_at(due, policy.escalation_after_hours, facts.schedule)
        if late is not None:
            at = calendar.next_working_instant(late, policy.window)
            planned.append(make(Kind.ESCALATION, at, policy.escalation_to))
    return tuple(planned)


def due_soon_send_at(
    calendar: BusinessCalendar,
    window: str,
    warn_at: datetime,
    due_at: datetime,
    received_at: datetime,
) -> datetime | None:
    """When the ``due_soon`` goes out: strictly before ``due_at`` and inside the window.

    The next window instant at or after warn_at if that is before the deadline. Otherwise the
    last window period before the deadline, at the warning lead (due_at - warn_at) before the
    period's close but not before the period opens or the inquiry was received. None when no
    window period lies between receipt and deadline.
    """
    first = calendar.next_working_instant(warn_at, window)
    if first < due_at:
        return first
    schedule = calendar.schedule(window)
    due_us, received_us = to_us(due_at), to_us(received_at)
    lead_us = to_us(due_at) - to_us(warn_at)
    margin_us = to_us(due_at + _WINDOW_END_MARGIN) - due_us
    # Local dates, because the window is wall-clock time in Europe/Copenhagen.
    day = due_at.astimezone(calendar.tz).date()
    oldest = max(received_at.astimezone(calendar.tz).date(), day - timedelta(MAX_LOOKBACK_DAYS))
    while day >= oldest:
        pieces = day_pieces(day, calendar.day_intervals(day, schedule), calendar.tz)
        for start, end in reversed(pieces):
            last = min(end, due_us) - margin_us
            if last < max(start, received_us):
                continue
            return from_us(max(start, received_us, min(last, end - lead_us)), calendar.tz)
        day -= timedelta(days=1)
    return None


def decide(
    facts: ObligationFacts,
    calendar: BusinessCalendar,
    policy: ReminderPolicy,
    now: datetime,
    state_change_at: datetime | None,
) -> Decision:
    """Which reminders become due at ``now`` and when to look at this obligation again.

    A reminder whose planned time has come is written now, to go out at the first window
    instant from now (a sweep that ran late must not mail at night). A ``due_soon`` that could
    then only go out at or after the deadline is dropped. ``state_change_at`` is the SLA
    engine's next state change, folded into the next check.
    """
    enqueue: list[tuple[Reminder, datetime]] = []
    later: list[datetime] = [] if state_change_at is None else [state_change_at]
    for reminder in plan(facts, calendar, policy):
        if reminder.send_at > now:
            later.append(reminder.send_at)
            continue
        at = calendar.next_working_instant(now, policy.window)
        if reminder.kind is Kind.DUE_SOON and at >= reminder.due_at:
            continue
        enqueue.append((reminder, at))
    return Decision(enqueue=tuple(enqueue), next_check_at=min(later) if later else None)


# -- the daily digest -----------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class DigestItem:
    ref: str
    rule: str
    department: str
    recipient: str
    due_at: datetime


@dataclass(frozen=True, kw_only=True)
class Digest:
    recipient: str
    day: date
    due_today: tuple[DigestItem, ...]
    overdue: tuple[DigestItem, ...]

    @property
    def key(self) -> str:
        return f"digest:{self.day.isoformat()}:{self.recipient}"

    def payload(self) -> dict[str, object]:
        def item(i: DigestItem) -> dict[str, str]:
            return {
                "ref": i.ref,
                "rule": i.rule,
                "department": i.department,
                "due_at": i.due_at.isoformat(),
            }

        return {
            "day": self.day.isoformat(),
            "due_today": [item(i) for i in self.due_today],
            "overdue": [item(i) for i in self.overdue],
        }


def digest_at(calendar: BusinessCalendar, policy: ReminderPolicy, day: date) -> datetime | None:
    """The instant of ``day``'s digest, or None on a closed day or when digests are off."""
    if policy.digest_time is None:
        return None
    if not calendar.day_intervals(day, calendar.schedule(policy.digest_schedule)):
        return None
    # The digest time is local wall-clock time; fold=0 picks the first of a repeated hour.
    return datetime.combine(day, policy.digest_time, tzinfo=calendar.tz)


def digests(items: Iterable[DigestItem], day: date, now: datetime) -> tuple[Digest, ...]:
    """One digest per recipient with anything due on ``day`` (local) or overdue at ``now``.

    Recipients with nothing get none. Items are sorted by deadline.
    """
    by_recipient: dict[str, tuple[list[DigestItem], list[DigestItem]]] = defaultdict(
        lambda: ([], [])
    )
    for item in items:
        today, overdue = by_recipient[item.recipient]
        if item.due_at <= now:
            overdue.append(item)
        elif item.due_at.astimezone(COPENHAGEN).date() == day:  # "today" is a local date
            today.append(item)
    result = []
    for recipient in sorted(by_recipient):
        today, overdue = by_recipient[recipient]
        if not today and not overdue:
            continue
        result.append(
            Digest(
                recipient=recipient,
                day=day,
                due_today=tuple(sorted(today, key=_by_deadline)),
                overdue=tuple(sorted(overdue, key=_by_deadline)),
            )
        )
    return tuple(result)


def _by_deadline(item: DigestItem) -> tuple[datetime, str]:
    return item.due_at, item.ref


# -- catch-up after downtime ----------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Pending:
    """A claimed outbox row as the consolidation sees it."""

    row_id: int
    kind: Kind
    recipient: str
    send_at: datetime


@dataclass(frozen=True, kw_only=True)
class Batch:
    """Rows that go out as one message: one row normally, several in a catch-up."""

    recipient: str
    row_ids: tuple[int, ...]

    @property
    def consolidated(self) -> bool:
        return len(self.row_ids) > 1


def consolidate(
    rows: Sequence[Pending], now: datetime, catch_up_after: timedelta
) -> tuple[Batch, ...]:
    """Group rows into messages: after downtime one catch-up message per recipient.

    A reminder is *stale* when its send time is more than ``catch_up_after`` before ``now``.
    Two or more stale reminders for one recipient become one message; everything else (fresh
    reminders, digests, reports) goes out one message per row, in the order given.
    """
    stale: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.kind in OBLIGATION_KINDS and row.send_at < now - catch_up_after:
            stale[row.recipient].append(row.row_id)
    merged = {r: ids for r, ids in stale.items() if len(ids) > 1}
    batches: list[Batch] = []
    done: set[str] = set()
    for row in rows:
        ids = merged.get(row.recipient)
        if ids is not None and row.row_id in ids:
            if row.recipient not in done:
                batches.append(Batch(recipient=row.recipient, row_ids=tuple(ids)))
                done.add(row.recipient)
            continue
        batches.append(Batch(recipient=row.recipient, row_ids=(row.row_id,)))
    return tuple(batches)
