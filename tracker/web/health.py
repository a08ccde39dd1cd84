"""``/healthz`` for load balancers and systemd, ``/metrics`` for Prometheus. No login."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tracker.errors import EnvironmentFailure
from tracker.store import schema
from tracker.web.state import WebState, web_state

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/healthz", tags=["health"])
def healthz(state: Annotated[WebState, Depends(web_state)]) -> JSONResponse:
    """200 ``{"status": "ok"}`` when the database answers with the schema this version
    needs; 503 otherwise (unreachable, or ``svarfrist init`` not run after an upgrade)."""
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        schema.require_current(state.engine)
    except (DBAPIError, EnvironmentFailure) as exc:
        log.warning("health check failed: %s", type(exc).__name__)
        reason = str(exc) if isinstance(exc, EnvironmentFailure) else "database unreachable"
        return JSONResponse({"status": "unavailable", "error": reason}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
