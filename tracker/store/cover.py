"""Teams and absences as stored rows, and the one place that routes an outbox row to whoever
covers for an absent advisor (``route``, called by the delivery step when it claims rows).

The rule itself is pure (``tracker.core.cover``); this module reads the absences and teams it
needs and writes the audit events of changes (``events`` rows without an inquiry).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tracker.core import cover as rule
from tracker.core import validate
from tracker.core.reminders import Kind
from tracker.errors import BadInputError, about
from tracker.store import outbox
from tracker.store.context import Context
from tracker.store.models import MAX_ID, Absence, OutboxMessage, Team, TeamMember
from tracker.store.register import record
from tracker.store.scope import EVERYTHING, Scope

# The longest absence one row may hold (a year's leave and some): a typo like 2062 is refused.
MAX_ABSENCE_DAYS = 400
# How far ahead an absence may begin.
MAX_AHEAD_DAYS = 730
TEAM_NAME_MAX = 64
ROUTED_KINDS = frozenset({Kind.DUE_SOON, Kind.OVERDUE})
"""Reminders that follow the inquiry's current advisor and their cover (escalations do not)."""


@dataclass(frozen=True, kw_only=True)
class AbsenceInfo:
    id: int
    advisor: str
    first: date
    last: date
    substitute: str | None
    created_at: datetime
    actor: str
    office: str = "default"


@dataclass(frozen=True, kw_only=True)
class TeamInfo:
    name: str
    members: tuple[str, ...]
    created_at: datetime
    actor: str
    office: str = "default"


def _audit(session: Session, ctx: Context, kind: str, details: dict[str, Any]) -> None:
    """An admin action in the audit trail: an event without an inquiry, addresses only."""
    record(session, ctx, None, kind, ctx.now, details=details)


# -- teams -----------------------------------------------------------------------------------
def _office(ctx: Context) -> str:
    """The office a new team or absence is recorded in, and whose team a name means: the
    context's (``--office``; in the web app the one the caller names, else their own:
    WebState.office_context), refused (403, field ``office``) outside the caller's offices."""
    ctx.scope.admit_office(ctx.office_key)
    return ctx.office_key


@about("name")
def team_name(value: str) -> str:
    validate.text(value, "team")
    name = value.strip()
    if not name or len(name) > TEAM_NAME_MAX or any(not c.isprintable() for c in name):
        raise BadInputError(f"team name {value!r}: 1-{TEAM_NAME_MAX} printable characters")
    return name


def add_team(session: Session, ctx: Context, name: str, members: Iterable[str]) -> TeamInfo:
    """Create team ``name`` with ``members``, or add ``members`` to the existing team."""
    name = team_name(name)
    wanted = sorted({about("members")(validate.address)(m, "member") for m in members})
    if not wanted:
        raise _refused("members", "required", "a team needs at least one member")
    office = _office(ctx)
    team = session.scalar(select(Team).where(Team.office == office, Team.name == name))
    if team is None:
        team = Team(name=name, created_at=ctx.now, actor=ctx.actor, office=office)
        session.add(team)
        session.flush()
    have = set(session.scalars(select(TeamMember.advisor).where(TeamMember.team_id == team.id)))
    added = [m for m in wanted if m not in have]
    session.add_all(TeamMember(team_id=team.id, advisor=m) for m in added)
    _audit(session, ctx, "team_added", {"team": name, "members": added})
    return TeamInfo(
        name=name, members=tuple(sorted(have | set(added))), created_at=team.created_at,
        actor=team.actor, office=team.office,
    )  # fmt: skip


