"""``/fravaer``: absences (tracker.store.cover), as ``svarfrist absence add/list/remove``.

A lead or an admin adds and removes anyone's absence and sees them all; an advisor only
their own. Each change is a POST form with its CSRF token; success redirects (303) back to
the list, a refusal draws the form again with the message beside the field (422), nothing
written. Works without JavaScript.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from tracker.core import validate
from tracker.core.cover import local_day
from tracker.errors import BadInputError, about
from tracker.store import cover
from tracker.web.auth import Permission
from tracker.web.errors import status_of
from tracker.web.pages.common import office_choices, show, shown
from tracker.web.pages.failures import PageError
from tracker.web.pages.sessions import Viewer, posted_form, require_page
from tracker.web.pages.texts import field_message
from tracker.web.state import WebState, request_now, web_state

router = APIRouter(include_in_schema=False)
State = Annotated[WebState, Depends(web_state)]
Now = Annotated[datetime, Depends(request_now)]
Actor = Annotated[Viewer, Depends(require_page(Permission.ACT))]
Form = Annotated[dict[str, str], Depends(posted_form)]
FIELDS = {
    "advisor": "raadgiver",
    "from": "fra",
    "to": "til",
    "substitute": "stedfortraeder",
    "office": "kontor",
}
"""The store's field names -> the form's."""


def _everyone(user: Viewer) -> bool:
    return user.may(Permission.ASSIGN)


def _page(
    request: Request,
    state: WebState,
    now: datetime,
    user: Viewer,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: str = "",
    status: int = 422,
) -> Response:
    with state.reading() as session:
        found = cover.absences(
            session,
            since=local_day(now),
            advisor=None if _everyone(user) else user.email,
            scope=user.scope,
        )
    context: dict[str, Any] = {
        "here": "absence",
        "absences": found,
        "everyone": _everyone(user),
        # A user of every office chooses the absence's office (where there are several) and
        # sees each absence's; a user of one office records into theirs.
        "offices": office_choices(state, user),
        "values": dict.fromkeys(FIELDS.values(), "") | {"raadgiver": user.email} | (values or {}),
        "errors": errors or {},
        "done": done,
    }
    return show(request, "absence.html", user, context, status_code=status if errors else 200)


@router.get("/fravaer")
def absences(request: Request, state: State, now: Now, user: Actor, udfoert: str = "") -> Response:
    return _page(request, state, now, user, done=udfoert)


@router.post("/fravaer")
def add(*, request: Request, state: State, now: Now, user: Actor, form: Form) -> Response:
    advisor = form.get("raadgiver", "").strip() if _everyone(user) else user.email
    try:
        first = about("from")(validate.parse_date)(form.get("fra", ""), "fra")
        last = about("to")(validate.parse_date)(form.get("til", ""), "til")
        office = form.get("kontor", "").strip() or None
        ctx = state.office_context(user.email, now, user.scope, office)
        with state.writing() as session:
            cover.add_absence(
                session, ctx, advisor, first=first, last=last,
                substitute=form.get("stedfortraeder", "").strip() or None,
            )  # fmt: skip
    except BadInputError as exc:
        language = state.settings.web.language
        field = FIELDS.get(exc.field or "", "fra")
        values = {k: shown(v) for k, v in form.items() if k in FIELDS.values()}
        return _page(
            request, state, now, user, values=values,
            errors={field: field_message(language, exc)},
            status=status_of(exc),
        )  # fmt: skip
    return RedirectResponse("/fravaer?udfoert=absence_added", status_code=303)


@router.post("/fravaer/{absence_id}/slet")
def remove(*, state: State, now: Now, user: Actor, form: Form, absence_id: int) -> Response:
    ctx = state.context(user.email, now, user.scope)
    try:
        with state.writing() as session:
            of = None if _everyone(user) else user.email
            cover.remove_absence(session, ctx, absence_id, of=of)
    except BadInputError:
        raise PageError(404, "404", user=user) from None
    return RedirectResponse("/fravaer?udfoert=absence_removed", status_code=303)
