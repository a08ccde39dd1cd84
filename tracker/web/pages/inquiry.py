"""*Registrér henvendelse* (``/henvendelser/ny``) and an inquiry's own page
(``/henvendelser/{ref}``): obligations with the reasons for their deadlines, pauses, the
note (here only), the audit history and the actions (tracker.web.pages.actions).

Registering calls ``register.add``, the function behind ``svarfrist add`` and the API's
POST: a refused field gets its message beside it, nothing written.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from tracker.core import validate
from tracker.core.calendar import Pause
from tracker.core.explain import explain
from tracker.errors import BadInputError, SvarfristError, UnknownRefError, about
from tracker.sla import Channel
from tracker.store import history, queries, register
from tracker.web.auth import Permission
from tracker.web.errors import status_of
from tracker.web.pages.common import office_choices, show, shown
from tracker.web.pages.failures import PageError
from tracker.web.pages.present import (
    STATE_CLASS,
    local,
    local_input,
    obligation_state,
    open_fulfilments,
)
from tracker.web.pages.sessions import Viewer, posted_form, require_page
from tracker.web.pages.texts import field_message
from tracker.web.state import WebState, request_now, web_state

router = APIRouter(include_in_schema=False)
State = Annotated[WebState, Depends(web_state)]
Now = Annotated[datetime, Depends(request_now)]
Actor = Annotated[Viewer, Depends(require_page(Permission.ACT))]
Reader = Annotated[Viewer, Depends(require_page(Permission.READ))]
Form = Annotated[dict[str, str], Depends(posted_form)]
FIELDS = (
    "office",
    "channel",
    "department",
    "topic",
    "advisor",
    "received_at",
    "callback_requested",
    "note",
)


def inquiry_path(ref: str) -> str:
    return f"/henvendelser/{quote(ref, safe='/')}"


def _new_form(
    request: Request,
    state: WebState,
    user: Viewer,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status: int = 422,
) -> Response:
    offices = office_choices(state, user)
    # Each office the user may register into, with its departments (those the user may
    # reach) and topics: grouped by office in the lists when there is a choice.
    groups = [
        (key, user.scope.within(office.settings.departments), office.settings.topics)
        for key, office in state.offices.items()
        if key in (offices or [state.lookup_office(None, user.scope).key])
    ]
    context = {
        "here": "new",
        "values": values,
        "errors": errors,
        "channels": [c.value for c in Channel],
        "offices": offices,
        "groups": groups,
    }
    return show(request, "new.html", user, context, status_code=status if errors else 200)


@router.get("/henvendelser/ny")
def new_page(request: Request, state: State, now: Now, user: Actor) -> Response:
    values = dict.fromkeys(FIELDS, "")
    values |= {
        "advisor": user.email,
        "received_at": local_input(now),
        "channel": "phone",
        "office": state.lookup_office(None, user.scope).key,
    }
    return _new_form(request, state, user, values, {})


def _new_inquiry(
    state: WebState, user: Viewer, form: dict[str, str], now: datetime
) -> register.NewInquiry:
    """The form as ``svarfrist add``'s options; a time, checkbox or office that cannot be read
    is a BadInputError about its field. The office is the one chosen where the form offers a
    choice, else the user's own."""
    received = form.get("received_at", "").strip()
    callback = form.get("callback_requested", "")
    chosen = form.get("office", "").strip() if office_choices(state, user) else ""
    return register.NewInquiry(
        channel=form.get("channel", ""),
        department=form.get("department", ""),
        received_at=(
            about("received_at")(validate.parse_time)(received, "received_at") if received else now
        ),
        topic=form.get("topic") or None,
        advisor=form.get("advisor") or None,
        callback_requested=(
            about("callback_requested")(validate.parse_bool)(callback, "callback_requested")
            if callback
            else False
        ),
        note=form.get("note") or None,
        office=about("office")(state.lookup_office)(chosen, user.scope).key,
    )


