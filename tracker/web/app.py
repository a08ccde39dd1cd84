"""The web application: ``create_app(settings)`` builds it; ``svarfrist web`` serves it.

Layout: ``tracker.web.api`` (the HTTP API), ``health`` (healthz, metrics), ``auth`` (who
calls, which role may do what), ``errors`` (the one mapping of errors to status codes),
``middleware`` (headers, body limit, metrics). The browser pages (``pages``) are routers of
their own beside the API, sharing the same state, auth and error mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, ProcessCollector
from sqlalchemy import Engine

from tracker import __version__
from tracker.config import Settings
from tracker.store.db import make_engine
from tracker.web import api, errors, health, links, public
from tracker.web.middleware import BodyLimit, Metrics, SecurityHeaders
from tracker.web.pages import STATIC_DIR, STATIC_PREFIX, site
from tracker.web.pages.failures import is_api
from tracker.web.pages.oidc import build_client
from tracker.web.state import WebState, system_clock

OPENAPI_URL = f"{api.PREFIX}/openapi.json"


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = system_clock,
) -> FastAPI:
    """The app over ``settings``' database (or ``engine``), reading time from ``clock``.

    No interactive documentation pages: they load their scripts from a CDN, and offices run
    on closed networks. The OpenAPI document is served at /api/v1/openapi.json.
    """
    app = FastAPI(
        title="Svarfrist",
        version=__version__,
        description="Response deadlines for citizen inquiries: the HTTP API (docs/contract.md).",
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
    )
    app.state.web = WebState.build(
        settings, engine or make_engine(settings.database_url, create=False), clock
    )
    oidc = settings.web.oidc
    app.state.oidc = None if oidc is None else build_client(oidc)
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    app.state.registry = registry
    errors.install(app)
    site.install(app)  # after the API's handlers: pages get pages, the API keeps its JSON
    app.include_router(health.router)
    app.include_router(api.router())
    app.include_router(site.router())
    app.include_router(links.router)
    app.include_router(public.router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static")
    # The last added runs first: metrics see every answer, headers go on refusals too.
    app.add_middleware(
        BodyLimit,
        limit=settings.web.max_body_bytes,
        page=site.too_large,
        is_page=lambda path: not is_api(path),
    )
    app.add_middleware(
        SecurityHeaders,
        https=not settings.web.insecure_http,
        embeddable=public.PREFIX,
        embed_origins=tuple(settings.web.embed_origins),
    )
    app.add_middleware(Metrics, registry=registry)
    return app
