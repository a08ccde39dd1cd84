"""Lookups per office, through the real server on SQLite and PostgreSQL: ``GET
/api/v1/calendar/{year}``, ``GET /api/v1/due`` and the ``/kalender`` page compute on the
office asked for (``office``, ``kontor``), else the caller's own, else ``default``, as
``svarfrist calendar --office`` and ``due --office`` do; an unknown office is 422 naming the
field, on the page a Danish message beside it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from page_support import SECRET, add_office_user, as_user
from web_server import Web, add_office_token, web_app

# Jobcenter Nord closes between Christmas and New Year (Mon 28 - Wed 30 December 2026).
OFFICES = {
    "nord": {
        "departments": ["Borgerservice Nord"],
        "default_recipient": "nord@example.dk",
        "calendar": {"closed_dates": ["2026-12-28", "2026-12-29", "2026-12-30"]},
    }
}
NORA = "nora@fredericia.dk"
CLOSED = {"2026-12-28", "2026-12-29", "2026-12-30"}
DUE = {"rule": "reply", "received": "2026-12-23T10:00"}


@contextmanager
def offices_app(database_url: str) -> Iterator[tuple[Web, str]]:
    """The app with offices, Nora (an advisor of nord) and a token of nord."""
    with web_app(
        database_url, web={"secret_key": SECRET, "insecure_http": True}, offices=OFFICES
    ) as web:
        token = add_office_token(database_url, "nord-bot", "advisor", "nord")
        add_office_user(database_url, NORA, "nord")
        yield web, token


def closed(answer: httpx.Response) -> set[str]:
    assert answer.status_code == 200, answer.text
    days: list[dict[str, Any]] = answer.json()
    return {d["date"] for d in days} & CLOSED


def test_the_api_computes_on_the_office_asked_for_else_the_callers(database_url: str) -> None:
    with offices_app(database_url) as (web, token), web.client("advisor") as anyone:
        assert closed(anyone.get("/api/v1/calendar/2026")) == set()  # default
        assert closed(anyone.get("/api/v1/calendar/2026", params={"office": "nord"})) == CLOSED
        default_due = anyone.get("/api/v1/due", params=DUE).json()["due_at"]
        nord_due = anyone.get("/api/v1/due", params={**DUE, "office": "nord"}).json()["due_at"]
        assert nord_due > default_due  # three more closed days on the way
        unknown = anyone.get("/api/v1/calendar/2026", params={"office": "vest"})
        assert unknown.status_code == 422 and "office" in unknown.text
        assert anyone.get("/api/v1/due", params={**DUE, "office": "vest"}).status_code == 422
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=web.url, headers=headers, timeout=60) as nord:
            assert closed(nord.get("/api/v1/calendar/2026")) == CLOSED  # its own office
            assert nord.get("/api/v1/due", params=DUE).json()["due_at"] == nord_due
            # calendars are public: another office's is there for the asking
            assert closed(nord.get("/api/v1/calendar/2026", params={"office": "default"})) == set()


def page_closed(html: str) -> set[str]:
    return {day for day in CLOSED if day in html}


def test_the_calendar_page_shows_the_users_office_and_any_office_chosen(
    database_url: str,
) -> None:
    with offices_app(database_url) as (web, _), as_user(web, NORA) as nora:
        own = nora.get("/kalender", params={"aar": "2026"})
        assert own.status_code == 200 and page_closed(own.text) == CLOSED
        assert '<option value="nord" selected>' in own.text
        chosen = nora.get("/kalender", params={"aar": "2026", "kontor": "default"})
        assert chosen.status_code == 200 and page_closed(chosen.text) == set()
        assert '<option value="default" selected>' in chosen.text
        unknown = nora.get("/kalender", params={"aar": "2026", "kontor": "vest"})
        assert unknown.status_code == 422
        assert '<p id="err-kontor" class="field-error">' in unknown.text
        assert 'name="kontor" aria-invalid="true" aria-describedby="err-kontor"' in unknown.text
        assert "Traceback" not in unknown.text
