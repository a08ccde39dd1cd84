"""``/api/v1/inquiries``: register, list, show, act. Each route parses, calls the register
and the queries the command line calls, in one transaction, and returns docs/contract.md's
shape; any refusal rolls the transaction back (tracker.web.errors maps it)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from tracker.core import validate
from tracker.errors import BadInputError, about
from tracker.store import pages, queries, register
from tracker.store.shapes import inquiry_document
from tracker.web.api.bodies import ActionBody, NewInquiryBody
from tracker.web.api.documents import InquiryDoc, InquiryPage
from tracker.web.api.paths import PREFIX
from tracker.web.auth import Caller, Permission, require
from tracker.web.state import WebState, read_session, request_now, web_state

router = APIRouter(prefix=f"{PREFIX}/inquiries", tags=["inquiries"])
State = Annotated[WebState, Depends(web_state)]
Now = Annotated[datetime, Depends(request_now)]
ReadSession = Annotated[Session, Depends(read_session)]


class Action(StrEnum):
    REPLY = "reply"
    CALLBACK = "callback"
    ANSWER = "answer"
    PAUSE = "pause"
    RESUME = "resume"
    CLOSE = "close"


def _time(text: str | None, field: str, default: datetime) -> datetime:
    if text is None:
        return default
    parsed: datetime = about(field)(validate.parse_time)(text, field)
    return parsed


@router.post(
    "",
    status_code=201,
    summary="register an inquiry (svarfrist add)",
    responses={201: {"model": InquiryDoc, "description": "the inquiry as registered"}},
)
def add(
    body: NewInquiryBody,
    state: State,
    now: Now,
    caller: Annotated[Caller, Depends(require(Permission.ACT))],
) -> JSONResponse:
    new = register.NewInquiry(
        channel=body.channel,
        department=body.department,
        received_at=_time(body.received_at, "received_at", now),
        topic=body.topic,
        advisor=body.advisor,
        callback_requested=body.callback_requested,
        ref=body.ref,
        note=body.note,
    )
    with state.writing() as session:
        ref = register.add(session, state.context(caller.name, now, caller.scope), new)
        view = queries.show(session, ref, now, caller.scope)
    location = f"{PREFIX}/inquiries/{quote(ref, safe='/')}"
    return JSONResponse(
        inquiry_document(view, full=True), status_code=201, headers={"Location": location}
    )


@router.get(
    "",
    summary="inquiries by next deadline, a page at a time (never a note)",
    responses={200: {"model": InquiryPage, "description": "a page and the next cursor"}},
)
def list_inquiries(
    *,
    state: State,
    now: Now,
    session: ReadSession,
    caller: Annotated[Caller, Depends(require(Permission.READ, reads=True))],
    list_state: Annotated[queries.ListState, Query(alias="state")] = queries.ListState.OPEN,
    advisor: str | None = None,
    department: str | None = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: str | None = None,
) -> JSONResponse:
    web = state.settings.web
    if limit is not None and limit > web.max_page_size:
        error = BadInputError(f"limit: at most {web.max_page_size}")
        error.field = "limit"
        raise error
    # The session the token was read in (read_session): one connection for the request.
    found = pages.page(
        session,
        state=list_state,
        now=now,
        limit=limit or web.page_size,
        advisor=validate.advisor(advisor) if advisor else None,
        department=(
            validate.department(department, state.settings.departments)
            if department is not None
            else None
        ),
        after=pages.Cursor.decode(cursor) if cursor else None,
        scope=caller.scope,
    )
    session.rollback()  # the read is done: its connection goes back here, in this thread
    # JSON-native already (inquiry_document: strings, numbers, booleans): returned as is,
    # FastAPI's jsonable_encoder would walk it again, ~45 % of the request (bench/web.py).
    return JSONResponse(
        {
            "items": [inquiry_document(v) for v in found.views],
            "next": found.next.encode() if found.next else None,
        }
    )


@router.get(
    "/{ref:path}",
    summary="one inquiry with its obligations (svarfrist show --json)",
    responses={200: {"model": InquiryDoc, "description": "the inquiry with its note"}},
)
def show(
    ref: str,
    state: State,
    now: Now,
    caller: Annotated[Caller, Depends(require(Permission.READ))],
) -> dict[str, Any]:
    with state.reading() as session:
        view = queries.show(session, ref, now, caller.scope)
    return inquiry_document(view, full=True)


@router.post(
    "/{ref:path}/{action}",
    summary="reply, callback, answer, pause, resume or close",
    responses={200: {"model": InquiryDoc, "description": "the inquiry after the action"}},
)
def act(
    *,
    ref: str,
    action: Action,
    state: State,
    now: Now,
    caller: Annotated[Caller, Depends(require(Permission.ACT))],
    body: Annotated[ActionBody | None, Body()] = None,
) -> dict[str, Any]:
    at = _time(body.at if body else None, "at", now)
    with state.writing() as session:
        # Times the register refuses (before receipt, before a pause) concern ``at``.
        ctx = state.context(caller.name, now, caller.scope)
        about("at")(register.ACTIONS[action])(session, ctx, ref, at)
        view = queries.show(session, ref, now, caller.scope)
    return inquiry_document(view, full=True)
