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

from tracker.core import validate
from tracker.errors import BadInputError
from tracker.store import queries
from tracker.store.scope import Scope
from tracker.web.auth import Permission
from tracker.web.errors import status_of
from tracker.web.pages.common import chosen_office, office_choices, show
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
    scope: Scope | None = None,
) -> list[Row]:
    views = queries.list_inquiries(
        session,
        queries.ListState.OPEN,
        now,
        advisor,
        department=department,
        by_deadline=True,
        scope=user.scope if scope is None else scope,
    )
    rows = [row(v, state.office_of(v.office).rules) for v in islice(views, LIMIT)]
    session.rollback()  # the read is done: its connection goes back here, in this thread
    return rows


@router.get("/")
async def mine(request: Request) -> Response:
    # ``async`` and no dependencies: the login, the list and the page are done in ONE trip
    # to a worker thread (a sync dependency and a sync route are a hop each; bench/web.py).
    return await cast(WebState, request.app.state.web).build_list(_mine, request)


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
    offices = office_choices(state, user)  # an office column for a user of every office
    context = {
        "here": "mine",
        "rows": rows,
        "offices": offices,
        "limit": LIMIT,
        "back": "/",
        "done": done,
    }
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
    office: Annotated[str, Query(alias="kontor")] = "",
) -> Response:
    language = state.settings.web.language
    errors: dict[str, str] = {}
    status = 200
    try:
        scope = chosen_office(state, user, office)
    except BadInputError as exc:  # an unknown office (422), another than the user's (403)
        scope, status = user.scope, status_of(exc)  # the form offers every choice again
        errors["kontor"] = field_message(language, exc)
    # The departments of each office in reach (those the user may use), by office.
    groups = [
        (key, scope.within(o.settings.departments))
        for key, o in state.offices.items()
        if scope.allows_office(key)
    ]
    departments = list(dict.fromkeys(d for _, names in groups for d in names))
    rows: list[Row] = []
    if chosen and not errors:
        try:
            validate.department(chosen, departments)
        except BadInputError as exc:
            errors["afdeling"], status = field_message(language, exc), 422
        else:
            rows = _rows(session, state, now, user, department=chosen, scope=scope)
    query = {k: v for k, v in (("afdeling", chosen), ("kontor", office.strip())) if v}
    context = {
        "here": "department",
        "groups": [g for g in groups if g[1]],
        "offices": office_choices(state, user),
        "values": {"afdeling": chosen or "", "kontor": office.strip()},
        "chosen": chosen or "",
        "errors": errors,
        "rows": rows,
        "limit": LIMIT,
        "done": request.query_params.get("udfoert", ""),
        "back": f"/afdeling?{urlencode(query)}" if query else "/afdeling",
    }
    return show(request, "department.html", user, context, status_code=status)