@router.post("/henvendelser/ny")
def register_inquiry(request: Request, state: State, now: Now, user: Actor, form: Form) -> Response:
    values = {name: shown(form.get(name, "")) for name in FIELDS}
    try:
        new = _new_inquiry(state, user, form, now)
        with state.writing() as session:
            # A time the register refuses without naming a field is the received time.
            ctx = state.context(user.email, now, user.scope)
            ref = about("received_at")(register.add)(session, ctx, new)
    except BadInputError as exc:
        field = exc.field if exc.field in FIELDS else "_form"
        message = field_message(state.settings.web.language, exc)
        return _new_form(request, state, user, values, {field: message}, status=status_of(exc))
    return RedirectResponse(f"{inquiry_path(ref)}?udfoert=add", status_code=303)


def _explanations(state: WebState, view: queries.InquiryView) -> dict[str, list[str]]:
    """Each obligation's ``due --explain`` lines, on the inquiry's own office's calendar
    and rules, with the inquiry's pauses."""
    language = state.settings.web.language
    pauses = [Pause(start=p.start, end=p.end) for p in view.pauses]
    office = state.office_of(view.office)
    found: dict[str, list[str]] = {}
    for o in view.obligations:
        rule = office.rules.get(o.rule)
        if rule is None:
            continue
        try:
            why = explain(office.calendar, view.received_at, rule.hours, rule.schedule, pauses)
        except SvarfristError:  # a rule changed since: the stored deadline still shows
            continue
        found[o.rule] = why.lines(language)
    return found


def detail(
    request: Request,
    state: WebState,
    now: datetime,
    user: Viewer,
    ref: str,
    *,
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> Response:
    """The inquiry's page; ``extra`` carries an action's refusal (message, field)."""
    try:
        with state.reading() as session:
            view = queries.show(session, ref, now, user.scope)
            trail = history.history(session, ref)
    except UnknownRefError:
        raise PageError(404, "404_ref", user=user) from None
    context: dict[str, Any] = {
        "here": "detail",
        "view": view,
        "local": local,
        "obligations": [(o, obligation_state(o)) for o in view.obligations],
        "state_class": STATE_CLASS,
        "explanations": _explanations(state, view),
        "trail": trail,
        # What the undo button reverts (its id posted with it), as undo would choose it.
        "last_change": history.last_change(trail),
        "fulfil": open_fulfilments(view, state.office_of(view.office).rules),
        "paused": bool(view.pauses) and view.pauses[-1].end is None,
        "path": inquiry_path(ref),
        "done": request.query_params.get("udfoert", ""),
        "failed_action": "",
        "action_error": "",
        "conflict": "",
        "values": {},
    }
    return show(request, "inquiry.html", user, context | (extra or {}), status_code=status)


# A ref as an advisor reads it from a mail's subject or hears it on the phone: "[SF
# 2026-000042]", "SF 2026-000042", " 2026-000042 ". A ref has no space, so "SF " is the tag.
_SPOKEN_REF = re.compile(r"\[?\s*(?:SF\s+)?(?P<ref>.*?)\s*\]?", re.IGNORECASE)


def spoken_ref(text: str) -> str:
    """The ref in ``text`` as the search box takes it (no match needed: any text is a ref,
    and the inquiry's page says when no inquiry has it)."""
    found = _SPOKEN_REF.fullmatch(text.strip())
    return found.group("ref") if found is not None else text.strip()


@router.get("/henvendelser")
def find(user: Reader, ref: Annotated[str, Query()] = "") -> Response:
    """The menu's search box: straight to the inquiry's page, whose own lookup (and the
    user's departments) decides what is shown, a Danish 404 where there is none."""
    del user  # logged in: the search needs nothing else of the user
    wanted = spoken_ref(ref)
    return RedirectResponse(inquiry_path(wanted) if wanted else "/", status_code=303)


@router.get("/henvendelser/{ref:path}")
def inquiry_page(request: Request, state: State, now: Now, user: Reader, ref: str) -> Response:
    return detail(request, state, now, user, ref)
