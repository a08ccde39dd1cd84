"""Who may use the web app and the HTTP API: local users and bearer tokens, as stored rows.

Secrets arrive here already hashed (tracker.web.auth hashes them): this module only keeps
and finds the rows. Names and addresses are checked with the register's validators.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Row, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.core import validate
from tracker.errors import BadInputError, ConflictError
from tracker.store.models import ApiToken, User

SSO_PASSWORD = "!sso"
"""The password hash of a user whose row single sign-on wrote (tracker.store.logins): no
argon2 hash, so no password matches it; the user logs in at the identity provider."""


class Role(StrEnum):
    ADVISOR = "advisor"
    LEAD = "lead"
    MANAGER = "manager"
    ADMIN = "admin"


def role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise BadInputError(
            f"unknown role {value!r} (one of {', '.join(r.value for r in Role)})"
        ) from None


@dataclass(frozen=True, kw_only=True)
class TokenInfo:
    """A token as listed and as authenticated: never the token or its hash."""

    name: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    departments: tuple[str, ...] = ()
    office: str = "*"
    """The office it may see; ``*``: every office (tracker.store.scope)."""


@dataclass(frozen=True, kw_only=True)
class UserInfo:
    email: str
    role: Role
    created_at: datetime
    last_login_at: datetime | None
    departments: tuple[str, ...] = ()
    office: str = "*"
    sso: bool = False
    """The row is single sign-on's: no local password."""


def encode_departments(departments: Iterable[str]) -> str:
    """The stored form of a user's or token's departments: a JSON array, sorted, no repeats."""
    return json.dumps(sorted(set(departments)), ensure_ascii=False)


def decode_departments(stored: str | None) -> tuple[str, ...]:
    value = json.loads(stored) if stored else []
    return tuple(str(d) for d in value) if isinstance(value, list) else ()


def _departments(departments: Collection[str], configured: Collection[str]) -> str:
    """Each named department checked with the register's own validator (``add``'s)."""
    return encode_departments(validate.department(d, configured) for d in departments)


_TOKEN_INFO = select(
    ApiToken.name,
    ApiToken.role,
    ApiToken.created_at,
    ApiToken.last_used_at,
    ApiToken.revoked_at,
    ApiToken.departments,  # the caller's scope (tracker.store.scope)
    ApiToken.office,
)
# A live token by its hash, built once (read on every API request).
_LIVE_TOKEN = _TOKEN_INFO.where(
    ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None)
)


def _token_info(
    row: ApiToken | Row[str, str, datetime, datetime | None, datetime | None, str, str],
) -> TokenInfo:
    return TokenInfo(
        name=row.name,
        role=Role(row.role),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        departments=decode_departments(row.departments),
        office=row.office,
    )


def add_token(
    session: Session,
    *,
    name: str,
    role_name: str,
    digest: str,
    now: datetime,
    departments: Collection[str] = (),
    configured: Collection[str] = (),
    office: str = "*",
) -> None:
    """A new live token ``name``; the name is the audit actor of its requests.
    ``departments`` (each one of ``configured``) bound what it sees under
    ``web.restrict_departments``."""
    validate.actor(name, "token name")  # the audit actor of its requests
    session.add(
        ApiToken(
            name=name,
            role=role(role_name),
            token_hash=digest,
            created_at=now,
            departments=_departments(departments, configured),
            office=office,
        )
    )
    try:
        session.flush()
    except IntegrityError:
        raise ConflictError(
            f"a token named {name!r} exists: revoke it first (`svarfrist token revoke {name}`)"
        ).coded("token_exists") from None


def revoke_token(session: Session, name: str, now: datetime) -> None:
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if not getattr(result, "rowcount", 0):
        raise BadInputError(f"no live token named {name!r} (`svarfrist token list`)")


def tokens(session: Session) -> list[TokenInfo]:
    """Every token, revoked ones too (for the record), oldest first."""
    rows = session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id))
    return [_token_info(r) for r in rows]


def token_for(session: Session, digest: str) -> TokenInfo | None:
    """The live token with this hash, if any (the unique index on token_hash)."""
    # The columns of TokenInfo, not the ORM entity: read on every API request.
    row = session.connection().execute(_LIVE_TOKEN, {"digest": digest}).first()
    return None if row is None else _token_info(row)


def touch_token(session: Session, digest: str, now: datetime, every: timedelta) -> None:
    """Record ``now`` as the token's last use, at most once per ``every``: a write per
    request would make every read on SQLite wait for the write lock."""
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.token_hash == digest,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - every),
        )
        .values(last_used_at=now)
    )


def token_is_stale(info: TokenInfo, now: datetime, every: timedelta) -> bool:
    return info.last_used_at is None or info.last_used_at < now - every


def add_user(
    session: Session,
    *,
    email: str,
    role_name: str,
    password_hash: str,
    now: datetime,
    departments: Collection[str] = (),
    configured: Collection[str] = (),
    office: str = "*",
) -> str:
    """A new local user; returns the address as stored (lower case). ``departments`` (each
    one of ``configured``) bound what they see under ``web.restrict_departments``."""
    address = (validate.advisor(email) or "").lower()
    if not address:
        raise BadInputError("a user needs an e-mail address")
    session.add(
        User(
            email=address,
            role=role(role_name),
            password_hash=password_hash,
            created_at=now,
            departments=_departments(departments, configured),
            office=office,
        )
    )
    try:
        session.flush()
    except IntegrityError:
        raise ConflictError(f"a user {address!r} exists").coded("user_exists") from None
    return address


def remove_user(session: Session, email: str) -> None:
    row = session.scalar(select(User).where(User.email == email.strip().lower()))
    if row is None:
        raise BadInputError(f"no user {email!r} (`svarfrist user list`)")
    session.delete(row)


def users(session: Session) -> list[UserInfo]:
    return [
        UserInfo(
            email=u.email,
            role=Role(u.role),
            created_at=u.created_at,
            last_login_at=u.last_login_at,
            departments=decode_departments(u.departments),
            office=u.office,
            sso=u.password_hash == SSO_PASSWORD,
        )
        for u in session.scalars(select(User).order_by(User.email))
    ]
