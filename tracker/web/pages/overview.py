"""``/rapporter`` (the compliance report for a period and grouping, as a table and as CSV;
a user of one office sees that office's figures only, one of every office may choose an
office, ``kontor``) and ``/kalender`` (a year's closed days): the same functions as
``svarfrist report`` and ``GET /api/v1/report``, ``svarfrist calendar`` and
``GET /api/v1/calendar/{year}``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tracker.core import validate
from tracker.core.calendar import COPENHAGEN
from tracker.core.shapes import calendar_document
from tracker.core.spreadsheet import EXCEL_ENCODING
from tracker.errors import BadInputError, about
from tracker.reports.build import Report, build_report
from tracker.reports.format import report_csv, report_header, report_rows_text
from tracker.reports.labels import labels_for
from tracker.reports.queries import GroupBy, checked_period
from tracker.web.auth import Permission
from tracker.web.errors import status_of
from tracker.web.pages.common import chosen_office, office_choices, show
from tracker.web.pages.sessions import Viewer, require_page
from tracker.web.pages.texts import field_message
from tracker.web.state import WebState, request_now, web_state

router = APIRouter(include_in_schema=False)
State = Annotated[WebState, Depends(web_state)]
Now = Annotated[datetime, Depends(request_now)]
Reporter = Annotated[Viewer, Depends(require_page(Permission.REPORT))]
First = Annotated[str, Query(alias="fra")]
Last = Annotated[str, Query(alias="til")]
By = Annotated[str, Query(alias="gruppering")]
OfficeKey = Annotated[str, Query(alias="kontor")]


def _report(
    state: WebState, now: datetime, user: Viewer, *, first: str, last: str, by: str, office: str
) -> tuple[Report | None, dict[str, str], int]:
    """The report for the form's values, or the message beside the field that is wrong and
    the status (422; 403 for an office not the user's: never its figures)."""
    language = state.settings.web.language
    try:
        group = about("gruppering")(GroupBy)(by or GroupBy.DEPARTMENT.value)
    except ValueError:
        unknown = BadInputError().coded("unknown")
        return None, {"gruppering": field_message(language, unknown)}, 422
    try:
        scope = chosen_office(state, user, office)
    except BadInputError as exc:  # an unknown office (422), another than the user's (403)
        return None, {"kontor": field_message(language, exc)}, status_of(exc)
    try:
        period = checked_period(
            about("fra")(validate.parse_date)(first, "fra") if first.strip() else None,
            about("til")(validate.parse_date)(last, "til") if last.strip() else None,
            ("fra", "til"),
        ).within(scope)
        with state.reading() as session:
            return build_report(session, by=group, period=period, now=now), {}, 200
    except BadInputError as exc:
        return None, {exc.field or "fra": field_message(language, exc)}, 422


@router.get("/rapporter")
def reports(
    *,
    request: Request,
    state: State,
    now: Now,
    user: Reporter,
    first: First = "",
    last: Last = "",
    by: By = "",
    office: OfficeKey = "",
) -> Response:
    language = state.settings.web.language
    labels = labels_for(language)
    report, errors, status = _report(state, now, user, first=first, last=last, by=by, office=office)
    values = {"fra": first, "til": last, "gruppering": by or GroupBy.DEPARTMENT.value}
    context: dict[str, Any] = {
        "here": "reports",
        "values": {**values, "kontor": office.strip()},
        "groups": [(g.value, labels[f"by_{g.value}"]) for g in GroupBy],
        "offices": office_choices(state, user),
        "errors": errors,
        "header": report_header(report, labels) if report else [],
        "rows": report_rows_text(report, labels, language) if report else [],
        "query": request.url.query,
    }
    return show(request, "reports.html", user, context, status_code=status)


@router.get("/rapporter.csv")
def reports_csv(
    *,
    request: Request,
    state: State,
    now: Now,
    user: Reporter,
    first: First = "",
    last: Last = "",
    by: By = "",
    office: OfficeKey = "",
) -> Response:
    report, _errors, _status = _report(
        state, now, user, first=first, last=last, by=by, office=office
    )
    if report is None:  # the form with the message beside the field
        return reports(
            request=request,
            state=state,
            now=now,
            user=user,
            first=first,
            last=last,
            by=by,
            office=office,
        )
    return Response(
        report_csv(report).encode(EXCEL_ENCODING),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="svarfrist-rapport.csv"'},
    )


@router.get("/kalender")
def calendar(
    request: Request,
    state: State,
    now: Now,
    user: Annotated[Viewer, Depends(require_page(Permission.LOOKUP))],
    *,
    year: Annotated[str, Query(alias="aar")] = "",
    office: OfficeKey = "",
) -> Response:
    language = state.settings.web.language
    this_year = now.astimezone(COPENHAGEN).year
    errors: dict[str, str] = {}
    days: list[dict[str, Any]] = []
    shown_office = office.strip() or user.scope.home_office or ""
    try:
        # Any office's closed days (they are public): the user's own unless they choose.
        where = about("kontor")(state.lookup_office)(office, user.scope)
        text = year.strip() or str(this_year)
        if not (text.isascii() and text.isdigit()):  # "²" is a digit int() cannot read
            raise BadInputError(f"aar: {year!r} is not a year").coded("unknown")
        chosen = validate.calendar_year(int(text), "aar")
        days = calendar_document(where.calendar.closed_days(chosen), language)
    except BadInputError as exc:
        errors[exc.field or "aar"] = field_message(language, exc)
    context = {
        "here": "calendar",
        "years": list(range(this_year - 1, this_year + 3)),
        "chosen": year.strip() or str(this_year),
        "offices": list(state.offices) if len(state.offices) > 1 else [],
        "kontor": shown_office,
        "errors": errors,
        "days": days,
    }
    return show(request, "calendar.html", user, context, status_code=422 if errors else 200)
