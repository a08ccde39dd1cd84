"""The HTTP API under ``/api/v1`` (docs/contract.md "HTTP"): thin routes over the same store and
core functions the command line calls."""

from __future__ import annotations

from fastapi import APIRouter

from tracker.web.api import cover, inquiries, lookups
from tracker.web.api.bodies import ERRORS
from tracker.web.api.paths import PREFIX

__all__ = ["PREFIX", "router"]


def router() -> APIRouter:
    # Each router carries the full prefix itself, so a route's path is its whole template
    # (the metrics label requests by it).
    api = APIRouter(responses=ERRORS)
    api.include_router(inquiries.router)
    api.include_router(lookups.router)
    api.include_router(cover.router)
    return api
