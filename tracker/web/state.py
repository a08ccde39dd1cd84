"""What every request needs, built once per process by the app factory: settings, the
calendar and rules they define, the database engine, and the clock. No state of the
application's own lives here: every fact is in the database, so several web processes and
daemons can share one PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, ParamSpec, TypeVar, cast

from anyio import CapacityLimiter, to_thread
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from tracker.config import (
    Office,
    Settings,
    build_calendar,
    build_offices,
    build_rules,
    resolve_office,
    stored_office,
)
from tracker.core.calendar import BusinessCalendar
from tracker.errors import about
from tracker.sla import Rule
from tracker.store.access import Role
from tracker.store.db import read_only, session_factory, transaction
from tracker.store.register import Context
from tracker.store.scope import EVERYTHING, Scope

P = ParamSpec("P")
T = TypeVar("T")


def system_clock() -> datetime:
    return datetime.now(UTC)


def clock_from(start: datetime) -> Callable[[], datetime]:
    """A clock that reads ``start`` now and runs on in real time from there (``svarfrist web
    --now``: the demo's week, or a register as it stood, served as if it were then)."""
    offset = start - system_clock()

    def clock() -> datetime:
        return system_clock() + offset

    return clock


@dataclass(frozen=True, kw_only=True)
class WebState:
    settings: Settings
    calendar: BusinessCalendar
    rules: dict[str, Rule]
    offices: dict[str, Office]
    engine: Engine
    clock: Callable[[], datetime]
    writer: sessionmaker[Session]
    reader: sessionmaker[Session]
    lists: CapacityLimiter
    """Bounds the lists built at once (``web.list_threads``; :meth:`build_list`)."""

    @classmethod
    def build(
        cls, settings: Settings, engine: Engine, clock: Callable[[], datetime] = system_clock
    ) -> WebState:
        return cls(
            settings=settings,
            calendar=build_calendar(settings),
            rules=build_rules(settings),
            offices=build_offices(settings),
            engine=engine,
            clock=clock,
            writer=session_factory(engine),
            reader=session_factory(read_only(engine)),
            lists=CapacityLimiter(settings.web.list_threads),
        )

    async def build_list(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``func`` (a whole list request: its login, its reads, its answer) in a worker
        thread, at most ``web.list_threads`` at once. Under load the thread pool's 40 threads
        would each wait for the interpreter lock at every database call and return; a few at
        a time (the rest wait here, on the event loop) answer more requests per second with
        a far shorter tail (bench/web.py)."""
        return await to_thread.run_sync(partial(func, *args, **kwargs), limiter=self.lists)

    def scope(self, role: Role, departments: Collection[str], office: str = "*") -> Scope:
        """What a caller with ``role`` tied to ``departments`` and ``office`` may see
        (tracker.store.scope)."""
        return Scope.of(
            restrict=self.settings.web.restrict_departments,
            role=role,
            departments=departments,
            office=office,
        )

    def lookup_office(self, key: str | None, scope: Scope) -> Office:
        """The office a caller means: ``key`` if given, else the caller's own, else
        ``default`` (a lookup of a deadline or closed days, which any office may ask for;
        the office a form registers into, admitted by the register). An unknown key is a
        BadInputError naming the known ones."""
        return self.offices[resolve_office(self.settings, (key or "").strip() or scope.home_office)]

    def admitted(self, scope: Scope, key: str | None, field: str) -> Scope:
        """``scope`` within the office a caller chose (``key``; blank or None: as it is):
        an unknown office is BadInputError about ``field`` (422), one outside the scope
        OutOfScopeError (403). The reports and the department list count what it reaches."""
        chosen = about(field)(resolve_office)(self.settings, key) if key else None
        return scope.admitted(chosen)

    def office_of(self, key: str) -> Office:
        """The office of a stored inquiry (its ``office`` column): its calendar and rules
        explain its deadlines. One no longer configured is read with ``default``'s."""
        return stored_office(self.offices, key)

    def context(self, actor: str, now: datetime, scope: Scope = EVERYTHING) -> Context:
        return Context(
            settings=self.settings,
            calendar=self.calendar,
            rules=self.rules,
            offices=self.offices,
            actor=actor,
            now=now,
            recorded_at=now,  # the API takes no --now: the request's clock is the real one
            scope=scope,
        )

    def office_context(self, actor: str, now: datetime, scope: Scope, key: str | None) -> Context:
        """The context of recording something into an office (a team, an absence): office
        ``key`` if given, else the caller's own, else ``default`` (:meth:`lookup_office`);
        the store refuses one outside the caller's offices."""
        office = about("office")(self.lookup_office)(key, scope)
        return self.context(actor, now, scope).office(office.key)

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back (writing nothing) on any error."""
        with transaction(self.writer) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session that only reads: on SQLite it never takes the write lock."""
        with self.reader() as session:
            yield session


# The dependencies below are ``async def`` because they never block: FastAPI runs a plain
# ``def`` dependency in its thread pool, one thread hop each (bench/web.py).
async def web_state(request: Request) -> WebState:
    """FastAPI dependency: the state the app factory built."""
    return cast(WebState, request.app.state.web)


async def request_now(state: Annotated[WebState, Depends(web_state)]) -> datetime:
    """FastAPI dependency: the clock, read once per request (FastAPI computes a dependency
    once per request, however many others depend on it)."""
    return state.clock()


async def read_session(state: Annotated[WebState, Depends(web_state)]) -> AsyncIterator[Session]:
    """FastAPI dependency: one read-only session for the whole request, shared by whoever
    asks for it (the caller's token or login, then the data): one connection checked out
    and one read transaction per request, not one each. Nothing outlives the request.

    Opening a session does not connect (that happens at its first query, in the thread the
    query runs in); closing it returns the connection, so it is done off the event loop."""
    session = state.reader()
    try:
        yield session
    finally:
        if session.in_transaction():  # still holds a connection: returning it may block
            await run_in_threadpool(session.close)
        else:  # ended by its user (auth.require, the lists): nothing left but Python objects
            session.close()
