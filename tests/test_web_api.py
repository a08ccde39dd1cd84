"""The HTTP API over real HTTP against a real uvicorn server, on SQLite and PostgreSQL:
docs/contract.md's routes and shapes, the roles, and every refusal with nothing written."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from register_support import NOW, RECIPIENT, dump
from sqlalchemy import select
from web_server import EMAIL, Web, register_rows, web_app

from tracker.store import access
from tracker.store.db import make_engine, session_factory, transaction
from tracker.store.models import Event
from tracker.store.pages import Cursor
from tracker.web.api.bodies import ErrorBody
from tracker.web.api.documents import InquiryDoc, InquiryPage, UndoneDoc

NOTE = "Borgeren hedder Jens og bor på Vestergade 3"


@pytest.fixture
def web(database_url: str) -> Iterator[Web]:
    with web_app(database_url) as served:
        yield served


def add(web: Web, **fields: Any) -> dict[str, Any]:
    with web.client() as client:
        response = client.post("/api/v1/inquiries", json={**EMAIL, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def events(database_url: str) -> list[tuple[str | None, str, str]]:
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            rows = session.execute(select(Event.ref, Event.kind, Event.actor).order_by(Event.id))
            return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        engine.dispose()


# -- register, show, list ---------------------------------------------------------------
def test_registering_answers_201_with_its_location_and_the_show_shape(web: Web) -> None:
    with web.client() as client:
        response = client.post("/api/v1/inquiries", json={**EMAIL, "note": NOTE})
        assert response.status_code == 201, response.text
        body = response.json()
        assert response.headers["location"] == f"/api/v1/inquiries/{body['ref']}"
        assert body["ref"] == "2026-000001"
        assert body["received_at"] == "2026-11-25T10:00:00+01:00"  # no offset: Copenhagen
        assert body["status"] == "open" and body["note"] == NOTE
        assert body["obligations"] == [
            {
                "rule": "reply",
                "due_at": "2026-11-26T10:00:00+01:00",
                "warn_at": "2026-11-26T06:00:00+01:00",
                "met_at": None,
                "state": "overdue",  # the app's clock: 2026-11-26 13:00 local
            }
        ]
        shown = client.get(response.headers["location"])
    assert shown.status_code == 200
    assert shown.json() == body
    assert events(web.database_url) == [("2026-000001", "created", "advisor-bot")]


def test_an_advisor_token_never_reads_a_note_through_the_list(web: Web) -> None:
    add(web, note=NOTE)
    with web.client("advisor") as client:
        response = client.get("/api/v1/inquiries", params={"state": "all"})
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["ref"] for i in items] == ["2026-000001"]
    assert "note" not in items[0]
    assert NOTE not in response.text and "Jens" not in response.text


def test_the_list_is_sorted_by_next_deadline_with_the_undated_last(web: Web) -> None:
    add(web, received_at="2026-11-24T09:00", channel="phone", callback_requested=True)  # 48 h
    add(web, received_at="2026-11-25T08:00")  # reply due 26th 08:00
    add(web, received_at="2026-11-24T12:00")  # reply due 25th 12:00
    add(web, received_at="2026-11-23T12:00", channel="in_person")  # no obligation at all
    with web.client() as client:
        body = client.get("/api/v1/inquiries").json()
    assert [i["ref"] for i in body["items"]] == [
        "2026-000003",
        "2026-000002",
        "2026-000001",
        "2026-000004",
    ]
    assert body["next"] is None


def test_pages_follow_the_cursor_without_skipping_or_repeating(web: Web) -> None:
    for day in range(6, 27, 3):  # seven inquiries, due on different days, none in the future
        add(web, received_at=f"2026-11-{day:02d}T10:00")
    with web.client() as client:
        paused = client.post("/api/v1/inquiries/2026-000002/pause", json={"at": "2026-11-09T12:00"})
        assert paused.json()["obligations"][0]["due_at"] is None
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 3, "state": "all"}
            if cursor:
                params["cursor"] = cursor
            body = client.get("/api/v1/inquiries", params=params).json()
            seen += [i["ref"] for i in body["items"]]
            pages += 1
            cursor = body["next"]
            if cursor is None:
                break
    assert pages == 3
    # By due date; the paused inquiry (no deadline while paused) comes last.
    assert seen == [f"2026-00000{n}" for n in (1, 3, 4, 5, 6, 7, 2)]


def test_the_list_filters_by_state_advisor_and_department(web: Web) -> None:
    add(web, advisor="anna@fredericia.dk")
    add(web, advisor="bo@fredericia.dk", department="Børn og Unge")
    add(web, advisor="bo@fredericia.dk", received_at="2026-11-26T11:00")  # not yet due soon
    with web.client() as client:
        client.post("/api/v1/inquiries/2026-000001/close", json={"at": "2026-11-25T12:00"})

        def refs(**params: str) -> list[str]:
            response = client.get("/api/v1/inquiries", params=params)
            assert response.status_code == 200, response.text
            return [i["ref"] for i in response.json()["items"]]

        assert refs() == ["2026-000002", "2026-000003"]
        assert refs(state="closed") == ["2026-000001"]
        assert refs(state="overdue") == ["2026-000002"]
        assert refs(state="all", advisor="anna@fredericia.dk") == ["2026-000001"]
        assert refs(department="Børn og Unge") == ["2026-000002"]
        assert refs(advisor="bo@fredericia.dk", department="Diverse") == ["2026-000003"]


# -- actions ----------------------------------------------------------------------------
def test_each_action_answers_200_with_the_inquiry_as_it_now_is(web: Web) -> None:
    ref = add(web, callback_requested=True)["ref"]
    with web.client() as client:

        def act(action: str, at: str) -> dict[str, Any]:
            response = client.post(f"/api/v1/inquiries/{ref}/{action}", json={"at": at})
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        replied = act("reply", "2026-11-25T11:00")
        assert replied["replied_at"] == "2026-11-25T11:00:00+01:00"
        assert replied["obligations"][0]["state"] == "met_on_time"
        paused = act("pause", "2026-11-25T12:00")
        assert paused["pauses"] == [{"start": "2026-11-25T12:00:00+01:00", "end": None}]
        resumed = act("resume", "2026-11-25T14:00")
        assert resumed["pauses"][0]["end"] == "2026-11-25T14:00:00+01:00"
        called = act("callback", "2026-11-26T09:00")
        assert called["called_back_at"] == "2026-11-26T09:00:00+01:00"
        closed = act("close", "2026-11-26T10:00+01:00")
        assert closed["status"] == "closed"
        assert closed["closed_at"] == "2026-11-26T10:00:00+01:00"
    kinds = [kind for _, kind, _ in events(web.database_url)]
    assert kinds == ["created", "replied", "paused", "resumed", "called_back", "closed"]


def test_undo_reverts_the_last_change_as_the_command_line_does_and_says_what(web: Web) -> None:
    ref = add(web)["ref"]
    with web.client() as client:
        replied = client.post(f"/api/v1/inquiries/{ref}/reply", json={"at": "2026-11-25T11:00"})
        assert replied.status_code == 200, replied.text
        last = replied.json()["last_change"]
        shown = client.get(f"/api/v1/inquiries/{ref}").json()
        assert shown["last_change"] == last
        assert last["kind"] == "replied" and last["at"] == "2026-11-25T11:00:00+01:00"
        undone = client.post(f"/api/v1/inquiries/{ref}/undo", json={"event": last["event"]})
    assert undone.status_code == 200, undone.text
    body = undone.json()
    UndoneDoc.model_validate(body)
    assert body["undone"] == last  # what was reverted: the change the caller saw
    assert body["replied_at"] is None and body["last_change"] is None
    assert body["obligations"][0]["met_at"] is None
    assert body["obligations"][0]["due_at"] == "2026-11-26T10:00:00+01:00"
    # The same audit event the command line's undo records (history.undo, one function).
    engine = make_engine(web.database_url)
    try:
        with session_factory(engine)() as session:
            event = session.scalars(select(Event).order_by(Event.id.desc())).first()
    finally:
        engine.dispose()
    assert event is not None and event.kind == "undone"
    assert event.details == {
        "event": last["event"],
        "undoes": "replied",
        "undoes_at": "2026-11-25T10:00:00+00:00",
    }
    assert [kind for _, kind, _ in events(web.database_url)] == ["created", "replied", "undone"]


def test_undo_of_a_change_no_longer_the_last_is_409_and_writes_nothing(web: Web) -> None:
    """Anna's client saw the pause as the last change; another then recorded the reply.
    Her undo naming the pause is refused (409, field ``event``), nothing written; without an
    event an undo reverts the newest change, whoever made it, as ``svarfrist undo``."""
    ref = add(web)["ref"]
    with web.client() as anna, web.client("lead") as lead:
        seen = anna.post(f"/api/v1/inquiries/{ref}/pause", json={"at": "2026-11-25T11:00"})
        pause = seen.json()["last_change"]
        assert lead.post(f"/api/v1/inquiries/{ref}/resume").status_code == 200
        replied = lead.post(f"/api/v1/inquiries/{ref}/reply").json()["last_change"]
        before = register_rows(web.database_url)
        stale = anna.post(f"/api/v1/inquiries/{ref}/undo", json={"event": pause["event"]})
        assert_error(stale, 409, "event")
        assert f"no longer event {pause['event']}: it is now replied" in stale.json()["error"]
        assert register_rows(web.database_url) == before  # inquiry, obligations, audit trail
        newest = anna.post(f"/api/v1/inquiries/{ref}/undo", json={})
    assert newest.status_code == 200, newest.text
    assert newest.json()["undone"] == replied
    assert newest.json()["last_change"]["kind"] == "resumed"


def test_an_action_without_a_body_happens_at_the_apps_now(web: Web) -> None:
    ref = add(web)["ref"]
    with web.client() as client:
        response = client.post(f"/api/v1/inquiries/{ref}/reply")
    assert response.status_code == 200, response.text
    assert response.json()["replied_at"] == "2026-11-26T13:00:00+01:00"


def test_an_action_with_nothing_to_fulfil_names_the_action_not_its_time(web: Web) -> None:
    """A call-back nobody asked for is refused (422, nothing written) for the action asked
    for, whose path segment is the field; a time the register refuses names ``at``."""
    ref = add(web)["ref"]  # an e-mail, no call-back requested
    before = events(web.database_url)
    with web.client() as client:
        refused = client.post(f"/api/v1/inquiries/{ref}/callback", json={"at": "2026-11-25T11:00"})
        early = client.post(f"/api/v1/inquiries/{ref}/reply", json={"at": "2026-11-20T11:00"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "action"
    assert "nothing to fulfil" in refused.json()["error"]
    assert early.status_code == 422 and early.json()["field"] == "at", early.text
    assert events(web.database_url) == before


def test_a_ref_with_a_slash_is_one_path_segment_of_its_own(web: Web) -> None:
    with web.client() as client:
        created = client.post("/api/v1/inquiries", json={**EMAIL, "ref": "kontor/42"})
        assert created.status_code == 201, created.text
        assert created.headers["location"] == "/api/v1/inquiries/kontor/42"
        assert client.get("/api/v1/inquiries/kontor/42").json()["ref"] == "kontor/42"
        replied = client.post("/api/v1/inquiries/kontor/42/reply", json={"at": "2026-11-25T12:00"})
        assert replied.status_code == 200, replied.text
        assert replied.json()["replied_at"] == "2026-11-25T12:00:00+01:00"


# -- refusals: status, one line, the field, nothing written ------------------------------
REFUSALS: list[tuple[str, str, str, Any, int, str | None]] = [
    # (name, method, path, json body or raw bytes, status, field)
    ("unknown ref", "POST", "/api/v1/inquiries/2026-999999/reply", {}, 404, None),
    ("unknown ref shown", "GET", "/api/v1/inquiries/nope", None, 404, None),
    ("already replied", "POST", "/api/v1/inquiries/2026-000001/reply", {}, 409, None),
    ("closed", "POST", "/api/v1/inquiries/2026-000002/reply", {}, 409, None),
    ("closed again", "POST", "/api/v1/inquiries/2026-000002/close", {}, 409, None),
    ("resume not paused", "POST", "/api/v1/inquiries/2026-000003/resume", {}, 409, None),
    (
        "reply before receipt",
        "POST",
        "/api/v1/inquiries/2026-000003/reply",
        {"at": "2026-11-25T09:59"},
        422,
        "at",
    ),
    ("close before the reply", "POST", "/api/v1/inquiries/2026-000001/close",
     {"at": "2026-11-25T10:30"}, 422, "at"),
    ("malformed time", "POST", "/api/v1/inquiries/2026-000003/reply", {"at": "soon"}, 422, "at"),
    # fromisoformat ignores a NUL after the time and takes any character for the T
    ("time ending in NUL", "POST", "/api/v1/inquiries/2026-000003/reply",
     {"at": "2026-11-25T11:00\u0000"}, 422, "at"),
    ("time with a digit for its T", "POST", "/api/v1/inquiries/2026-000003/reply",
     {"at": "2026-11-25511:00"}, 422, "at"),
    (
        "DST gap",
        "POST",
        "/api/v1/inquiries/2026-000003/reply",
        {"at": "2026-03-29T02:30"},
        422,
        "at",
    ),
    ("at not text", "POST", "/api/v1/inquiries/2026-000003/reply", {"at": 17}, 422, "at"),
    ("unknown action", "POST", "/api/v1/inquiries/2026-000003/escalate", {}, 422, "action"),
    ("answer without a promise", "POST", "/api/v1/inquiries/2026-000003/answer", {}, 422, "action"),
    ("unknown channel", "POST", "/api/v1/inquiries", {**EMAIL, "channel": "fax"}, 422, "channel"),
    (
        "unknown department",
        "POST",
        "/api/v1/inquiries",
        {**EMAIL, "department": "Nope"},
        422,
        "department",
    ),
    ("unknown topic", "POST", "/api/v1/inquiries", {**EMAIL, "topic": "Nope"}, 422, "topic"),
    (
        "bad advisor",
        "POST",
        "/api/v1/inquiries",
        {**EMAIL, "advisor": "anna at home"},
        422,
        "advisor",
    ),
    (
        "boolean as text",
        "POST",
        "/api/v1/inquiries",
        {**EMAIL, "callback_requested": "yes"},
        422,
        "callback_requested",
    ),
    ("channel as number", "POST", "/api/v1/inquiries", {**EMAIL, "channel": 3}, 422, "channel"),
    ("missing channel", "POST", "/api/v1/inquiries", {"department": "Diverse"}, 422, "channel"),
    ("unknown field", "POST", "/api/v1/inquiries", {**EMAIL, "colour": "red"}, 422, "colour"),
    (
        "received malformed",
        "POST",
        "/api/v1/inquiries",
        {**EMAIL, "received_at": "2026-13-01T10:00"},
        422,
        "received_at",
    ),
    ("received in the future", "POST", "/api/v1/inquiries",
     {**EMAIL, "received_at": "2099-01-01T10:00"}, 422, "received_at"),
    ("received before 1900", "POST", "/api/v1/inquiries",
     {**EMAIL, "received_at": "1899-12-31T10:00"}, 422, "received_at"),
    (
        "note too long",
        "POST",
        "/api/v1/inquiries",
        {**EMAIL, "note": "x" * 4001},
        422,
        "note",
    ),
    (
        "duplicate ref",
        "POST",
        "/api/v1/inquiries",
        {**EMAIL, "ref": "2026-000001"},
        409,
        None,
    ),
    ("bad ref", "POST", "/api/v1/inquiries", {**EMAIL, "ref": "<script>"}, 422, "ref"),
    ("unknown office", "POST", "/api/v1/inquiries", {**EMAIL, "office": "vest"}, 422, "office"),
    ("body not an object", "POST", "/api/v1/inquiries", [1, 2], 422, None),
    ("invalid UTF-8", "POST", "/api/v1/inquiries", b'{"channel": "\xff\xfe"}', 422, None),
    ("not JSON", "POST", "/api/v1/inquiries", b"channel=email", 422, None),
    ("not declared JSON", "POST", "/api/v1/inquiries", ("text/plain", b'{"channel": "sms"}'), 422,
     None),
    ("no body", "POST", "/api/v1/inquiries", None, 422, None),
    ("unknown state", "GET", "/api/v1/inquiries?state=late", None, 422, "state"),
    ("limit zero", "GET", "/api/v1/inquiries?limit=0", None, 422, "limit"),
    ("limit too large", "GET", "/api/v1/inquiries?limit=100000", None, 422, "limit"),
    ("limit not a number", "GET", "/api/v1/inquiries?limit=ten", None, 422, "limit"),
    ("forged cursor", "GET", "/api/v1/inquiries?cursor=bm9wZQ", None, 422, "cursor"),
    # "1:-:3000000000" and "1:-:99999999999999999999": ids past what the database holds
    ("cursor id past int4", "GET", "/api/v1/inquiries?cursor=MTotOjMwMDAwMDAwMDA", None, 422,
     "cursor"),
    ("cursor id past int8", "GET", "/api/v1/inquiries?cursor=MTotOjk5OTk5OTk5OTk5OTk5OTk5OTk5",
     None, 422, "cursor"),
    # "1:0001-01-01T00:00:00+14:00:1" and "1:9999-12-31T23:59:59-14:00:1": times no deadline
    # has, out of the database driver's range (were 500)
    ("cursor time before year 1 in UTC", "GET",
     "/api/v1/inquiries?cursor=MTowMDAxLTAxLTAxVDAwOjAwOjAwKzE0OjAwOjE", None, 422, "cursor"),
    ("cursor time after year 9999 in UTC", "GET",
     "/api/v1/inquiries?cursor=MTo5OTk5LTEyLTMxVDIzOjU5OjU5LTE0OjAwOjE", None, 422, "cursor"),
    ("list bad advisor", "GET", "/api/v1/inquiries?advisor=%FF", None, 422, "advisor"),
    ("list bad department", "GET", "/api/v1/inquiries?department=X", None, 422, "department"),
    ("due unknown rule", "GET", "/api/v1/due?rule=nope&received=2026-11-25T10:00", None, 422,
     "rule"),
    ("due bad time", "GET", "/api/v1/due?rule=reply&received=tomorrow", None, 422, "received"),
    ("calendar year", "GET", "/api/v1/calendar/3000", None, 422, "year"),
    ("report from before year 2", "GET", "/api/v1/report?from=0001-01-01", None, 422, "from"),
    ("report to after year 9998", "GET", "/api/v1/report?to=9999-12-31", None, 422, "to"),
    ("calendar not a year", "GET", "/api/v1/calendar/next", None, 422, "year"),
    # seed_refusal_cases: events 1-3 created, 4 replied (2026-000001), 5 closed (-000002)
    ("undo unknown ref", "POST", "/api/v1/inquiries/2026-999999/undo", None, 404, None),
    ("undo nothing to undo", "POST", "/api/v1/inquiries/2026-000003/undo", None, 422, None),
    ("undo a stale event", "POST", "/api/v1/inquiries/2026-000001/undo", {"event": 5}, 409,
     "event"),
    ("undo event as text", "POST", "/api/v1/inquiries/2026-000001/undo", {"event": "4"}, 422,
     "event"),
    ("undo unknown field", "POST", "/api/v1/inquiries/2026-000001/undo", {"at": "now"}, 422,
     "at"),
    ("undo body not an object", "POST", "/api/v1/inquiries/2026-000001/undo", [4], 422, None),
    ("no such path", "GET", "/api/v1/nowhere", None, 404, None),
    ("method not allowed", "PUT", "/api/v1/inquiries", None, 405, None),
]  # fmt: skip


# The code each refusal above answers (docs/contract.md "HTTP", the error codes): what a
# client branches on. The specific ones come from where the store raises; "invalid" is the
# general code of a 422 whose refusal has none of its own.
REFUSAL_CODES: dict[str, str] = {
    "unknown ref": "unknown_ref",
    "unknown ref shown": "unknown_ref",
    "already replied": "already_replied",
    "closed": "closed",
    "closed again": "closed",
    "resume not paused": "not_paused",
    "reply before receipt": "before_receipt",
    "close before the reply": "before_fulfilment",
    "malformed time": "not_time",
    "time ending in NUL": "not_time",
    "time with a digit for its T": "not_time",
    "DST gap": "dst_gap",
    "at not text": "invalid",
    "unknown action": "invalid",
    "answer without a promise": "nothing_to_fulfil",
    "unknown channel": "unknown",
    "unknown department": "unknown",
    "unknown topic": "unknown",
    "bad advisor": "not_email",
    "boolean as text": "invalid",
    "channel as number": "invalid",
    "missing channel": "invalid",
    "unknown field": "invalid",
    "received malformed": "not_time",
    "received in the future": "future",
    "received before 1900": "too_early",
    "note too long": "too_long",
    "duplicate ref": "duplicate_ref",
    "bad ref": "invalid",
    "unknown office": "unknown",
    "body not an object": "invalid",
    "invalid UTF-8": "invalid_json",
    "not JSON": "invalid_json",
    "not declared JSON": "invalid",
    "no body": "invalid",
    "unknown state": "invalid",
    "limit zero": "invalid",
    "limit too large": "invalid",
    "limit not a number": "invalid",
    "forged cursor": "invalid",
    "cursor id past int4": "invalid",
    "cursor id past int8": "invalid",
    "cursor time before year 1 in UTC": "invalid",
    "cursor time after year 9999 in UTC": "invalid",
    "list bad advisor": "not_email",
    "list bad department": "unknown",
    "due unknown rule": "unknown",
    "due bad time": "not_time",
    "calendar year": "range",
    "report from before year 2": "invalid",
    "report to after year 9998": "invalid",
    "calendar not a year": "invalid",
    "undo unknown ref": "unknown_ref",
    "undo nothing to undo": "nothing_to_undo",
    "undo a stale event": "stale_event",
    "undo event as text": "invalid",
    "undo unknown field": "invalid",
    "undo body not an object": "invalid",
    "no such path": "not_found",
    "method not allowed": "method_not_allowed",
}


def seed_refusal_cases(web: Web) -> None:
    """2026-000001 replied, 2026-000002 closed, 2026-000003 open (received 25th 10:00)."""
    add(web)
    add(web)
    add(web)
    with web.client() as client:
        assert client.post("/api/v1/inquiries/2026-000001/reply").status_code == 200
        assert client.post("/api/v1/inquiries/2026-000002/close").status_code == 200


def send(client: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    if isinstance(body, bytes):
        return client.request(
            method, path, content=body, headers={"Content-Type": "application/json"}
        )
    if body is None:
        return client.request(method, path)
    if isinstance(body, tuple):
        content_type, content = body
        return client.request(method, path, content=content, headers={"Content-Type": content_type})
    return client.request(method, path, json=body)


def assert_error(
    response: httpx.Response, status: int, field: str | None, code: str | None = None
) -> None:
    """``code``: the one the answer must carry; without it any snake_case code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "field", "code"}, body
    assert isinstance(body["error"], str) and body["error"]
    assert "\n" not in body["error"]
    assert body["field"] == field, body
    assert re.fullmatch(r"[a-z]+(_[a-z0-9]+)*", body["code"]), body
    assert code is None or body["code"] == code, body


