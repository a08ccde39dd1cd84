"""An office's own calendar where the web app explains and filters, over a real uvicorn on
SQLite and PostgreSQL: an inquiry's page explains its deadlines on its own office's closed
days (not the top level's), the API's list takes any office's department as a filter (that
office's only with ``?office=``), and the public page lists every office's departments."""

from __future__ import annotations

import html
from datetime import datetime

from page_support import SECRET, add_office_user, as_user
from web_server import EMAIL, web_app

from tracker.config import build_offices
from tracker.core.explain import explain

NORD = "Borgerservice Nord"
# Nord closes Thursday 26 November 2026, the day EMAIL's reply falls due at the top level.
OFFICES = {"nord": {"departments": [NORD], "calendar": {"closed_dates": ["2026-11-26"]}}}
ALMA = "alma@fredericia.dk"  # a user of every office


def test_the_inquiry_page_explains_on_its_own_office_s_calendar(database_url: str) -> None:
    web_settings = {"secret_key": SECRET, "insecure_http": True}
    with web_app(database_url, web=web_settings, offices=OFFICES) as web:
        add_office_user(database_url, ALMA, "*")
        with web.client("admin") as admin:
            top = admin.post("/api/v1/inquiries", json=EMAIL).json()
            nord = admin.post(
                "/api/v1/inquiries", json={**EMAIL, "department": NORD, "office": "nord"}
            ).json()
            by_department = admin.get("/api/v1/inquiries", params={"department": NORD})
            in_default = admin.get(
                "/api/v1/inquiries", params={"department": NORD, "office": "default"}
            )
        with as_user(web, ALMA) as alma:
            top_page = alma.get(f"/henvendelser/{top['ref']}").text
            nord_page = alma.get(f"/henvendelser/{nord['ref']}").text
        with web.client("admin") as anyone:
            feed = anyone.get("/offentlig/svartider.json").json()
    due = {v["ref"]: v["obligations"][0]["due_at"] for v in (top, nord)}
    assert due[nord["ref"]] > due[top["ref"]]  # nord skips its closed day
    office = build_offices(web.settings)["nord"]
    rule = office.rules[nord["obligations"][0]["rule"]]
    received = datetime.fromisoformat(nord["received_at"])
    lines = explain(office.calendar, received, rule.hours, rule.schedule).lines("da")
    skipped = [line for line in lines if line.startswith("Sprunget over")]
    assert skipped, lines
    for line in lines:
        assert html.escape(line) in nord_page
    assert html.escape(skipped[0]) not in top_page
    # the API's list: any office's department; with ?office= that office's only
    assert by_department.status_code == 200, by_department.text
    assert [i["ref"] for i in by_department.json()["items"]] == [nord["ref"]]
    assert in_default.status_code == 422 and in_default.json()["field"] == "department"
    # the public page: every office's departments, in the configuration's order
    shown = [d["department"] for d in feed["departments"]]
    assert shown == [*web.settings.departments, NORD]
