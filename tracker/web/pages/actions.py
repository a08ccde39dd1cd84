"""The actions on one inquiry, each a POST form with its CSRF token: svar sendt, ringet op,
pause, genoptag, luk (register.ACTIONS, as ``svarfrist reply`` ... ``close`` and the API),
tildel anden rådgiver (history.assign, leads and admins) and fortryd (history.undo). The
undo form names the change it reverts and carries its event id: when another change has
come since, the undo is refused (409, ``stale_event``), nothing written.

Success redirects (303) to where the form came from (``next``, a path on this site) or to
the inquiry's page; a refusal draws the inquiry's page with the message beside the field
it concerns, with the status the API would give (404, 409, 422), nothing written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from tracker.core import validate
from tracker.errors import BadInputError, ConflictError, about
from tracker.store import history, register
from tracker.web.auth import Permission
from tracker.web.errors import status_of
from tracker.web.pages.common import UNDONE, local_path, shown
from tracker.web.pages.failures import PageError
from tracker.web.pages.inquiry import detail, inquiry_path
from tracker.web.pages.sessions import Viewer, posted_form, require_page
from tracker.web.pages.texts import catalogue, field_message
from tracker.web.state import WebState, request_now, web_state

router = APIRouter(include_in_schema=False)
State = Annotated[WebState, Depends(web_state)]
Now = Annotated[datetime, Depends(request_now)]
TIMED = tuple(register.ACTIONS)
"""Actions with an optional ``at`` (when it happened; default now)."""
ACTIONS = (*TIMED, "assign", "undo")
# Refusals of what was typed into the form (shown beside the field); any other concerns
# the inquiry (already replied, nothing to fulfil, nothing to undo) and heads the page.
BESIDE_FIELD = frozenset(
    {"not_time", "range", "dst_gap", "future", "before_receipt", "before_pause", "nul", "utf8"}
    | {"before_fulfilment", "not_email", "required", "same_advisor"}
)


def _perform(state: WebState, user: Viewer, now: datetime, ref: str, form: dict[str, str]) -> str:
    """Runs the form's action in one transaction; returns what the page says it did: its
    name, and for an undo what it reverted (``undo&fortrudt=replied``)."""
    action = form.get("handling", "")
    if action not in ACTIONS:
        raise BadInputError(f"unknown action {action!r}").coded("unknown")
    if action == "assign" and not user.may(Permission.ASSIGN):
        raise PageError(403, "403", user=user)
    ctx = state.context(user.email, now, user.scope)
    with state.writing() as session:
        if action == "assign":
            about("advisor")(history.assign)(session, ctx, ref, form.get("advisor", ""))
        elif action == "undo":
            # The change the page showed on its button: another since, and nothing is undone.
            undone = history.undo(session, ctx, ref, _event(form.get("event", "")))
            return f"undo&{UNDONE}={undone.kind.value}"
        else:
            text = form.get("at", "").strip()
            at = about("at")(validate.parse_time)(text, "at") if text else now
            # Times the register refuses (before receipt, in the future) concern ``at``.
            about("at")(register.ACTIONS[action])(session, ctx, ref, at)
    return action


def _event(text: str) -> int | None:
    """The undo form's ``event``: the id of the change its button named; none (a page
    drawn when there was nothing to undo): the newest, as ``svarfrist undo`` without it."""
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise BadInputError("event: not an event id").coded("not_event")
    return int(text)


@router.post("/henvendelser/{ref:path}/handling")
def act(
    *,
    request: Request,
    state: State,
    now: Now,
    user: Annotated[Viewer, Depends(require_page(Permission.ACT))],
    form: Annotated[dict[str, str], Depends(posted_form)],
    ref: str,
) -> Response:
    try:
        action = _perform(state, user, now, ref, form)
    except BadInputError as exc:
        language = state.settings.web.language
        status = status_of(exc)
        if status == 404:
            raise PageError(404, "404_ref", user=user) from None
        extra = {
            "failed_action": form.get("handling", ""),
            "values": {k: shown(v) for k, v in form.items() if k in ("at", "advisor")},
        }
        if isinstance(exc, ConflictError) or exc.code not in BESIDE_FIELD:
            reason = field_message(language, exc) if exc.code else str(exc)
            extra["conflict"] = catalogue(language)["conflict"] + reason
        else:
            message = field_message(language, exc)
            extra["action_error"] = message[:1].upper() + message[1:]
        return detail(request, state, now, user, ref, status=status, extra=extra)
    back = local_path(form.get("next"), inquiry_path(ref))
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}udfoert={action}", status_code=303)
