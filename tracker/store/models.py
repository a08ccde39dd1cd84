"""Persistence only: typed SQLAlchemy 2 models. No rules, rendering or sending here.

Every timestamp column is ``UTCDateTime``: aware datetimes in, stored as UTC, aware UTC out,
on SQLite (which has no time zones) and PostgreSQL alike. Free text lives in exactly one
column, ``Inquiry.note``; it is never copied anywhere else and ``purge`` erases it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    false,
    or_,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MAX_ID = 2**31 - 1
"""The largest id an ``Integer`` primary key holds on PostgreSQL (a 4-byte integer). An id
typed by a user beyond it (``absence remove``, a cursor) names no row: asked of the
database it fails ("integer out of range", on SQLite an overflow past 8 bytes), which
would report bad input as the database's failure."""


class UTCDateTime(TypeDecorator[datetime]):
    """Refuses naive datetimes, stores UTC, returns aware UTC.

    SQLite's DateTime(timezone=True) hands back a naive wall-clock value; storing naive UTC
    there keeps the stored strings in time order, so range scans on indexes stay correct.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """On SQLite, the stored text straight to an aware UTC datetime in one call per
        value, rather than the driver type's parser and then process_result_value (a list
        of 50 inquiries reads some 400 times: bench/web.py)."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            moment = parse(value)
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

        return process


# Named constraints so Alembic's batch mode can alter SQLite tables reliably.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


OFFICE_REPORT_COLUMNS = ["id", "department", "channel", "topic", "advisor", "closed_at"]
"""What one office's inquiry reports read besides office and received_at: the id (to join
the obligations), the GROUP BY keys (department, channel, topic, advisor) and closed_at (how
many are closed)."""


class Inquiry(Base):
    __tablename__ = "inquiries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    office: Mapped[str] = mapped_column(String(32), default="default", server_default="default")
    """The office whose calendar, rules and recipients the inquiry's deadlines follow
    (tracker.config.offices); never changed after creation."""
    department: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str | None] = mapped_column(String(200))
    advisor: Mapped[str | None] = mapped_column(String(320))
    callback_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime]
    replied_at: Mapped[datetime | None]
    called_back_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    """When the final answer went out (fulfils ``answer``; mail intake or ``svarfrist answer``)."""
    answer_promised: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """An acknowledgement promised an answer by a date: the inquiry carries ``answer``."""
    closed_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    """The only free text. Never logged, reported, mailed or audited; purged after retention."""
    purged_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    __table_args__ = (
        # reports: WHERE received_at BETWEEN :from AND :to GROUP BY department/channel/...
        Index(None, "received_at"),
        # purge: WHERE closed_at < :cutoff AND purged_at IS NULL; monthly reports: the
        # inquiries not closed at now (closed_at IS NULL OR > :now) per month of received_at,
        # read off this index alone (tracker.reports.queries)
        Index(None, "closed_at", "received_at"),
        # an advisor's open inquiries (the API's list, list --advisor): WHERE advisor = ?
        # AND closed_at IS NULL, exactly those rows; the prefix serves other --advisor lists
        Index(None, "advisor", "closed_at"),
        # one office's list of open inquiries (--office, a user of one office): WHERE office
        # = ? AND closed_at IS NULL; and its reports: WHERE office = ? AND received_at ...
        Index(None, "office", "closed_at"),
        # PostgreSQL: carrying the grouped columns, one office's report of a shared register
        # reads this index alone, as if the office had the register to itself; without them
        # each of its rows is a page of the heap shared with every other office (migration
        # 0013, bench/offices.py).
        Index(None, "office", "received_at", postgresql_include=OFFICE_REPORT_COLUMNS),
    )


class Pause(Base):
    __tablename__ = "pauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"))
    start: Mapped[datetime]
    end: Mapped[datetime | None]

    __table_args__ = (Index(None, "inquiry_id"),)


_NEXT_ACTION = text("next_action_at IS NOT NULL")
_UNMET = text("met_at IS NULL")
_MET = text("met_at IS NOT NULL")