def remove_team(session: Session, ctx: Context, name: str, members: Collection[str] = ()) -> None:
    """Remove ``members`` from team ``name`` of the context's office (:func:`_office`), or
    (none given) the whole team."""
    name = team_name(name)
    office = _office(ctx)
    team = session.scalar(select(Team).where(Team.office == office, Team.name == name))
    if team is None:
        raise BadInputError(f"no team {name!r}").coded("unknown")
    if members:
        gone = sorted({about("member")(validate.address)(m, "member") for m in members})
        # Removing someone who is not a member is a mistake (a typo in the address), not a
        # success to report and audit.
        current = set(
            session.scalars(select(TeamMember.advisor).where(TeamMember.team_id == team.id))
        )
        strangers = [m for m in gone if m not in current]
        if strangers:
            raise BadInputError(f"team {name!r} has no member {', '.join(strangers)}").coded(
                "unknown"
            )
        session.execute(
            delete(TeamMember).where(TeamMember.team_id == team.id, TeamMember.advisor.in_(gone))
        )
        _audit(session, ctx, "team_members_removed", {"team": name, "members": gone})
        return
    session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
    session.delete(team)
    _audit(session, ctx, "team_removed", {"team": name})


def teams(session: Session, scope: Scope = EVERYTHING) -> list[TeamInfo]:
    """The teams of the offices ``scope`` reaches, by name, with their members."""
    members: dict[int, list[str]] = defaultdict(list)
    for team_id, advisor in session.execute(
        select(TeamMember.team_id, TeamMember.advisor).order_by(TeamMember.advisor)
    ):
        members[team_id].append(advisor)
    return [
        TeamInfo(
            name=t.name,
            members=tuple(members[t.id]),
            created_at=t.created_at,
            actor=t.actor,
            office=t.office,
        )
        for t in session.scalars(
            select(Team).where(scope.office_clause(Team.office)).order_by(Team.name)
        )
    ]


# -- absences --------------------------------------------------------------------------------
def check_absence(
    advisor: str, first: date, last: date, substitute: str | None, today: date
) -> tuple[str, str | None]:
    """The one check of a new absence (command line and web): the addresses lower-cased.

    Each refusal names its input (``field``: advisor, from, to, substitute) and a ``code``."""
    advisor = about("advisor")(validate.address)(advisor, "advisor")
    sub = about("substitute")(validate.address)(substitute, "substitute") if substitute else None
    if first > last:
        raise _refused(
            "to",
            "from_after_to",
            f"the absence's first day ({first}) is after its last day ({last})",
        )
    if last < today:
        raise _refused(
            "to", "past", f"the absence's last day ({last}) is in the past (today is {today})"
        )
    if first > today + timedelta(days=MAX_AHEAD_DAYS):
        raise _refused(
            "from",
            "too_far",
            f"the absence's first day ({first}) is more than {MAX_AHEAD_DAYS} days ahead",
        )
    if (last - first).days + 1 > MAX_ABSENCE_DAYS:
        raise _refused(
            "to",
            "absence_too_long",
            f"the absence from {first} to {last} is longer than {MAX_ABSENCE_DAYS} days",
        )
    if sub == advisor:
        raise _refused("substitute", "self", f"the substitute {sub} is the absent advisor")
    return advisor, sub


def _refused(field: str, code: str, message: str) -> BadInputError:
    error = BadInputError(message).coded(code)
    error.field = field
    return error


def add_absence(
    session: Session,
    ctx: Context,
    advisor: str,
    *,
    first: date,
    last: date,
    substitute: str | None = None,
) -> AbsenceInfo:
    advisor, substitute = check_absence(advisor, first, last, substitute, rule.local_day(ctx.now))
    row = Absence(
        advisor=advisor,
        first_day=first,
        last_day=last,
        substitute=substitute,
        created_at=ctx.now,
        actor=ctx.actor,
        office=_office(ctx),
    )
    session.add(row)
    session.flush()
    _audit(
        session,
        ctx,
        "absence_added",
        {"id": row.id, "advisor": advisor, "from": str(first), "to": str(last),
         "substitute": substitute},
    )  # fmt: skip
    return _info(row)


def remove_absence(
    session: Session, ctx: Context, absence_id: int, *, of: str | None = None
) -> AbsenceInfo:
    """Remove absence ``absence_id``; ``of``: only if it is this advisor's (the web's own)."""
    row = session.get(Absence, absence_id) if 0 < absence_id <= MAX_ID else None
    mine = row is not None and ctx.scope.allows_office(row.office)
    if row is None or not mine or (of is not None and row.advisor != of):
        raise BadInputError(f"no absence {absence_id}").coded("unknown")
    info = _info(row)
    session.delete(row)
    _audit(session, ctx, "absence_removed", {"id": absence_id, "advisor": info.advisor})
    return info


