"""Shared helpers of the page tests: users per role, logging in over real HTTP, forms.

The server is the real uvicorn of tests/web_server.py with a secret key and
``web.insecure_http`` (plain http:// on the loopback, so that httpx and Chromium send the
cookie back); the test that checks the cookie's Secure flag starts one without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
from register_support import NOW, engine_for, session_on
from web_server import Web, web_app

from tracker.store import access
from tracker.web.auth import hash_password

PASSWORD = "korrekt hest batteri"
SECRET = "test-secret-key-of-enough-length-0123456789"
USERS = {
    "advisor": "anna@fredericia.dk",
    "lead": "lene@fredericia.dk",
    "manager": "mads@fredericia.dk",
    "admin": "admin@fredericia.dk",
}
# One hash for every user: argon2 is slow on purpose, and these tests make many users.
_HASH = hash_password(PASSWORD)
NEW_INQUIRY = {
    "channel": "email",
    "department": "Diverse",
    "topic": "",
    "advisor": USERS["advisor"],
    "received_at": "2026-11-26T10:00",
    "note": "",
}
"""The registration form filled in: an e-mail received 10:00 on the test's day (NOW)."""
CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def add_users(database_url: str, users: dict[str, str] = USERS) -> None:
    with engine_for(database_url, init=False) as engine, session_on(engine) as session:
        for role, email in users.items():
            access.add_user(session, email=email, role_name=role, password_hash=_HASH, now=NOW)


def add_office_user(database_url: str, email: str, office: str, role: str = "advisor") -> None:
    """A user of ``role`` tied to ``office`` (``*``: every office), password PASSWORD."""
    with engine_for(database_url, init=False) as engine, session_on(engine) as session:
        access.add_user(
            session, email=email, role_name=role, password_hash=_HASH, now=NOW, office=office
        )


@contextmanager
def as_user(web: Web, email: str) -> Iterator[httpx.Client]:
    """A browser with ``email`` logged in by password (PASSWORD)."""
    with browser(web) as client:
        page = client.get("/login")
        form = {"csrf": csrf_of(page.text), "email": email, "password": PASSWORD, "next": "/"}
        assert client.post("/login", data=form).status_code == 303
        yield client


@contextmanager
def page_app(database_url: str, clock: Any = lambda: NOW, **overrides: Any) -> Iterator[Web]:
    """The app served with a secret key over plain http, with a user per role."""
    settings: dict[str, Any] = {"web": {"secret_key": SECRET, "insecure_http": True}}
    settings.update(overrides)
    with web_app(database_url, clock=clock, **settings) as web:
        add_users(database_url)
        yield web


def browser(web: Web) -> httpx.Client:
    """A client like a browser: no token, its own cookie jar, redirects not followed."""
    return httpx.Client(base_url=web.url, timeout=60)


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def log_in(client: httpx.Client, role: str = "advisor", password: str = PASSWORD) -> httpx.Response:
    page = client.get("/login")
    assert page.status_code == 200, page.text
    return client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "email": USERS[role], "password": password, "next": "/"},
    )


@contextmanager
def logged_in(web: Web, role: str = "advisor") -> Iterator[httpx.Client]:
    """A browser-like client with ``role``'s user logged in."""
    with browser(web) as client:
        answer = log_in(client, role)
        assert answer.status_code == 303, answer.text
        yield client


def post_form(client: httpx.Client, page: str, path: str, data: dict[str, str]) -> httpx.Response:
    """POST ``data`` to ``path`` with the CSRF token of ``page`` (as a browser would)."""
    token = csrf_of(client.get(page).text)
    return client.post(path, data={"csrf": token, **data})


def local_now_field(moment: datetime = NOW) -> str:
    from tracker.web.pages.present import local_input

    return local_input(moment)
