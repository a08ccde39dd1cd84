"""``/api/v1/absences`` and ``/api/v1/teams``: who covers for an absent advisor, as
``svarfrist absence ...`` and ``svarfrist team ...`` (tracker.store.cover), for an office whose
absences live in its HR or calendar system and are pushed from there.

A token with a lead's or an admin's role manages anyone's absence and the teams (as the
``/fravaer`` page lets a lead); an advisor's token may not (a token is not a person, so it has
no absence of its own). Refusals are the command line's: 422 with the field, nothing written;
an unknown absence or team 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response

from tracker.core import validate
from tracker.core.cover import local_day
from tracker.errors import BadInputError, about
from tracker.store import cover
from tracker.store.shapes import absence_document, team_document
from tracker.web.api.bodies import OFFICE_OF_COVER, TEAM_NAME, AbsenceBody, TeamBody
from tracker.web.api.paths import PREFIX
from tracker.web.auth import Caller, Permission, require
from tracker.web.errors import HttpError
from tracker.web.state import WebState, request_now, web_state

router = APIRouter(prefix=PREFIX, tags=["cover"])
State = Annotated[WebState, Depends(web_state)]
Now = Annotated[datetime, Depends(request_now)]
Lead = Annotated[Caller, Depends(require(Permission.ASSIGN))]


def _found(exc: BadInputError) -> NoReturn:
    """An unknown absence or team is 404 (the ref's rule); any other refusal stays 422."""
    if exc.code == "unknown":
        raise HttpError(404, str(exc), code=exc.code) from None
    raise exc


@router.get("/absences", summary="absences ending today or later (absence list --json)")
def absences(
    state: State, now: Now, caller: Lead, advisor: str | None = None, every: bool = False
) -> list[dict[str, Any]]:
    """``every``: past absences too (``absence list --all``); the caller's offices' only."""
    who = about("advisor")(validate.address)(advisor, "advisor") if advisor else None
    since = None if every else local_day(now)
    with state.reading() as session:
        found = cover.absences(session, since=since, advisor=who, scope=caller.scope)
    return [absence_document(a) for a in found]


@router.post("/absences", status_code=201, summary="mark an advisor absent (absence add)")
def add_absence(body: AbsenceBody, state: State, now: Now, caller: Lead) -> JSONResponse:
    first = about("from")(validate.parse_date)(body.first, "from")
    last = about("to")(validate.parse_date)(body.last, "to")
    with state.writing() as session:
        info = cover.add_absence(
            session, state.office_context(caller.name, now, caller.scope, body.office),
            body.advisor, first=first, last=last, substitute=body.substitute,
        )  # fmt: skip
    location = f"{PREFIX}/absences/{info.id}"
    return JSONResponse(absence_document(info), status_code=201, headers={"Location": location})


@router.delete("/absences/{absence_id}", summary="remove an absence (absence remove)")
def remove_absence(absence_id: int, state: State, now: Now, caller: Lead) -> dict[str, Any]:
    try:
        with state.writing() as session:
            info = cover.remove_absence(
                session, state.context(caller.name, now, caller.scope), absence_id
            )
    except BadInputError as exc:
        _found(exc)
    return absence_document(info)


@router.get("/teams", summary="the teams and their members (team list --json)")
def teams(state: State, caller: Lead) -> list[dict[str, Any]]:
    with state.reading() as session:
        return [team_document(t) for t in cover.teams(session, caller.scope)]


@router.post("/teams", summary="create a team or add members to it (team add)")
def add_team(body: TeamBody, state: State, now: Now, caller: Lead) -> dict[str, Any]:
    with state.writing() as session:
        ctx = state.office_context(caller.name, now, caller.scope, body.office)
        info = cover.add_team(session, ctx, body.name, body.members)
    return team_document(info)


# ``:path``: a team name may hold a "/" (any printable character), sent as %2F or not.
@router.delete("/teams/{name:path}", summary="remove a team, or only some members (team remove)")
def remove_team(
    name: Annotated[str, Path(json_schema_extra=TEAM_NAME)],
    *,
    state: State,
    now: Now,
    caller: Lead,
    member: Annotated[list[str] | None, Query(description="only these members")] = None,
    office: Annotated[str | None, Query(description=OFFICE_OF_COVER)] = None,
) -> Response:
    ctx = state.office_context(caller.name, now, caller.scope, office)
    try:
        with state.writing() as session:
            cover.remove_team(session, ctx, name, member or ())
    except BadInputError as exc:
        _found(exc)
    return Response(status_code=204)