def absences(
    session: Session,
    *,
    since: date | None = None,
    advisor: str | None = None,
    scope: Scope = EVERYTHING,
) -> list[AbsenceInfo]:
    """Absences ending on or after ``since`` (all when None), by start, of the offices
    ``scope`` reaches."""
    query = select(Absence).order_by(Absence.first_day, Absence.advisor, Absence.id)
    query = query.where(scope.office_clause(Absence.office))
    if since is not None:
        query = query.where(Absence.last_day >= since)
    if advisor is not None:
        query = query.where(Absence.advisor == advisor)
    return [_info(a) for a in session.scalars(query)]


def _info(row: Absence) -> AbsenceInfo:
    return AbsenceInfo(
        id=row.id,
        advisor=row.advisor,
        first=row.first_day,
        last=row.last_day,
        substitute=row.substitute,
        created_at=row.created_at,
        actor=row.actor,
        office=row.office,
    )


# -- routing ---------------------------------------------------------------------------------
def covering(
    session: Session,
    advisors: Collection[str],
    day: date,
    fallback: str | None,
    office: str | None = None,
) -> dict[str, rule.Cover]:
    """advisor -> their cover on ``day`` for inquiries of ``office``, for the absent ones
    among ``advisors``. An absence is the person's, whichever office recorded it (someone on
    holiday is away from every desk); the teams that cover are ``office``'s, and so is the
    substitute (an advisor working for two offices has each office's colleagues cover its
    inquiries), every office's for None (a row whose inquiry is gone)."""
    if not advisors:
        return {}
    found = _absences(session, Absence.advisor.in_(sorted(advisors)), day)
    absent = {a.advisor for a in found if a.covers(day)}
    if not absent:
        return {}
    team_ids = select(TeamMember.team_id).where(TeamMember.advisor.in_(sorted(absent)))
    if office is not None:
        team_ids = team_ids.join(Team, Team.id == TeamMember.team_id).where(Team.office == office)
    team_rows = session.execute(
        select(TeamMember.team_id, TeamMember.advisor).where(TeamMember.team_id.in_(team_ids))
    ).all()
    members: dict[str, list[str]] = defaultdict(list)
    for team_id, member in team_rows:
        members[str(team_id)].append(member)
    others = {m for _, m in team_rows} | {a.substitute for a in found if a.substitute}
    others -= {a.advisor for a in found}
    if others:
        found += _absences(session, Absence.advisor.in_(sorted(others)), day)
    covers = {
        a: rule.cover(a, day, found, members, fallback, office=office) for a in sorted(absent)
    }
    return {a: c for a, c in covers.items() if c is not None}


def _absences(session: Session, which: Any, day: date) -> list[rule.Absence]:
    rows = session.execute(
        select(
            Absence.advisor, Absence.first_day, Absence.last_day, Absence.substitute, Absence.office
        ).where(
            which, Absence.last_day >= day, Absence.first_day <= day + timedelta(MAX_ABSENCE_DAYS)
        )
    )
    return [
        rule.Absence(advisor=a, first=f, last=t, substitute=s, office=o) for a, f, t, s, o in rows
    ]


@dataclass(frozen=True, kw_only=True)
class Routed:
    """Where one claimed row goes now, and (when covering) whose inquiry it is."""

    recipient: str
    cover: Mapping[str, str] | None = None
    copies: tuple[str, ...] = ()
    """The keys of the copies queued for the other members of a team that covers: the
    caller claims them with this row, so each member's copy joins the rest of their mail of
    the round (their own digest: one message)."""