def test_every_refusal_has_its_status_field_and_code_and_writes_nothing(web: Web) -> None:
    assert set(REFUSAL_CODES) == {name for name, *_ in REFUSALS}
    seed_refusal_cases(web)
    before = register_rows(web.database_url)
    failures = []
    with web.client("admin") as client:
        for name, method, path, body, status, field in REFUSALS:
            response = send(client, method, path, body)
            try:
                assert_error(response, status, field, REFUSAL_CODES[name])
            except AssertionError as exc:
                failures.append(f"{name}: {exc}")
    assert failures == []
    assert register_rows(web.database_url) == before


def test_a_missing_or_unknown_token_is_401_and_a_role_without_the_right_403(web: Web) -> None:
    add(web)
    before = register_rows(web.database_url)
    path = "/api/v1/inquiries/2026-000001/reply"
    with web.client(None) as anonymous:
        response = anonymous.post(path)
        assert_error(response, 401, None, "unauthorized")
        assert_error(
            anonymous.post("/api/v1/inquiries/2026-000001/undo"), 401, None, "unauthorized"
        )
        assert response.headers["www-authenticate"].startswith("Bearer")
        basic = {"Authorization": "Basic eDp5"}
        assert_error(anonymous.post(path, headers=basic), 401, None, "unauthorized")
        wrong = {"Authorization": "Bearer sf_not-a-token"}
        assert_error(anonymous.post(path, headers=wrong), 401, None, "unauthorized")
        assert_error(anonymous.get("/api/v1/inquiries"), 401, None, "unauthorized")
        assert_error(anonymous.get("/api/v1/report"), 401, None, "unauthorized")
    with web.client("manager") as manager:
        assert_error(manager.post(path), 403, None, "forbidden")
        assert_error(manager.post("/api/v1/inquiries/2026-000001/undo"), 403, None, "forbidden")
        assert_error(manager.post("/api/v1/inquiries", json=EMAIL), 403, None, "forbidden")
        assert_error(manager.get("/api/v1/inquiries"), 403, None, "forbidden")
        assert_error(manager.get("/api/v1/inquiries/2026-000001"), 403, None, "forbidden")
        assert manager.get("/api/v1/report").status_code == 200
        refused = manager.get("/api/v1/inquiries")
    assert refused.json()["error"] == "the role manager may not read inquiries (token manager-bot)"
    with web.client("advisor") as advisor:
        assert_error(advisor.get("/api/v1/report"), 403, None, "forbidden")
        # what was refused, in words: recording an absence, not the permission "assign"
        absence = advisor.post(
            "/api/v1/absences", json={"advisor": "a@b.dk", "from": "2026-11-30", "to": "2026-12-01"}
        )
    assert_error(absence, 403, None, "forbidden")
    assert "manage absences and teams" in absence.json()["error"]
    assert "assign (" not in absence.json()["error"]
    assert register_rows(web.database_url) == before


