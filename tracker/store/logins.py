"""Logging in to the web app: the user's row, failed attempts for throttling, last log-in.

Failures are rows (``login_attempts``), not counters in a process's memory, so several web
processes sharing one database count the same failures. A row holds the SHA-256 of the
lower-cased address tried and the time: never the address or the password.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from tracker.store.access import Role, decode_departments
from tracker.store.models import LoginAttempt, User


@dataclass(frozen=True, kw_only=True)
class Account:
    email: str
    role: Role
    password_hash: str


def attempt_key(email: str) -> str:
    """What a failed attempt is counted under: the address tried, hashed."""
    return hashlib.sha256(email.strip().lower().encode("utf-8", "surrogateescape")).hexdigest()


def account(session: Session, email: str) -> Account | None:
    """The user with this address (any case), or None."""
    row = session.scalar(select(User).where(User.email == email.strip().lower()))
    if row is None:
        return None
    return Account(email=row.email, role=Role(row.role), password_hash=row.password_hash)


@dataclass(frozen=True, kw_only=True)
class Standing:
    """What a logged-in user may do: their role and the departments they are tied to."""

    role: Role
    departments: tuple[str, ...]


def standing_of(session: Session, email: str) -> Standing | None:
    """The user's role and departments now (a session names its user; a changed or removed
    user counts from their next request)."""
    row = session.execute(
        select(User.role, User.departments).where(User.email == email)
    ).one_or_none()
    if row is None:
        return None
    return Standing(role=Role(row.role), departments=decode_departments(row.departments))


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