class Obligation(Base):
    """One rule's deadline for one inquiry, as last computed by the SLA engine."""

    __tablename__ = "obligations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(64))
    schedule: Mapped[str] = mapped_column(String(64))
    hours: Mapped[float] = mapped_column(Float)
    warn_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    met_at: Mapped[datetime | None]
    response_minutes: Mapped[int | None] = mapped_column(Integer)
    """Working minutes from received to met on the schedule, pauses excluded (None while
    unmet): written with met_at (tracker.core.response), read by the reports' GROUP BY."""
    received_month: Mapped[int | None] = mapped_column(Integer)
    """The inquiry's local received month as yyyymm (received_at never changes): monthly
    reports group obligations by it without a join (tracker.core.response.local_month)."""
    department: Mapped[str | None] = mapped_column(String(200))
    """The inquiry's department (never changed after creation), so a department report
    counts obligations from the (department, outcome, received_month) index alone."""
    office: Mapped[str] = mapped_column(String(32), default="default", server_default="default")
    """The inquiry's office (never changed after creation), for the same reason."""
    outcome: Mapped[int | None] = mapped_column(Integer)
    """Met: ``4 * (response_minutes + 1) + late`` (tracker.core.response.outcome), None while
    unmet. The reports' GROUP BY key of a met obligation in one column."""
    state: Mapped[str] = mapped_column(String(16))
    next_action_at: Mapped[datetime | None]
    """When the daemon must next look at it: received_at after any write by the register
    (obligations.first_look), then the sweep's next state change or planned reminder."""

    __table_args__ = (
        UniqueConstraint("inquiry_id", "rule"),
        # sweep: WHERE next_action_at <= :now ORDER BY next_action_at (an index range scan).
        # Partial: a met obligation has no next action, so the index holds the open work only.
        Index(None, "next_action_at", sqlite_where=_NEXT_ACTION, postgresql_where=_NEXT_ACTION),
        # list --state overdue: WHERE met_at IS NULL AND due_at <= :now (derived at now, not
        # the cached state, so it is right even when no daemon runs); due soon; the digest.
        Index(None, "due_at", sqlite_where=_UNMET, postgresql_where=_UNMET),
        # monthly and department reports: GROUP BY received_month (department), outcome read
        # in index order, no sort and no table row (tracker.reports.obligations)
        Index(None, "received_month", "outcome", "due_at"),
        Index(None, "department", "outcome", "received_month", "due_at"),
        # PostgreSQL: with the department, one office's department report reads this index
        # alone (migration 0013; its rows are scattered among every other office's)
        Index(
            None,
            "office",
            "outcome",
            "received_month",
            "due_at",
            postgresql_include=["department"],
        ),
        # one office's report over a period that is not whole months: the office's
        # obligations with what the report reads (PostgreSQL INCLUDE), hash-joined to its
        # inquiries (tracker.reports.obligations._obligations; migration 0013)
        Index(
            None,
            "office",
            "inquiry_id",
            postgresql_include=["met_at", "due_at", "outcome", "response_minutes"],
        ),
        # reports: max(met_at), whether every met obligation was met by --now (one lookup)
        Index("ix_obligations_met_at", "met_at", sqlite_where=_MET, postgresql_where=_MET),
    )


LACKING = or_(
    and_(Obligation.met_at.is_not(None), Obligation.outcome.is_(None)),
    Obligation.received_month.is_(None),
    Obligation.department.is_(None),
)
"""An obligation missing a stored report value (written outside Svarfrist): the reports
count these few the slow way. Indexed as a partial index, so finding them costs nothing
when there are none."""
Index("ix_obligations_lacking", Obligation.id, sqlite_where=LACKING, postgresql_where=LACKING)


class RefCounter(Base):
    """The last generated ref number per scope (prefix + received year).

    Bumped with ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` inside the writing
    transaction, so concurrent writers on SQLite and PostgreSQL never get the same number.
    """

    __tablename__ = "ref_counters"

    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Event(Base):
    """Append-only audit trail: who did what when. Never free text (details are codes/times)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id", ondelete="SET NULL"))
    ref: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    """When it happened in the world, as the command said (``--at``, or its ``now``)."""
    recorded_at: Mapped[datetime]
    """The real clock when Svarfrist recorded it, read by the shell: never ``--now``, so a
    back-dated command cannot pass itself off as made back then (before schema 0005 it held
    the command's now; 0005 copied that into ``as_of``)."""
    as_of: Mapped[datetime]
    """The command's ``now`` (``--now`` or the clock): the time it behaved as if it were."""
    actor: Mapped[str] = mapped_column(String(320))
    """Who the command said did it (``--actor``, else the operating-system user)."""
    os_user: Mapped[str | None] = mapped_column(String(64))
    """The operating-system user that ran the command, whatever ``--actor`` said; NULL for
    events recorded before schema 0005 and by callers that have no such user."""
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index(None, "inquiry_id"), Index(None, "kind", "at"))


class OutboxMessage(Base):
    """One e-mail to send, exactly once per ``key`` (e.g. ``reminder:<obligation>:<kind>``)."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id", ondelete="SET NULL"))
    obligation_id: Mapped[int | None] = mapped_column(
        ForeignKey("obligations.id", ondelete="SET NULL")
    )
    recipient: Mapped[str] = mapped_column(String(320))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    """What rendering needs (ref, rule, deadline, department...): never free text."""
    state: Mapped[str] = mapped_column(String(16), default="pending")
    send_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(300))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]

    __table_args__ = (
        # sweep claim: WHERE state = 'pending' AND send_at <= :now ORDER BY send_at
        Index(None, "state", "send_at"),
        Index(None, "obligation_id"),
    )


class DaemonState(Base):
    """Key/value health facts the daemon writes and ``status`` reads (last sweep, ...)."""

    __tablename__ = "daemon_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime | None]
    value: Mapped[dict[str, Any] | None] = mapped_column(JSON)


_LIVE = text("revoked_at IS NULL")


class User(Base):
    """A local account of the web app (advisor, lead, manager, admin)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    """Lower case: the login name, and the advisor address of the user's inquiries."""
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    """argon2id, in the PHC string format argon2-cffi writes (salt and parameters inside)."""
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    departments: Mapped[str] = mapped_column(Text, server_default="[]")
    """A JSON array of department names the user works in (``web.restrict_departments``)."""
    office: Mapped[str] = mapped_column(String(32), default="*", server_default="*")
    """The office the user works in (``--office``); ``*``: every office (tracker.store.scope)."""