def test_a_revoked_token_is_refused(web: Web) -> None:
    engine = make_engine(web.database_url)
    try:
        with transaction(session_factory(engine)) as session:
            access.revoke_token(session, "advisor-bot", NOW)
    finally:
        engine.dispose()
    with web.client("advisor") as client:
        assert_error(client.get("/api/v1/inquiries"), 401, None, "unauthorized")


def test_a_body_over_the_limit_is_413_whether_or_not_its_length_is_declared(web: Web) -> None:
    big = json.dumps({**EMAIL, "note": "x" * (web.settings.web.max_body_bytes + 10)}).encode()
    before = dump(web.database_url)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    with web.client() as client:
        declared = client.post(
            "/api/v1/inquiries", content=big, headers={"Content-Type": "application/json"}
        )
        assert_error(declared, 413, None, "body_too_large")
        streamed = client.post(
            "/api/v1/inquiries", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in streamed.request.headers  # sent chunked
        assert_error(streamed, 413, None, "body_too_large")
    assert register_rows(web.database_url) == {
        k: v for k, v in before.items() if k not in ("api_tokens", "users")
    }


# -- computations, reports, calendar ------------------------------------------------------
def test_due_report_and_calendar_answer_as_the_command_line(web: Web) -> None:
    add(web)
    with web.client("admin") as client:
        due = client.get(
            "/api/v1/due", params={"rule": "reply", "received": "2026-11-28T11:00"}
        ).json()
        assert due == {
            "rule": "reply",
            "schedule": "working_days",
            "hours": 24,
            "received_at": "2026-11-28T11:00:00+01:00",
            "warn_at": "2026-11-30T20:00:00+01:00",
            "due_at": "2026-12-01T00:00:00+01:00",  # Saturday: the clock starts Monday
        }
        explained = client.get(
            "/api/v1/due",
            params={"rule": "reply", "received": "2026-11-28T11:00", "explain": "true"},
        ).json()
        assert [s["date"] for s in explained["explanation"]["skipped"]] == [
            "2026-11-28",
            "2026-11-29",
        ]
        report = client.get(
            "/api/v1/report", params={"from": "2026-11-01", "to": "2026-11-30", "by": "channel"}
        ).json()
        assert report["from"] == "2026-11-01" and report["by"] == "channel"
        assert report["total"] == 1 and report["rows"][0]["key"] == "email"
        assert_error(
            client.get("/api/v1/report", params={"from": "2026-12-01", "to": "2026-11-01"}),
            422,
            None,
        )
        assert_error(client.get("/api/v1/report", params={"from": "1.12.2026"}), 422, "from")
        days = client.get("/api/v1/calendar/2026").json()
    christmas_eve = next(d for d in days if d["date"] == "2026-12-24")
    assert christmas_eve["name"] == "Juleaftensdag" and christmas_eve["closes_at"] is None


# -- the rest of the outside: OpenAPI, headers, health, metrics ---------------------------
def test_a_method_a_path_does_not_take_is_405_naming_every_method_it_does(web: Web) -> None:
    """RFC 9110: a 405 lists in Allow what the path takes. Starlette named only the first
    route whose path matched: ``Allow: POST`` for /api/v1/inquiries, which lists by GET."""
    with web.client("admin") as client:
        for path, methods in (
            ("/api/v1/inquiries", "GET, POST"),
            ("/api/v1/inquiries/2026-000001", "GET"),
            ("/api/v1/absences", "GET, POST"),
        ):
            refused = client.request("OPTIONS", path)
            assert_error(refused, 405, None)
            assert refused.headers["allow"] == methods, path
            assert client.request("DELETE", path).headers["allow"] == methods, path


def test_the_openapi_document_is_json_listing_every_api_path(web: Web) -> None:
    with web.client(None) as client:
        response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.text)
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) >= {
        "/api/v1/inquiries",
        "/api/v1/inquiries/{ref}",
        "/api/v1/inquiries/{ref}/{action}",
        "/api/v1/inquiries/{ref}/undo",
        "/api/v1/due",
        "/api/v1/report",
        "/api/v1/calendar/{year}",
        "/healthz",
    }
    assert set(document["paths"]["/api/v1/inquiries"]) == {"get", "post"}
    refusal = document["paths"]["/api/v1/inquiries"]["post"]["responses"]["422"]
    assert refusal["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error = document["components"]["schemas"]["ErrorBody"]
    assert set(error["properties"]) == {"error", "field", "code"}
    assert set(error["required"]) == {"error", "field", "code"}
    undo = document["paths"]["/api/v1/inquiries/{ref}/undo"]["post"]
    assert undo["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/UndoneDoc"
    )
    assert set(undo["responses"]) >= {"200", "404", "409", "422"}
    assert "event" in document["components"]["schemas"]["UndoBody"]["properties"]


def test_the_openapi_document_states_what_the_checks_take(web: Web) -> None:
    """A client reads the allowed values in the document, taken from the rules that check
    them (schemathesis sent a channel, a date and a year the checks refused, all valid by the
    document). The document only informs: a value it forbids gets the command line's own
    message, not pydantic's."""
    from tracker.core.calendar import FIRST_YEAR, LAST_YEAR
    from tracker.sla import Channel

    with web.client() as client:
        document = client.get("/api/v1/openapi.json").json()
        refused = client.post("/api/v1/inquiries", json={**EMAIL, "channel": "fax"})
    schemas = document["components"]["schemas"]
    assert schemas["NewInquiryBody"]["properties"]["channel"]["enum"] == [c.value for c in Channel]
    assert schemas["AbsenceBody"]["properties"]["from"]["format"] == "date"
    assert schemas["TeamBody"]["properties"]["name"]["maxLength"] == 64

    def parameter(path: str, method: str, name: str) -> dict[str, Any]:
        found = document["paths"][path][method]["parameters"]
        return next(p["schema"] for p in found if p["name"] == name)

    year = parameter("/api/v1/calendar/{year}", "get", "year")
    assert (year["minimum"], year["maximum"]) == (FIRST_YEAR, LAST_YEAR)
    assert parameter("/api/v1/report", "get", "to")["format"] == "date"
    assert parameter("/api/v1/teams/{name}", "delete", "name")["minLength"] == 1
    assert_error(refused, 422, "channel")
    assert refused.json()["error"].startswith("unknown channel 'fax' (one of phone, ")


def test_the_answers_are_exactly_the_shapes_the_openapi_document_gives(web: Web) -> None:
    created = add(web, note=NOTE, callback_requested=True)
    InquiryDoc.model_validate(created)
    with web.client() as client:
        paused = client.post("/api/v1/inquiries/2026-000001/pause", json={"at": "2026-11-25T11:00"})
        InquiryDoc.model_validate(paused.json())
        InquiryDoc.model_validate(client.get("/api/v1/inquiries/2026-000001").json())
        page = InquiryPage.model_validate(client.get("/api/v1/inquiries").json())
        refused = client.post("/api/v1/inquiries/2026-000001/pause")
    assert len(page.items) == 1
    ErrorBody.model_validate(refused.json())


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/inquiries", "/nowhere", "/metrics"])
def test_every_response_carries_the_security_headers(web: Web, path: str) -> None:
    with web.client(None) as client:
        headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_health_is_ok_and_metrics_count_requests_by_route_template(web: Web) -> None:
    ref = add(web)["ref"]
    with web.client() as client:
        client.get(f"/api/v1/inquiries/{ref}")
        client.get("/api/v1/inquiries/2026-123456")
    with web.client(None) as anonymous:
        health = anonymous.get("/healthz")
        metrics = anonymous.get("/metrics")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert (
        'svarfrist_http_requests_total{method="GET",route="/api/v1/inquiries/{ref:path}",'
        'status="200"} 1.0' in text
    )
    assert 'route="/api/v1/inquiries/{ref:path}",status="404"} 1.0' in text
    assert "svarfrist_http_request_duration_seconds_bucket" in text
    assert ref not in text and "2026-123456" not in text


def test_health_is_503_when_the_database_is_unreachable() -> None:
    from register_support import settings_for
    from web_server import serving

    from tracker.web.app import create_app

    # Nothing listens on port 1: the database is unreachable, the app itself is up.
    app = create_app(settings_for("postgresql+psycopg://svarfrist@127.0.0.1:1/nowhere"))
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        assert client.get("/metrics").status_code == 200


def test_the_default_recipient_rule_applies_to_the_api_as_to_add(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'nobody.db'}"
    with web_app(url, default_recipient=None) as web, web.client() as client:
        response = client.post("/api/v1/inquiries", json={**EMAIL, "advisor": None})
        assert_error(response, 422, "advisor", "no_recipient")
        assert "--" not in response.json()["error"]  # the API's words: no command-line option
        assert client.post("/api/v1/inquiries", json=EMAIL).status_code == 201
    assert RECIPIENT  # the default configuration of the other tests has one


@pytest.mark.parametrize(
    "due",
    [None, datetime(1772, 1, 2, 9, tzinfo=UTC), datetime(2100, 1, 5, 9, tzinfo=UTC)],
)
def test_a_cursor_at_any_deadline_the_calendar_can_compute_decodes_to_itself(
    due: datetime | None,
) -> None:
    """A deadline may fall in 2100 (received late in 2099, the last year a time may be
    typed in): its page's cursor is one this server gave out."""
    cursor = Cursor(due_at=due, id=17)
    assert Cursor.decode(cursor.encode()) == cursor
