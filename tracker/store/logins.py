"""Logging in to the web app: the user's row, failed attempts for throttling, last log-in,
and the row of a user who logs in by single sign-on (``sso_logged_in``).

Failures are rows (``login_attempts``), not counters in a process's memory, so several web
processes sharing one database count the same failures. A row holds the SHA-256 of the
lower-cased address tried and the time: never the address or the password.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from tracker.core import validate
from tracker.errors import BadInputError
from tracker.store.access import SSO_PASSWORD, Role, decode_departments, encode_departments
from tracker.store.models import LoginAttempt, User


class MappedGroup(Protocol):
    """A provider group's entry in ``[web.oidc.groups]`` (tracker.config.OidcGroupSettings)."""

    @property
    def role(self) -> str: ...
    @property
    def departments(self) -> Sequence[str]: ...
    @property
    def office(self) -> str: ...


@dataclass(frozen=True, kw_only=True)
class Account:
    email: str
    role: Role
    password_hash: str


def attempt_key(email: str) -> str:
    """What a failed attempt is counted under: the address tried, hashed."""
    return hashlib.sha256(email.strip().lower().encode("utf-8", "surrogateescape")).hexdigest()


def account(session: Session, email: str) -> Account | None:
    """The user with this address (any case), or None: None for text no address is (a NUL,
    bytes that are not UTF-8), which no database driver could even look up."""
    try:
        validate.text(email, "email")
    except BadInputError:
        return None
    row = session.scalar(select(User).where(User.email == email.strip().lower()))
    if row is None:
        return None
    return Account(email=row.email, role=Role(row.role), password_hash=row.password_hash)


def is_sso(account: Account) -> bool:
    """The account logs in by single sign-on only: it has no local password."""
    return account.password_hash == SSO_PASSWORD


@dataclass(frozen=True, kw_only=True)
class Standing:
    """What a logged-in user may do: their role and the departments they are tied to."""

    role: Role
    departments: tuple[str, ...]
    office: str = "*"
    """The office they work in; ``*``: every office."""


# A user's standing by address, built once (read on every page of a logged-in user).
_STANDING = select(User.role, User.departments, User.office).where(User.email == bindparam("email"))


def standing_of(session: Session, email: str) -> Standing | None:
    """The user's role and departments now (a session names its user; a changed or removed
    user counts from their next request)."""
    row = session.connection().execute(_STANDING, {"email": email}).one_or_none()
    if row is None:
        return None
    return Standing(
        role=Role(row.role), departments=decode_departments(row.departments), office=row.office
    )


def failures(session: Session, email: str, since: datetime) -> int:
    """Failed attempts on this address since ``since`` (index login_attempts(key, at))."""
    count = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.key == attempt_key(email), LoginAttempt.at >= since)
    )
    return int(count or 0)


def record_failure(session: Session, email: str, now: datetime, window: timedelta) -> None:
    """A failed attempt at ``now``; attempts older than ``window`` no longer count and go."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - window))
    session.add(LoginAttempt(key=attempt_key(email), at=now))


def logged_in(session: Session, email: str, now: datetime) -> None:
    """A successful log-in: the user's last_login_at, and their failures forgotten."""
    session.execute(update(User).where(User.email == email).values(last_login_at=now))
    session.execute(delete(LoginAttempt).where(LoginAttempt.key == attempt_key(email)))


class OfficesDisagree(Exception):
    """The provider's groups tie the user to two different offices; a user works in one."""

    def __init__(self, offices: Sequence[str]) -> None:
        super().__init__(", ".join(offices))
        self.offices = tuple(offices)


def sso_standing(groups: Iterable[str], mapping: Mapping[str, MappedGroup]) -> Standing | None:
    """What the provider's ``groups`` give: the highest role among the mapped groups (advisor <
    lead < manager < admin), every department of the mapped groups, and their office (``*``,
    every office, if any of them gives every office); None if none is mapped. Raises
    OfficesDisagree if they name two different offices."""
    mapped = [mapping[group] for group in dict.fromkeys(groups) if group in mapping]
    if not mapped:
        return None
    rank = list(Role)
    role = max((Role(m.role) for m in mapped), key=rank.index)
    departments = sorted({d for m in mapped for d in m.departments})
    offices = sorted({m.office for m in mapped})
    if len(offices) > 1 and "*" not in offices:
        raise OfficesDisagree(offices)
    office = offices[0] if len(offices) == 1 else "*"
    return Standing(role=role, departments=tuple(departments), office=office)


def sso_logged_in(session: Session, email: str, standing: Standing, now: datetime) -> bool:
    """A log-in by single sign-on: the user's row created or brought up to date (role,
    departments and office as the provider's groups say, no local password), failures
    forgotten.
    Returns whether the row is new."""
    address = email.strip().lower()
    values = {
        "role": standing.role.value,
        "departments": encode_departments(standing.departments),
        "office": standing.office,
        "password_hash": SSO_PASSWORD,
        "last_login_at": now,
    }
    row = session.scalar(select(User).where(User.email == address))
    if row is None:
        session.add(User(email=address, created_at=now, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.execute(delete(LoginAttempt).where(LoginAttempt.key == attempt_key(address)))
    return row is None
