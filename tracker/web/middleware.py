"""ASGI middleware around every response: security headers, the request body limit, and
the Prometheus request metrics (by route template, never by raw path)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracker.web.errors import error_response

# No inline script or style anywhere, no framing (the public pages are the one exception,
# see SecurityHeaders), nothing loaded from elsewhere: offices run closed networks.
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
)
CONTENT_SECURITY_POLICY = _POLICY.format(ancestors="'none'")
FRAME_OPTIONS = (b"x-frame-options", b"DENY")
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    FRAME_OPTIONS,
    (b"x-content-type-options", b"nosniff"),
    # Mail links will carry one-click tokens in their path: never pass a URL on.
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")
# API answers hold inquiries (one holds a note): no cache keeps a copy.
NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """The headers above on every answer. Paths under ``embeddable`` (the public pages) may
    be framed by ``embed_origins`` (``*``: any site) and carry no X-Frame-Options, which
    cannot name origins; every other page may be framed by nobody."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        https: bool,
        embeddable: str | None = None,
        embed_origins: tuple[str, ...] = ("*",),
    ) -> None:
        self.app = app
        self.https = https
        self.embeddable = embeddable
        framed = _POLICY.format(ancestors=" ".join(embed_origins))
        self.embed_headers = tuple(
            (b"content-security-policy", framed.encode())
            if name == SECURITY_HEADERS[0][0]
            else (name, value)
            for name, value in SECURITY_HEADERS
            if (name, value) != FRAME_OPTIONS
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        api = path.startswith("/api/")
        framed = self.embeddable is not None and path.startswith(self.embeddable)
        base = self.embed_headers if framed else SECURITY_HEADERS

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = list(base) + ([HSTS] if self.https else [])
                extra += [NO_STORE] if api else []
                headers += [(name, value) for name, value in extra if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Refuses a body over ``limit`` bytes with 413: at once by its Content-Length, or as
    soon as a body without one (chunked) grows past it; the route never sees it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        page: Callable[[Scope], ASGIApp] | None = None,
        is_page: Callable[[str], bool] = lambda _path: False,
    ) -> None:
        self.app = app
        self.limit = limit
        self.page = page
        """The refusal as a page, for paths where ``is_page``: a browser gets words, not JSON."""
        self.is_page = is_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"the request body is larger than {self.limit} bytes"
        for name, value in scope.get("headers", []):
            declared = name.lower() == b"content-length"
            if declared and (not value.isdigit() or int(value) > self.limit):
                refusal = (
                    self.page(scope)
                    if self.page is not None and self.is_page(str(scope.get("path", "")))
                    else error_response(413, too_large)
                )
                await refusal(scope, receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # An HTTPException passes FastAPI's body reading unchanged, to the
                    # one error mapping (tracker.web.errors).
                    raise HTTPException(413, too_large)
            return message

        await self.app(scope, counted, send)


class Metrics:
    """Request count and latency per method, route template and status."""

    def __init__(self, app: ASGIApp, *, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "svarfrist_http_requests",
            "HTTP requests answered",
            ("method", "route", "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "svarfrist_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ("method", "route"),
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noted)
        finally:
            route = _template(scope)
            method = str(scope.get("method", ""))
            self.requests.labels(method, route, str(status)).inc()
            self.latency.labels(method, route).observe(time.perf_counter() - started)


def _template(scope: Scope) -> str:
    """The matched route's path template (``/api/v1/inquiries/{ref}``), never the raw path:
    one time series per route, however many refs there are."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
