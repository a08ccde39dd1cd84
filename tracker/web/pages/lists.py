"""*Mine frister* (``/``) and a department's list for a lead (``/afdeling``): open inquiries,
earliest next deadline first, with their state in words and colour and the one-click
actions. Never a note.

A lead chooses the department (``?afdeling=``) from the configured ones, or under
``web.restrict_departments`` from their own (tracker.store.scope); the list is for leads
and admins only.
"""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from typing import Annotated, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tracker.core import validate
from tracker.errors import BadInputError
from tracker.store import queries
from tracker.web.auth import Permission
from tracker.web.pages.common import show
from tracker.web.pages.present import Row, row
from tracker.web.pages.sessions import Viewer, permitted_viewer, require_page
from tracker.web.pages.texts import field_message
from tracker.web.state import WebState, read_session, request_now, web_state

router = APIRouter(include_in_schema=False)
State = Annotated[WebState, Depends(web_state)]
Now = Annotated[datetime, Depends(request_now)]
# The session the login was read in (read_session): one connection per request.
ReadSession = Annotated[Session, Depends(read_session)]
LIMIT = 500
"""The most rows a list page shows (an advisor has tens open, a department hundreds)."""


def _rows(
    session: Session,
    state: WebState,
    now: datetime,
    user: Viewer,
    *,
    advisor: str | None = None,
    department: str | None = None,
) -> list[Row]:
    views = queries.list_inquiries(
        session,
        queries.ListState.OPEN,
        now,
        advisor,
        department=department,
        by_deadline=True,
        scope=user.scope,
    )
    rows = [row(v, state.rules) for v in islice(views, LIMIT)]
    session.rollback()  # the read is done: its connection goes back here, in this thread
    return rows


@router.get("/")
async def mine(request: Request) -> Response:
    # ``async`` and no dependencies: the login, the list and the page are done in ONE trip
    # to the thread pool (a sync dependency and a sync route are a hop each; bench/web.py).
    return await run_in_threadpool(_mine, request)


def _mine(request: Request) -> Response:
    state = cast(WebState, request.app.state.web)
    now = state.clock()
    # One read session: the login and the list in one connection and one read transaction.
    with state.reading() as session:
        user = permitted_viewer(request, state, Permission.LOOKUP, session)
        if not user.may(Permission.READ):  # a manager's work is the reports
            return RedirectResponse("/rapporter", status_code=303)
        rows = _rows(session, state, now, user, advisor=user.email)
    done = request.query_params.get("udfoert", "")
    context = {"here": "mine", "rows": rows, "limit": LIMIT, "back": "/", "done": done}
    return show(request, "mine.html", user, context)


@router.get("/afdeling")
def department_list(
    *,
    request: Request,
    state: State,
    now: Now,
    session: ReadSession,
    user: Annotated[Viewer, Depends(require_page(Permission.ASSIGN, reads=True))],
    chosen: Annotated[str | None, Query(alias="afdeling")] = None,
) -> Response:
    departments = user.scope.within(state.settings.departments)
    rows: list[Row] = []
    error = ""
    if chosen:
        try:
            validate.department(chosen, departments)
        except BadInputError as exc:
            error = field_message(state.settings.web.language, exc)
        else:
            rows = _rows(session, state, now, user, department=chosen)
    context = {
        "here": "department",
        "departments": departments,
        "chosen": chosen or "",
        "error": error,
        "rows": rows,
        "limit": LIMIT,
        "done": request.query_params.get("udfoert", ""),
        "back": f"/afdeling?{urlencode({'afdeling': chosen})}" if chosen else "/afdeling",
    }
    return show(request, "department.html", user, context, status_code=422 if error else 200)
