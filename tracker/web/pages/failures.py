"""Refusals as pages: a Danish (or English) page with the status the API would give.

The API keeps its JSON errors (tracker.web.errors, the one mapping of errors to status
codes); for a page's path the same handler decides the status and this module draws the
page for it. ``PageError`` is a refusal the pages decide themselves (no secret key, role,
CSRF); ``LoginRequired`` sends the browser to /login.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.types import Scope

from tracker.web.auth import Permission
from tracker.web.pages import render

if TYPE_CHECKING:
    from tracker.web.pages.sessions import Viewer

# Statuses with a text of their own (tracker.web.pages.texts); any other 4xx says the
# value cannot be used, any other 5xx that something went wrong.
_KNOWN = {"403", "404", "405", "413", "415", "429", "500", "503"}
# What a refusal tells the client beside its body: the methods a path takes (405).
_KEPT_HEADERS = ("allow",)


class PageError(Exception):
    def __init__(self, status: int, text: str, *, user: Viewer | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.user = user


class LoginRequired(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def is_api(path: str) -> bool:
    """Paths that answer in JSON (or text): the API, health and metrics."""
    return path.startswith("/api/") or path.endswith(".json") or path in ("/healthz", "/metrics")


def error_page(request: Request, status: int, text: str, user: Viewer | None = None) -> Response:
    context: dict[str, Any] = {"status": status, "message_key": text}
    if user is not None:
        can = {p.value: user.may(p) for p in Permission}
        context |= {"user": user, "csrf": user.csrf, "can": can}
    headers = {"Cache-Control": "no-store"}
    return render(request, "error.html", context, status_code=status, headers=headers)


def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    return error_page(request, exc.status, exc.text, exc.user)


def _login_required(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?{urlencode({'next': exc.path}, safe='/')}", status_code=303)


def _for_pages(handler: Callable[..., Any]) -> Callable[..., Any]:
    async def handle(request: Request, exc: Exception) -> Response:
        answer = handler(request, exc)
        if inspect.isawaitable(answer):
            answer = await answer
        if is_api(request.url.path):
            return answer  # type: ignore[no-any-return]
        status = int(answer.status_code)
        text = str(status) if str(status) in _KNOWN else ("500" if status >= 500 else "e_field")
        page = error_page(request, status, text)
        for name in _KEPT_HEADERS:
            if name in answer.headers:
                page.headers[name] = answer.headers[name]
        return page

    return handle


def install(app: FastAPI) -> None:
    """After tracker.web.errors.install: its handlers answer the API, pages get pages."""
    for kind, handler in list(app.exception_handlers.items()):
        app.add_exception_handler(kind, _for_pages(handler))
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(LoginRequired, _login_required)


def too_large(scope: Scope) -> Response:
    """The body limit's refusal on a page's path (tracker.web.middleware.BodyLimit)."""
    return error_page(Request(scope), 413, "413")
