"""A real uvicorn server with the web app on a loopback port, for the web tests.

The server runs in a thread of the test process (so the tests can seed the database in
process and fix the app's clock), on a socket bound to port 0 before it starts: no race
for a free port. Tests talk to it over real HTTP with httpx.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import uvicorn
from register_support import NOW, dump, engine_for, session_on, settings_for
from sqlalchemy import func, select

from tracker.config import Settings
from tracker.store import access
from tracker.store.db import make_engine, session_factory
from tracker.store.models import Event, Obligation
from tracker.web.app import create_app
from tracker.web.auth import new_token, token_digest

# How long the server may take to come up (a bounded poll, not a sleep).
START_TIMEOUT_S = 30.0
ROLES = ("advisor", "lead", "manager", "admin")
# An e-mail inquiry received Wednesday 25 November 2026 10:00 local: reply due the 26th 10:00.
EMAIL = {
    "channel": "email",
    "department": "Diverse",
    "received_at": "2026-11-25T10:00",
    "advisor": "anna@fredericia.dk",
}


@dataclass(frozen=True)
class Web:
    url: str
    database_url: str
    settings: Settings
    tokens: dict[str, str]
    """A live token per role name (``advisor`` ... ``admin``)."""

    def client(self, role: str | None = "advisor", **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)


def bound_socket() -> socket.socket:
    """A socket on a free port of 127.0.0.1, for ``serving`` (its address known before)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def serving(app: Any, sock: socket.socket | None = None) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (on ``sock`` if given) until the block ends;
    yields the base URL."""
    sock = sock or bound_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            assert thread.is_alive(), "the server stopped while starting"
            assert time.monotonic() < deadline, "the server did not start"
            thread.join(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


@contextmanager
def web_app(
    database_url: str,
    clock: Callable[[], datetime] = lambda: NOW,
    sock: socket.socket | None = None,
    **overrides: Any,
) -> Iterator[Web]:
    """An initialised register at ``database_url`` with a token per role, served (on
    ``sock`` if given: a test that must know the address first, for ``web.base_url``)."""
    settings = settings_for(database_url, **overrides)
    tokens = {role: new_token() for role in ROLES}
    with engine_for(database_url) as engine:
        with session_on(engine) as session:
            for role, token in tokens.items():
                access.add_token(
                    session,
                    name=f"{role}-bot",
                    role_name=role,
                    digest=token_digest(token),
                    now=NOW,
                )
        app = create_app(settings, engine=engine, clock=clock)
        with serving(app, sock) as url:
            yield Web(url=url, database_url=database_url, settings=settings, tokens=tokens)


def add_office_token(database_url: str, name: str, role: str, office: str) -> str:
    """A new token ``name`` of ``role`` tied to ``office``; returns the token."""
    token = new_token()
    with engine_for(database_url, init=False) as engine, session_on(engine) as session:
        access.add_token(
            session,
            name=name,
            role_name=role,
            digest=token_digest(token),
            now=NOW,
            office=office,
        )
    return token


def register_rows(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the register's tables (the tokens' last-use times aside)."""
    return {k: v for k, v in dump(database_url).items() if k not in ("api_tokens", "users")}


def assert_replied_once(database_url: str) -> None:
    """Exactly one ``replied`` audit event and one obligation, met: what any number of
    concurrent "reply" requests must leave behind."""
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            replies = session.scalar(
                select(func.count()).select_from(Event).where(Event.kind == "replied")
            )
            met = session.scalars(select(Obligation.met_at)).all()
    finally:
        engine.dispose()
    assert replies == 1
    assert len(met) == 1 and met[0] is not None
