"""What every staff page shares: drawing it for the logged-in user, and safe redirects."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from tracker.store.register import EventKind
from tracker.store.scope import Scope
from tracker.web.auth import Permission
from tracker.web.pages import render
from tracker.web.pages.sessions import Viewer
from tracker.web.state import WebState

UNDONE = "fortrudt"
"""The query parameter that names what an undo reverted (an event kind), for its notice."""
_EVENT_KINDS = frozenset(EventKind)

PRIVATE = {"Cache-Control": "no-store"}
"""Staff pages hold inquiries (one holds a note) and a CSRF token: no cache keeps a copy."""


def show(
    request: Request,
    template: str,
    user: Viewer,
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """``template`` for ``user``: the menu shows only what their role may open."""
    can = {p.value: user.may(p) for p in Permission}
    undone = request.query_params.get(UNDONE, "")
    return render(
        request,
        template,
        {
            "user": user,
            "csrf": user.csrf,
            "can": can,
            "undone": undone if undone in _EVENT_KINDS else "",
            **context,
        },
        status_code=status_code,
        headers=PRIVATE,
    )


def office_choices(state: WebState, user: Viewer) -> list[str]:
    """The offices a form lets ``user`` choose: every configured one, for a user of every
    office where there is more than one; none for a user of one office (theirs is implied)."""
    if len(state.offices) < 2 or user.scope.offices is not None:
        return []
    return list(state.offices)


def chosen_office(state: WebState, user: Viewer, office: str) -> Scope:
    """The user's scope within the office a form's *Kontor* field names (blank: as it is);
    the page shows a refusal (WebState.admitted) beside the field."""
    return state.admitted(user.scope, office.strip(), "kontor")


def local_path(value: str | None, default: str = "/") -> str:
    """``value`` if it is a path on this site (for redirects after an action or log-in),
    else ``default``: never another host (``//evil``, ``/\\evil``, ``https://...``)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 0x20 or c in "\\\x7f" for c in value):
        return default
    return value


def shown(value: str) -> str:
    """A refused value as the form shows it again: bytes that were not UTF-8 (lone
    surrogates) and NUL become U+FFFD, which the page can carry."""
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" or c == "\x00" else c for c in value)
