"""``/api/v1/due``, ``/api/v1/report``, ``/api/v1/calendar/{year}``: the command line's
``due --json``, ``report --format json`` and ``calendar --json``, from the same functions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from tracker.core import validate
from tracker.core.calendar import FIRST_YEAR, LAST_YEAR
from tracker.core.explain import explain as explain_deadline
from tracker.core.shapes import calendar_document, due_document
from tracker.errors import about
from tracker.reports.build import build_report
from tracker.reports.format import report_json
from tracker.reports.queries import GroupBy, checked_period
from tracker.sla import deadline, get_rule
from tracker.web.api.bodies import DATE
from tracker.web.api.paths import PREFIX
from tracker.web.auth import Caller, Permission, require
from tracker.web.state import WebState, request_now, web_state

router = APIRouter(prefix=PREFIX)
State = Annotated[WebState, Depends(web_state)]


OFFICE_HELP = "on this office's calendar and rules (default the caller's office, else default)"


@router.get("/due", tags=["computations"], summary="a deadline (svarfrist due --json)")
def due(
    state: State,
    caller: Annotated[Caller, Depends(require(Permission.LOOKUP))],
    *,
    rule: Annotated[str, Query(description="a configured rule: reply, callback, ...")],
    received: Annotated[str, Query(description="ISO 8601; without an offset Copenhagen")],
    explain: bool = False,
    office: Annotated[str | None, Query(description=OFFICE_HELP)] = None,
) -> dict[str, Any]:
    where = about("office")(state.lookup_office)(office, caller.scope)
    chosen = about("rule")(get_rule)(where.rules, rule)
    at = about("received")(validate.parse_time)(received, "received")
    times = about("received")(deadline)(where.calendar, chosen, at)
    why = explain_deadline(where.calendar, at, chosen.hours, chosen.schedule) if explain else None
    return due_document(chosen, at, times, why)


@router.get("/report", tags=["reports"], summary="compliance report (report --format json)")
def report(
    *,
    state: State,
    now: Annotated[datetime, Depends(request_now)],
    caller: Annotated[Caller, Depends(require(Permission.REPORT))],
    first: Annotated[
        str | None, Query(alias="from", description="first local date", json_schema_extra=DATE)
    ] = None,
    last: Annotated[
        str | None, Query(alias="to", description="last local date, incl.", json_schema_extra=DATE)
    ] = None,
    by: GroupBy = GroupBy.DEPARTMENT,
    office: Annotated[
        str | None,
        Query(description="only this office's figures (a caller of one office: its own only)"),
    ] = None,
) -> dict[str, Any]:
    # A caller of one office counts that office's rows only (another office is 403), one
    # held to departments those departments' only.
    scope = state.admitted(caller.scope, office, "office")
    period = checked_period(
        about("from")(validate.parse_date)(first, "from") if first else None,
        about("to")(validate.parse_date)(last, "to") if last else None,
        ("from", "to"),
    ).within(scope)
    with state.reading() as session:
        built = build_report(session, by=by, period=period, now=now)
    return report_json(built)


@router.get("/calendar/{year}", tags=["computations"], summary="the closed days of a year")
def calendar(
    year: Annotated[int, Path(json_schema_extra={"minimum": FIRST_YEAR, "maximum": LAST_YEAR})],
    state: State,
    caller: Annotated[Caller, Depends(require(Permission.LOOKUP))],
    office: Annotated[str | None, Query(description=OFFICE_HELP)] = None,
) -> list[dict[str, Any]]:
    where = about("office")(state.lookup_office)(office, caller.scope)
    days = where.calendar.closed_days(about("year")(validate.calendar_year)(year, "year"))
    return calendar_document(days, state.settings.reminders.language)
