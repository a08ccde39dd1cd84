"""Who is looking at a page: a signed session cookie, the CSRF token bound to it, the role.

The cookie holds a random session id and, once logged in, the user's address, signed with
``web.secret_key`` (itsdangerous) and valid SESSION_HOURS: nothing is kept in a process's
memory, so any web process sharing the database serves any request. The user's role and
departments are read from the database on every request, so a changed or removed user
counts at once.

Every POST form carries ``csrf``, an HMAC of the session id under the secret key: a page of
another site can neither read it nor compute it. A missing or wrong token is a 403, before
anything else of the form is looked at.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, cast
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from tracker.store import logins
from tracker.store.access import Role
from tracker.store.scope import EVERYTHING, Scope
from tracker.web.auth import ROLES, Permission
from tracker.web.pages.failures import LoginRequired, PageError
from tracker.web.state import WebState, read_session, web_state

COOKIE = "svarfrist_session"
SESSION_HOURS = 12
"""A working day: a session signed longer ago needs a new log-in."""
SESSION_SECONDS = SESSION_HOURS * 3600
_SALT = "svarfrist.session"
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True, kw_only=True)
class Visit:
    """One browser's session: its id, the logged-in address (or None), its CSRF token."""

    sid: str
    email: str | None
    csrf: str
    fresh: bool
    """The cookie is new (or replaced an invalid one): the response must set it."""


@dataclass(frozen=True, kw_only=True)
class Viewer:
    """The logged-in user of a page."""

    email: str
    role: Role
    csrf: str
    scope: Scope = EVERYTHING
    """The departments the user may see and act in (tracker.store.scope)."""

    def may(self, permission: Permission) -> bool:
        return self.role in ROLES[permission]


def secret(state: WebState) -> bytes:
    """The signing key; without one the pages refuse (503) and only the API serves."""
    key = state.settings.web.key()
    if key is None:
        raise PageError(503, "no_key")
    return key.get_secret_value().encode("utf-8")


def _serializer(key: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=_SALT)


def csrf_token(key: bytes, sid: str) -> str:
    return hmac.new(key, b"csrf\0" + sid.encode("ascii"), hashlib.sha256).hexdigest()


def new_visit(key: bytes, email: str | None = None) -> Visit:
    """A new session id (at log-in too: an id seen before logging in is never reused)."""
    sid = secrets.token_urlsafe(24)
    return Visit(sid=sid, email=email, csrf=csrf_token(key, sid), fresh=True)


def read_visit(request: Request) -> Visit:
    """The request's session, or a new anonymous one."""
    key = secret(cast(WebState, request.app.state.web))
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data: Any = _serializer(key).loads(raw, max_age=SESSION_SECONDS)
        except BadSignature:  # forged, altered or expired: start again
            data = None
        if isinstance(data, dict) and isinstance(data.get("s"), str):
            sid, email = data["s"], data.get("u")
            email = email if isinstance(email, str) else None
            return Visit(sid=sid, email=email, csrf=csrf_token(key, sid), fresh=False)
    return new_visit(key)


def set_cookie(response: Response, request: Request, visit: Visit) -> None:
    state = cast(WebState, request.app.state.web)
    value = _serializer(secret(state)).dumps({"s": visit.sid, "u": visit.email})
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        secure=not state.settings.web.insecure_http,
        samesite="lax",
    )


def forget_cookie(response: Response, request: Request) -> None:
    state = cast(WebState, request.app.state.web)
    response.delete_cookie(
        COOKIE,
        path="/",
        httponly=True,
        secure=not state.settings.web.insecure_http,
        samesite="lax",
    )


def viewer(request: Request, state: WebState, session: Session | None = None) -> Viewer:
    """The logged-in user, or LoginRequired (a redirect to /login, and back to this page
    after logging in; after a form, to the front page: a POST cannot be repeated by a link).

    ``session``: the request's read session (read_session) to read the role in; without
    one, a session of its own."""
    visit = read_visit(request)
    back = "/"
    if request.method == "GET":
        query = request.url.query
        back = request.url.path + (f"?{query}" if query else "")
    if visit.email is None:
        raise LoginRequired(back)
    if session is not None:
        standing = logins.standing_of(session, visit.email)
    else:
        with state.reading() as own:
            standing = logins.standing_of(own, visit.email)
    if standing is None:
        raise LoginRequired(back)
    return Viewer(
        email=visit.email,
        role=standing.role,
        csrf=visit.csrf,
        scope=state.scope(standing.role, standing.departments, standing.office),
    )


def require_page(permission: Permission, *, reads: bool = False) -> Callable[..., Viewer]:
    """A FastAPI dependency: the logged-in user if their role has ``permission`` (else 403).

    ``reads``: the handler reads in the request's read session, where the role was read (as
    auth.require's ``reads``); otherwise that read ends here and its connection goes back."""

    def dependency(
        request: Request,
        state: Annotated[WebState, Depends(web_state)],
        session: Annotated[Session, Depends(read_session)],
    ) -> Viewer:
        try:
            return permitted_viewer(request, state, permission, session)
        finally:
            if not reads:
                session.rollback()

    return dependency


def permitted_viewer(
    request: Request, state: WebState, permission: Permission, session: Session | None = None
) -> Viewer:
    """The logged-in user (viewer) if their role has ``permission``; else 403."""
    user = viewer(request, state, session)
    if not user.may(permission):
        raise PageError(403, "403", user=user)
    return user


async def posted_form(request: Request) -> dict[str, str]:
    """A POST's form fields (the last value of each name), after its CSRF token is checked.

    The body is parsed here rather than by Starlette, which turns bytes that are not UTF-8
    into replacement characters: they become lone surrogates instead, which the register's
    text check (validate.text) refuses beside the field, nothing written.
    """
    visit = read_visit(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise PageError(415, "415")
    body = await request.body()
    pairs = parse_qsl(
        body.decode("utf-8", "surrogateescape"),
        keep_blank_values=True,
        encoding="utf-8",
        errors="surrogateescape",
    )
    form = dict(pairs)
    sent = form.get("csrf", "")
    if visit.fresh or not hmac.compare_digest(
        sent.encode("utf-8", "surrogateescape"), visit.csrf.encode("ascii")
    ):
        raise PageError(403, "403_csrf")
    return form
