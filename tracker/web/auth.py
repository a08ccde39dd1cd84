"""Who is calling: bearer tokens for the HTTP API (and the password hashing of the web
app's local users), and which role may do what.

A token is 32 random bytes (256 bits), so a plain SHA-256 of it is a safe thing to store
and look up: there is nothing to guess. Passwords are chosen by people, so they get a slow,
salted hash (argon2id).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Header
from sqlalchemy.orm import Session

from tracker.store import access
from tracker.store.access import Role
from tracker.store.scope import EVERYTHING, Scope
from tracker.web.errors import HttpError
from tracker.web.state import WebState, read_session, request_now, web_state

TOKEN_PREFIX = "sf_"
TOKEN_BYTES = 32
# A token's last use is recorded at most this often (see access.touch_token).
TOUCH_EVERY = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 12


class Permission(StrEnum):
    READ = "read"
    """See inquiries (the list, one inquiry with its note)."""
    ACT = "act"
    """Register inquiries and act on them (reply, callback, pause, resume, close)."""
    REPORT = "report"
    """Statistics and compliance reports."""
    LOOKUP = "lookup"
    """Pure computations and the calendar: no inquiry data."""
    ASSIGN = "assign"
    """Give an inquiry to another advisor; see a whole department's list (the pages)."""


ROLES: dict[Permission, frozenset[Role]] = {
    Permission.READ: frozenset({Role.ADVISOR, Role.LEAD, Role.ADMIN}),
    Permission.ACT: frozenset({Role.ADVISOR, Role.LEAD, Role.ADMIN}),
    Permission.REPORT: frozenset({Role.LEAD, Role.MANAGER, Role.ADMIN}),
    Permission.LOOKUP: frozenset(Role),
    Permission.ASSIGN: frozenset({Role.LEAD, Role.ADMIN}),
}
"""Advisors and leads act on inquiries, leads also reassign; managers read reports; admins
do everything."""

REFUSED: dict[Permission, str] = {
    Permission.READ: "read inquiries",
    Permission.ACT: "register inquiries or act on them",
    Permission.REPORT: "read reports",
    Permission.LOOKUP: "look up deadlines and calendars",
    Permission.ASSIGN: "reassign inquiries or manage absences and teams",
}
"""What a permission allows, in the words of a 403: what the caller was refused, not the
permission's name (``assign`` for an absence the caller tried to record)."""


@dataclass(frozen=True, kw_only=True)
class Caller:
    name: str
    """The token's name: the audit trail's actor for what the request changes."""
    role: Role
    scope: Scope = EVERYTHING
    """The departments the token may see and act in (tracker.store.scope)."""


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """``password`` as typed; bytes that were not UTF-8 (lone surrogates from the form's
    parser, tracker.web.pages.sessions.posted_form) are hashed as sent and never match."""
    try:
        return _HASHER.verify(password_hash, password.encode("utf-8", "surrogateescape"))
    except (VerificationError, InvalidHashError):
        return False


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="svarfrist"'}


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if not authorization:
        raise HttpError(401, "no bearer token (Authorization: Bearer ...)", headers=_CHALLENGE)
    if scheme.lower() != "bearer" or not token.strip():
        raise HttpError(401, "the Authorization header is not a bearer token", headers=_CHALLENGE)
    return token.strip()


def authenticate(
    state: WebState, authorization: str | None, now: datetime, session: Session | None = None
) -> Caller:
    """The live token's name and role; records its use (at most once per TOUCH_EVERY).

    ``session``: the request's read session (read_session) to look the token up in; without
    one, a session of its own."""
    digest = token_digest(_bearer(authorization))
    if session is not None:
        info = access.token_for(session, digest)
    else:
        with state.reading() as own:
            info = access.token_for(own, digest)
    if info is None:
        raise HttpError(401, "unknown or revoked token", headers=_CHALLENGE)
    if access.token_is_stale(info, now, TOUCH_EVERY):
        if session is not None:
            # Never two connections at once per request (a full pool would wait on itself):
            # the read transaction ends, its connection goes back, before the write takes one.
            session.rollback()
        with state.writing() as writer:
            access.touch_token(writer, digest, now, TOUCH_EVERY)
    return Caller(
        name=info.name, role=info.role, scope=state.scope(info.role, info.departments, info.office)
    )


def require(permission: Permission, *, reads: bool = False) -> Callable[..., Caller]:
    """A FastAPI dependency: the caller, if its token's role has ``permission`` (else 401/403).

    The token is read in the request's read session (read_session). ``reads``: the handler
    reads in that session too (it takes ``Depends(read_session)``), so its connection stays
    checked out for it; otherwise the read ends here and the connection goes back to the
    pool, so a handler that opens a session of its own (every write) never holds two."""

    def dependency(
        state: Annotated[WebState, Depends(web_state)],
        now: Annotated[datetime, Depends(request_now)],
        session: Annotated[Session, Depends(read_session)],
        authorization: Annotated[str | None, Header()] = None,
    ) -> Caller:
        try:
            return authorize(state, authorization, now, permission, session)
        finally:
            if not reads:
                session.rollback()

    return dependency


def authorize(
    state: WebState,
    authorization: str | None,
    now: datetime,
    permission: Permission,
    session: Session | None = None,
) -> Caller:
    """The caller (authenticate), if its token's role has ``permission``; else 401/403."""
    caller = authenticate(state, authorization, now, session)
    if caller.role not in ROLES[permission]:
        raise HttpError(
            403, f"the role {caller.role} may not {REFUSED[permission]} (token {caller.name})"
        )
    return caller