def route(
    session: Session,
    rows: Sequence[Any],
    advisors: Mapping[str, str | None],
    *,
    now: datetime,
    office_of: Callable[[str], str | None],
    fallback: Callable[[str | None], str | None],
) -> dict[int, Routed]:
    """row id -> its recipient at ``now``: THE choice of who receives a reminder or digest.

    ``due_soon``/``overdue`` follow the inquiry's current owner (``advisors``: ref ->
    advisor, so a reassigned inquiry's planned reminders go to its new advisor; one without
    an advisor is its office's default recipient's, ``core.cover.owner``, not whoever a
    failed attempt was addressed to), digests their planned recipient; then an absent
    recipient's cover (``tracker.core.cover``) takes it.
    ``office_of``: the office of a ref (a reminder's, a digest's first item's: a digest is
    one office's); its teams cover (:func:`covering`), and ``fallback``, the default
    recipient of an office (None: of no known office), is the cover of last resort.
    A team cover has one recipient per member: the first takes the row, the others get a copy
    queued here (key ``cover:<row>:<address hash>``, in ``Routed.copies``: the caller claims
    them with the row), marked with the cover so it is not routed again. Escalations and
    reports go as planned.
    """
    routed: dict[int, Routed] = {}
    wanted: dict[int, str] = {}
    office: dict[int, str | None] = {}
    for row in rows:
        if "cover" in row.payload:  # a copy for a team member: routed when it was made
            routed[row.id] = Routed(recipient=row.recipient, cover=row.payload["cover"])
            continue
        if row.kind not in ROUTED_KINDS and row.kind != Kind.DIGEST:
            routed[row.id] = Routed(recipient=row.recipient)
            continue
        ref = _first_ref(row)
        office[row.id] = None if ref is None else office_of(ref)
        wanted[row.id] = row.recipient
        if row.kind in ROUTED_KINDS and ref is not None and ref in advisors:  # whose it is now
            wanted[row.id] = rule.owner(advisors[ref], fallback(office[row.id])) or row.recipient
    # One lookup per office among the rows (most often one).
    recipients: dict[str | None, set[str]] = defaultdict(set)
    for row_id, recipient in wanted.items():
        recipients[office[row_id]].add(recipient)
    day = rule.local_day(now)
    covers = {
        (key, advisor): found
        for key, advisors_of in recipients.items()
        for advisor, found in covering(session, advisors_of, day, fallback(key), key).items()
    }
    by_id = {row.id: row for row in rows}
    for row_id, recipient in wanted.items():
        found = covers.get((office[row_id], recipient))
        if found is None or found.because == rule.Because.NOBODY:  # nobody else: as planned
            routed[row_id] = Routed(recipient=recipient)
            continue
        copies = tuple(
            _copy(session, by_id[row_id], other, found, now) for other in found.recipients[1:]
        )
        routed[row_id] = Routed(recipient=found.recipients[0], cover=found.payload(), copies=copies)
    _readdress(
        session,
        {
            i: r.recipient
            for i, r in routed.items()
            if by_id[i].kind in ROUTED_KINDS and r.recipient != by_id[i].recipient
        },
    )
    return routed


def _first_ref(row: Any) -> str | None:
    """The ref a reminder is about, or a digest's first (a digest is one office's)."""
    if row.kind in ROUTED_KINDS:
        return str(row.payload.get("ref"))
    for section in ("due_today", "overdue"):
        for item in row.payload.get(section, []):
            return str(item["ref"])
    return None


def _readdress(session: Session, recipients: Mapping[int, str]) -> None:
    """A reminder's row records whom it goes to (``status``, ``show``: a failure names the
    address that refused it); a digest keeps its planned owner, whose cover is decided anew."""
    if recipients:
        session.execute(
            update(OutboxMessage),
            [{"id": i, "recipient": r} for i, r in recipients.items()],
        )


def _copy(session: Session, row: Any, recipient: str, found: rule.Cover, now: datetime) -> str:
    """Queue ``recipient``'s copy of ``row`` (once: the key is the row's and theirs); its key."""
    digest = hashlib.sha256(recipient.encode()).hexdigest()[:16]
    key = f"cover:{row.id}:{digest}"
    outbox.enqueue(
        session,
        key=key,
        kind=row.kind,
        recipient=recipient,
        payload=dict(row.payload) | {"cover": found.payload()},
        send_at=now,
        inquiry_id=row.inquiry_id,  # about the same inquiry: status --office, show REF
        obligation_id=row.obligation_id,
        created_at=now,
    )
    return key
