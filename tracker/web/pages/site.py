"""The staff pages as one router, and their error pages (tracker.web.pages.failures)."""

from __future__ import annotations

from fastapi import APIRouter

from tracker.web.pages import absence, actions, inquiry, lists, login, oidc, overview
from tracker.web.pages.failures import install, too_large

__all__ = ["install", "router", "too_large"]


def router() -> APIRouter:
    pages = APIRouter(include_in_schema=False)
    for module in (login, oidc, lists, inquiry, actions, overview, absence):
        pages.include_router(module.router)
    return pages
