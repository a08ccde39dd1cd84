"""``/login`` and ``/logout``: local accounts, argon2 passwords, throttled failures; with
``[web.oidc]`` the page also offers the provider's button (tracker.web.pages.oidc), and
``local_login = false`` leaves only that.

A failure says only "wrong e-mail or password", whichever was wrong, and takes as long
either way (an unknown address is checked against a dummy hash): the page tells nobody
which addresses have accounts. After THROTTLE_FAILURES failures on one address within
THROTTLE_WINDOW, that address is refused (429) until the window has passed, whatever the
password; the count is in the database, shared by every web process.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from tracker.store import logins
from tracker.web.auth import hash_password, verify_password
from tracker.web.pages import render
from tracker.web.pages.common import PRIVATE, local_path, shown
from tracker.web.pages.sessions import (
    forget_cookie,
    new_visit,
    posted_form,
    read_visit,
    secret,
    set_cookie,
)
from tracker.web.state import WebState, request_now, web_state

router = APIRouter(include_in_schema=False)
State = Annotated[WebState, Depends(web_state)]
Now = Annotated[datetime, Depends(request_now)]
Form = Annotated[dict[str, str], Depends(posted_form)]

THROTTLE_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
# Checked when the address has no account, so that a miss costs what a wrong password does.
_DUMMY_HASH = hash_password("svarfrist: no such user")


def _form(
    state: WebState, csrf: str, *, email: str = "", next_path: str = "/", error: str = ""
) -> dict[str, object]:
    oidc = state.settings.web.oidc
    return {
        "csrf_login": csrf,
        "email": email,
        "next": next_path,
        "error": error,
        "oidc_label": oidc.button_label if oidc else None,
        "oidc_href": "/login/oidc?" + urlencode({"next": next_path}, safe="/"),
        "local_login": oidc is None or oidc.local_login,
    }


def local_login(state: WebState) -> bool:
    """Local passwords are accepted: no single sign-on, or it keeps them (``local_login``)."""
    oidc = state.settings.web.oidc
    return oidc is None or oidc.local_login


@router.get("/login")
def login_page(
    request: Request, state: State, next_path: Annotated[str, Query(alias="next")] = "/"
) -> Response:
    secret(state)  # no key: the page says so (503) rather than offer a form that cannot work
    visit = read_visit(request)
    context = _form(state, visit.csrf, next_path=local_path(next_path))
    response = render(request, "login.html", context, headers=PRIVATE)
    if visit.fresh:
        set_cookie(response, request, visit)
    return response


@router.post("/login")
def log_in(request: Request, state: State, now: Now, form: Form) -> Response:
    email = form.get("email", "").strip().lower()
    password = form.get("password", "")
    next_path = local_path(form.get("next"))
    csrf = read_visit(request).csrf

    def refused(status: int, error: str) -> Response:
        context = _form(state, csrf, email=shown(email), next_path=next_path, error=error)
        return render(request, "login.html", context, status_code=status, headers=PRIVATE)

    if not local_login(state):
        return refused(403, "login_local_off")
    with state.reading() as session:
        tried = logins.failures(session, email, now - THROTTLE_WINDOW)
        account = logins.account(session, email) if email else None
    if tried >= THROTTLE_FAILURES:
        return refused(429, "login_throttled")
    if account is not None and logins.is_sso(account):
        account = None  # no local password: a miss, that costs what a wrong password does
    valid = verify_password(account.password_hash if account else _DUMMY_HASH, password)
    if account is None or not valid:
        with state.writing() as session:
            logins.record_failure(session, email, now, THROTTLE_WINDOW)
        return refused(400, "login_failed")
    with state.writing() as session:
        logins.logged_in(session, account.email, now)
    response = RedirectResponse(next_path, status_code=303)
    set_cookie(response, request, new_visit(secret(state), account.email))
    return response


@router.post("/logout")
def log_out(request: Request, _form: Form) -> Response:
    response = RedirectResponse("/login", status_code=303)
    forget_cookie(response, request)
    return response
