"""Errors as the HTTP API reports them:
``{"error": "one line", "field": name or null, "code": "snake_case"}``.

The one place where the domain's exceptions become status codes: an unknown ref 404, a
state that forbids the change 409, any other bad input 422; the database unreachable 503.
``code`` is the domain error's own (given where it is raised, tracker.errors), else the
status's general one (STATUS_CODES): a client branches on it, never on the words.
Nothing is written on any 4xx: every route's unit of work rolls back on the exception.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from tracker.errors import (
    BadInputError,
    ConflictError,
    EnvironmentFailure,
    NoWorkingTimeError,
    OutOfScopeError,
    SvarfristError,
    UnknownRefError,
)

log = logging.getLogger(__name__)

STATUS_CODES: dict[int, str] = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    422: "invalid",
    500: "internal",
    503: "unavailable",
}
"""The code of an answer whose refusal has none more specific (docs/contract.md)."""


def general_code(status: int) -> str:
    """The status's general code: any other 4xx ``invalid``, any other 5xx ``internal``."""
    return STATUS_CODES.get(status, "internal" if status >= 500 else "invalid")


class HttpError(Exception):
    """A refusal decided by the web layer itself (no or bad token, role, body too large)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.code = code  # None: the status's general code (error_response)
        self.headers = dict(headers or {})


def status_of(exc: SvarfristError) -> int:
    """The HTTP status of a domain error."""
    if isinstance(exc, UnknownRefError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, OutOfScopeError):  # a department not the caller's
        return 403
    if isinstance(exc, BadInputError | NoWorkingTimeError):
        # NoWorkingTimeError: more hours than the schedule has within the search bound, as
        # the command line says: the caller's input, not a failure of the server.
        return 422
    if isinstance(exc, EnvironmentFailure):
        return 503
    return 500


def error_response(
    status: int,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    code: str | None = None,
) -> JSONResponse:
    """``code``: the refusal's own; without one the status's general code."""
    line = " ".join(message.split())  # one line, whatever the message held
    body = {"error": line, "field": field, "code": code or general_code(status)}
    return JSONResponse(body, status_code=status, headers=headers)


def _domain(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SvarfristError)
    field = exc.field if isinstance(exc, BadInputError) else None
    return error_response(status_of(exc), str(exc), field, code=exc.code)


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HttpError)
    return error_response(exc.status, exc.message, exc.field, exc.headers, code=exc.code)


def _starlette(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        # FastAPI's answer to a body it cannot decode (invalid UTF-8): bad input like any.
        return error_response(422, "the body is not valid JSON in UTF-8", code="invalid_json")
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 404:
        detail = "no such path"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed(request)
    return error_response(exc.status_code, detail, None, headers)


def allowed(request: Request) -> str:
    """Every method the request's path answers (RFC 9110: a 405 lists them in ``Allow``).
    Starlette names only the first route whose path matched: ``/api/v1/inquiries`` is two
    routes, GET's and POST's."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    )


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _validation(_request: Request, exc: Exception) -> JSONResponse:
    """pydantic's refusal of a request, as one line naming the first bad field."""
    assert isinstance(exc, RequestValidationError)
    errors: list[Any] = list(exc.errors())
    if not errors:
        return error_response(422, "invalid request")
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    if first.get("type") == "json_invalid":
        return error_response(422, "the body is not valid JSON", code="invalid_json")
    field = loc[0] if loc else None
    message = str(first.get("msg", "invalid"))
    if field is None and first.get("type") == "missing":
        message = "a JSON body is required"
    elif field is None and first.get("type") in ("model_attributes_type", "dict_type"):
        message = "the body must be a JSON object (Content-Type: application/json)"
    return error_response(422, f"{'.'.join(loc)}: {message}" if loc else message, field)


def _database(_request: Request, exc: Exception) -> JSONResponse:
    # Only the exception's type is logged: SQLAlchemy's message carries the SQL parameters,
    # which could hold a note.
    if isinstance(exc, IntegrityError):
        return error_response(
            409, "conflicting write, nothing written: try again", code="conflicting_write"
        )
    log.error("database failure: %s", type(exc).__name__)
    return error_response(503, "the database is unavailable")


def _overflow(_request: Request, _exc: Exception) -> JSONResponse:
    # Date arithmetic past year 9999 (or before year 1): only extreme input times get there.
    return error_response(422, "a time is outside the supported range", code="range")


def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected failure: %s", type(exc).__name__)
    log.debug("unexpected failure", exc_info=exc)  # as the command line: details only at -v
    return error_response(500, "internal error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(HttpError, _http_error)
    app.add_exception_handler(SvarfristError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _starlette)
    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(OverflowError, _overflow)
    app.add_exception_handler(Exception, _unexpected)
