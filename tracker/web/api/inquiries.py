"""``/api/v1/inquiries``: register, list, show, act. Each route parses, calls the register
and the queries the command line calls, in one transaction, and returns docs/contract.md's
shape; any refusal rolls the transaction back (tracker.web.errors maps it)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from tracker.config import departments_of, resolve_office
from tracker.core import validate
from tracker.errors import BadInputError, about
from tracker.store import history, pages, queries, register
from tracker.store.shapes import change_document, inquiry_document
from tracker.web.answers import json_response
from tracker.web.api.bodies import ActionBody, NewInquiryBody, UndoBody
from tracker.web.api.documents import InquiryDoc, InquiryPage, UndoneDoc
from tracker.web.api.paths import PREFIX
from tracker.web.auth import Caller, Permission, authorize, require
from tracker.web.state import WebState, request_now, web_state

router = APIRouter(prefix=f"{PREFIX}/inquiries", tags=["inquiries"])
State = Annotated[WebState, Depends(web_state)]
Now = Annotated[datetime, Depends(request_now)]


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


def _document(session: Session, view: queries.InquiryView) -> dict[str, Any]:
    """``show --json``'s shape of one inquiry: with its note, and the change ``undo`` would
    revert now (``last_change``, whose ``event`` an undo may be given)."""
    last = history.last_change(history.history(session, view.ref))
    return inquiry_document(view, full=True) | {"last_change": change_document(last)}


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
        office=about("office")(resolve_office)(
            state.settings, body.office or caller.scope.home_office
        ),
    )
    with state.writing() as session:
        ref = register.add(session, state.context(caller.name, now, caller.scope), new)
        document = _document(session, queries.show(session, ref, now, caller.scope))
    location = f"{PREFIX}/inquiries/{quote(ref, safe='/')}"
    return JSONResponse(document, status_code=201, headers={"Location": location})


@router.get(
    "",
    summary="inquiries by next deadline, a page at a time (never a note)",
    responses={200: {"model": InquiryPage, "description": "a page and the next cursor"}},
)
async def list_inquiries(
    *,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    list_state: Annotated[queries.ListState, Query(alias="state")] = queries.ListState.OPEN,
    advisor: str | None = None,
    department: str | None = None,
    office: Annotated[
        str | None, Query(description="only this office's (within the caller's offices)")
    ] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: str | None = None,
) -> Response:
    # ``async`` and no dependencies: the token, the list and the JSON are done in ONE trip to
    # a worker thread (a sync dependency and a sync route are a hop each; bench/web.py).
    state = cast(WebState, request.app.state.web)
    return await state.build_list(
        _list,
        state,
        authorization=authorization,
        list_state=list_state,
        advisor=advisor,
        department=department,
        office=office,
        limit=limit,
        cursor=cursor,
    )


def _list(
    state: WebState,
    *,
    authorization: str | None,
    list_state: queries.ListState,
    advisor: str | None,
    department: str | None,
    office: str | None,
    limit: int | None,
    cursor: str | None,
) -> Response:
    now = state.clock()
    web = state.settings.web
    # One read session: the token and the list in one connection and one read transaction.
    with state.reading() as session:
        caller = authorize(state, authorization, now, Permission.READ, session)
        if limit is not None and limit > web.max_page_size:
            error = BadInputError(f"limit: at most {web.max_page_size}")
            error.field = "limit"
            raise error
        key = (
            about("office")(resolve_office)(state.settings, office) if office is not None else None
        )
        found = pages.page(
            session,
            state=list_state,
            now=now,
            limit=limit or web.page_size,
            advisor=validate.advisor(advisor) if advisor else None,
            department=(
                # that office's departments, or without ?office= any office's
                validate.department(department, departments_of(state.offices, key))
                if department is not None
                else None
            ),
            after=pages.Cursor.decode(cursor) if cursor else None,
            # another office than the caller's: an empty list, not its inquiries
            scope=caller.scope if key is None else caller.scope.narrowed_to_office(key),
        )
    # JSON-native already (inquiry_document: strings, numbers, booleans): encoded as is,
    # FastAPI's jsonable_encoder would walk it again (bench/web.py).
    return json_response(
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
        return _document(session, queries.show(session, ref, now, caller.scope))


# Before ``/{ref}/{action}``, which would take ``undo`` for an action it does not know.
@router.post(
    "/{ref:path}/undo",
    summary="revert the inquiry's last change (svarfrist undo)",
    responses={200: {"model": UndoneDoc, "description": "the inquiry after the undo"}},
)
def undo(
    *,
    ref: str,
    state: State,
    now: Now,
    caller: Annotated[Caller, Depends(require(Permission.ACT))],
    body: Annotated[UndoBody | None, Body()] = None,
) -> dict[str, Any]:
    with state.writing() as session:
        ctx = state.context(caller.name, now, caller.scope)
        done = history.undo(session, ctx, ref, body.event if body else None)
        document = _document(session, queries.show(session, ref, now, caller.scope))
    # What was reverted, in last_change's shape: the change the caller saw, if it named one.
    return document | {"undone": change_document(done)}


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
        return _document(session, queries.show(session, ref, now, caller.scope))