class ApiToken(Base):
    """A bearer token of the HTTP API. Only the SHA-256 of the token is kept: the token itself
    is shown once, at creation, and a stolen database cannot be used to call the API."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    """Also the actor of the audit events the token's requests cause."""
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """Hex SHA-256: every request looks its token up by this (the unique index)."""
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    departments: Mapped[str] = mapped_column(Text, server_default="[]")
    """A JSON array of department names the token may see (``web.restrict_departments``)."""
    office: Mapped[str] = mapped_column(String(32), default="*", server_default="*")
    """The office the token may see (``--office``); ``*``: every office."""

    __table_args__ = (
        # one live token per name (`token revoke NAME`); a revoked name may be used again
        Index(
            "ix_api_tokens_live_name",
            "name",
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        ),
    )


class LoginAttempt(Base):
    """A failed log-in, kept for throttling: the web app holds no state in memory, so several
    web processes count the same failures. ``key`` is the SHA-256 of the lower-cased e-mail
    address tried (never the address or the password); rows older than the throttling
    window are deleted as new ones are written."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]

    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)


class UsedLink(Base):
    """A one-click mail link that has acted: a link works once. ``link_id`` is the link's own
    random id (inside its signed token), never the token."""

    __tablename__ = "used_links"

    link_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime]


class IntakeProgress(Base):
    """How far mail intake has read one folder of one mailbox: the last UID seen under one
    UIDVALIDITY.

    Written in the same transaction as what the message caused, so a kill re-reads nothing
    twice; a new UIDVALIDITY (the server renumbered the folder) starts a new row."""

    __tablename__ = "intake_progress"

    mailbox: Mapped[str] = mapped_column(String(64), primary_key=True)
    """IntakeSettings.mailbox_key: every mailbox has an INBOX (migration 0016)."""
    folder: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class IntakeThread(Base):
    """A keyed hash (HMAC-SHA256, hex) of a Message-ID that belongs to an inquiry: the
    citizen's mails and our acknowledgement, for threading replies; and, on a closed
    inquiry's follow-up, of that inquiry's ref (tracker.intake.process._ref_digest), so its
    ref tag leads there too. Never the Message-ID."""

    __tablename__ = "intake_threads"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"))

    __table_args__ = (Index(None, "inquiry_id"),)


class IntakeSenderDay(Base):
    """Acknowledgements per sender (keyed hash of the address) and local day: the cap."""

    __tablename__ = "intake_sender_days"

    sender: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class IntakeMove(Base):
    """A processed message still to move out of the intake folder (done, ignored, error).

    Written with the message's outcome; deleted once moved. A message with an acknowledgement
    still to send waits (the acknowledgement reads the address from it by UID)."""

    __tablename__ = "intake_moves"

    mailbox: Mapped[str] = mapped_column(String(64), primary_key=True)
    folder: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    uid: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    target: Mapped[str] = mapped_column(String(16))
    """done, ignored or error: the configured folder is looked up when moving."""


class Team(Base):
    """Advisors who cover for each other (``svarfrist team add``)."""

    __tablename__ = "teams"
    # A name is unique within its office (every municipality may have its "Borgerservice").
    __table_args__ = (UniqueConstraint("office", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(320))
    office: Mapped[str] = mapped_column(String(32), default="default", server_default="default")
    """The office whose users and tokens see and manage it (tracker.store.scope)."""


class TeamMember(Base):
    """One advisor address (lower case) in one team; an advisor may be in several teams."""

    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    advisor: Mapped[str] = mapped_column(String(320), primary_key=True)

    __table_args__ = (Index(None, "advisor"),)


class Absence(Base):
    """An advisor away from ``first_day`` to ``last_day`` inclusive (local dates): their
    reminders and digests go to ``substitute``, else their teams (tracker.core.cover)."""

    __tablename__ = "absences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    advisor: Mapped[str] = mapped_column(String(320))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    substitute: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(320))
    office: Mapped[str] = mapped_column(String(32), default="default", server_default="default")
    """The office it was recorded in: its users and tokens see and remove it."""

    __table_args__ = (Index(None, "advisor", "last_day"),)
