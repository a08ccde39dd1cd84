"""``/offentlig/svartider`` and ``.json``: the public page of response times, over a real
uvicorn on SQLite and PostgreSQL with seeded inquiries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from register_support import NOW, context, engine_for, session_on, settings_for
from report_data import World, database
from sqlalchemy.orm import Session
from web_server import Web, web_app

from tracker.core.calendar import COPENHAGEN
from tracker.reports.build import build_report
from tracker.reports.public import Cell, PublicTimes, response_times, window
from tracker.reports.queries import GroupBy
from tracker.store import register
from tracker.store.db import make_engine, session_factory

SECRET_NOTE = "CPR 010190-1234 har ringet om sin sag"
ADVISOR = "hemmelig.raadgiver@fredericia.dk"
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=COPENHAGEN)


def local(day: datetime, hours: float) -> datetime:
    return day + timedelta(hours=hours)


def seed(database_url: str, *, residue: bool = True) -> dict[str, str]:
    """Inquiries in the 90 days before NOW (and one before them); returns a ref per group.

    Diverse: 6 e-mails answered after 0.5 ... 3 hours, one left unanswered and overdue.
    Teknik og Miljø: 4 e-mails answered: fewer than 5, suppressed. Børn og Unge: 5 phone
    calls asking for a call-back, called back after 1 ... 5 hours (no reply rule).
    ``residue``: one e-mail answered in Børn og Unge, its reply cell suppressed, so that the
    suppressed departments hold 5 together and the total less Diverse gives neither's.
    """
    settings = settings_for(database_url)
    refs: dict[str, str] = {}
    with engine_for(database_url) as engine, session_on(engine) as session:
        ctx = context(settings, NOW)

        def add(department: str, received: datetime, **extra: Any) -> str:
            new = register.NewInquiry(
                channel=extra.pop("channel", "email"),
                department=department,
                received_at=received,
                advisor=ADVISOR,
                note=SECRET_NOTE,
                **extra,
            )
            return register.add(session, ctx, new)

        for i in range(1, 7):
            ref = add("Diverse", MONDAY)
            register.reply(session, ctx, ref, local(MONDAY, i / 2))
            refs["Diverse"] = ref
        refs["overdue"] = add("Diverse", MONDAY)
        for i in range(1, 5):
            ref = add("Teknik og Miljø", MONDAY)
            register.reply(session, ctx, ref, local(MONDAY, i))
        for i in range(1, 6):
            ref = add("Børn og Unge", MONDAY, channel="phone", callback_requested=True)
            register.callback(session, ctx, ref, local(MONDAY, i))
        if residue:
            ref = add("Børn og Unge", MONDAY)
            register.reply(session, ctx, ref, local(MONDAY, 1))
        old = MONDAY - timedelta(days=100)
        refs["old"] = add("Diverse", old)
        register.reply(session, ctx, refs["old"], local(old, 1))
    return refs


@contextmanager
def public_app(database_url: str, **web: Any) -> Iterator[tuple[Web, dict[str, str]]]:
    with web_app(database_url, web=web) if web else web_app(database_url) as app:
        yield app, seed(database_url)


def get(web: Web, path: str) -> httpx.Response:
    with httpx.Client(base_url=web.url) as anonymous:  # no login, no token
        return anonymous.get(path)


def test_the_json_feed_has_its_shape_suppresses_small_cells_and_counts_90_days(
    database_url: str,
) -> None:
    with public_app(database_url) as (web, _):
        answer = get(web, "/offentlig/svartider.json")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "public, max-age=300"
    assert answer.headers["access-control-allow-origin"] == "*"
    body = answer.json()
    assert set(body) == {
        "from",
        "to",
        "days",
        "min_inquiries",
        "unit",
        "rules",
        "departments",
        "all",
    }
    assert body["days"] == 90 and body["min_inquiries"] == 5
    assert body["unit"] == "working hours" and body["rules"] == ["reply", "callback"]
    assert datetime.fromisoformat(body["to"]) == NOW
    assert datetime.fromisoformat(body["from"]) == NOW - timedelta(days=90)
    rows = {d["department"]: d["rules"] for d in body["departments"]}
    assert list(rows) == ["Diverse", "Teknik og Miljø", "Børn og Unge"]  # the configured order
    diverse = rows["Diverse"]["reply"]
    # Six answered in the window (not the one from 100 days ago); the overdue one counts
    # against the share on time as in the reports' compliance: 6 of 7.
    assert diverse == {
        "suppressed": False,
        "answered": 6,
        "median_hours": 1.8,  # 0.5 ... 3 hours: (1.5 + 2) / 2 = 1.75
        "p90_hours": 2.8,  # 2.5 + 0.5 * 0.5
        "on_time_percent": 85.7,
    }
    suppressed = {
        "suppressed": True,
        "answered": None,
        "median_hours": None,
        "p90_hours": None,
        "on_time_percent": None,
    }
    assert rows["Teknik og Miljø"]["reply"] == suppressed  # 4 answered: fewer than 5
    assert rows["Diverse"]["callback"] == suppressed  # nobody asked for a call-back
    assert rows["Børn og Unge"]["reply"] == suppressed
    assert rows["Børn og Unge"]["callback"]["answered"] == 5
    assert rows["Børn og Unge"]["callback"]["median_hours"] == 3.0
    assert body["all"]["reply"]["answered"] == 11  # 6 + 4 + 1: together they are enough


def test_no_suppressed_figure_is_the_total_less_the_departments_shown(
    database_url: str,
) -> None:
    # Without the residue only Teknik og Miljø (4 answered) is suppressed beside Diverse (6):
    # the total, 10, less Diverse's 6 would publish Teknik og Miljø's 4. Diverse, the
    # smallest department shown, is suppressed too; the total stays.
    with web_app(database_url) as web:
        seed(database_url, residue=False)
        body = get(web, "/offentlig/svartider.json").json()
    rows = {d["department"]: d["rules"]["reply"] for d in body["departments"]}
    assert rows["Teknik og Miljø"]["suppressed"] and rows["Diverse"]["suppressed"]
    assert body["all"]["reply"]["answered"] == 10
    for rule, total in body["all"].items():
        shown = [
            d["rules"][rule] for d in body["departments"] if not d["rules"][rule]["suppressed"]
        ]
        hidden = (total["answered"] or 0) - sum(cell["answered"] for cell in shown)
        assert total["suppressed"] or not 0 < hidden < body["min_inquiries"], rule


def test_the_figures_are_the_reports_own(database_url: str) -> None:
    # Only e-mails in Diverse carry a reply obligation alone: the report by department
    # over the same window must say the same median, 90th percentile and compliance.
    with public_app(database_url) as (web, _):
        body = get(web, "/offentlig/svartider.json").json()
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            report = build_report(session, by=GroupBy.DEPARTMENT, period=window(NOW), now=NOW)
    finally:
        engine.dispose()
    [row] = [r for r in report.rows if r.key == "Diverse"]
    cell = body["departments"][0]["rules"]["reply"]
    assert (cell["median_hours"], cell["p90_hours"]) == (row.median_hours, row.p90_hours)
    assert cell["on_time_percent"] == row.compliance


def test_the_page_is_danish_public_cacheable_and_shows_no_ref_advisor_or_note(
    database_url: str,
) -> None:
    with public_app(database_url) as (web, refs):
        page = get(web, "/offentlig/svartider")
        feed = get(web, "/offentlig/svartider.json")
    assert page.status_code == 200
    html = page.text
    assert 'lang="da"' in html and "<h1>Svartider</h1>" in html
    assert "Tid til kvittering" in html and "Tid til opringning" in html
    assert "færre end 5" in html and "1,8" in html and "85,7 %" in html
    assert "Gå til indhold" in html  # the site's layout
    assert page.headers["cache-control"] == "public, max-age=300"
    for secret in (*refs.values(), ADVISOR, SECRET_NOTE, "CPR"):
        assert secret not in html and secret not in feed.text


def test_only_the_public_pages_may_be_framed(database_url: str) -> None:
    with public_app(database_url) as (web, _):
        public = [
            get(web, p) for p in ("/offentlig/svartider?embed=1", "/offentlig/svartider.json")
        ]
        others = [get(web, p) for p in ("/healthz", "/m/not-a-link", "/api/v1/inquiries")]
    for answer in public:
        assert "x-frame-options" not in answer.headers
        assert "frame-ancestors *" in answer.headers["content-security-policy"]
        assert "script-src 'self'" in answer.headers["content-security-policy"]
    for answer in others:
        assert answer.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_embed_origins_names_who_may_frame_them(database_url: str) -> None:
    origins = ["https://www.fredericia.dk", "https://intra.fredericia.dk"]
    with public_app(database_url, embed_origins=origins) as (web, _):
        answer = get(web, "/offentlig/svartider?embed=1")
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors https://www.fredericia.dk https://intra.fredericia.dk" in policy


def test_embed_gives_the_page_without_the_site_chrome(database_url: str) -> None:
    with public_app(database_url) as (web, _):
        embedded = get(web, "/offentlig/svartider?embed=1")
        typo = get(web, "/offentlig/svartider?embed=%FF%00x")
    assert embedded.status_code == 200
    assert "<h1>Svartider</h1>" in embedded.text and "<main>" in embedded.text
    assert "Gå til indhold" not in embedded.text and 'class="top"' not in embedded.text
    assert "<script" not in embedded.text
    assert typo.status_code == 200 and "Gå til indhold" in typo.text  # the whole page


def test_the_page_is_english_where_configured(database_url: str) -> None:
    with public_app(database_url, language="en") as (web, _):
        page = get(web, "/offentlig/svartider")
    assert 'lang="en"' in page.text and "<h1>Response times</h1>" in page.text
    assert "fewer than 5" in page.text and "Time to acknowledgement" in page.text
    assert "85.7 %" in page.text


def test_an_empty_register_shows_every_cell_suppressed(database_url: str) -> None:
    with web_app(database_url) as web:
        body = get(web, "/offentlig/svartider.json").json()
    assert all(cell["suppressed"] for row in body["departments"] for cell in row["rules"].values())
    assert body["all"]["reply"]["suppressed"] is True


def test_a_suppressed_cell_of_few_answered_but_many_overdue_is_not_the_total_less_the_rest(
    database_url: str,
) -> None:
    # Diverse: 5 answered after 1 ... 5 hours, shown. Teknik og Miljø: one answered after 7
    # hours and 4 overdue: 5 met or overdue, but 1 answered, so suppressed. Were Diverse
    # shown, the total's 6 answered less Diverse's 5 would say Teknik og Miljø answered 1,
    # and the total's 90th percentile (5 + 0.5 * (x - 5) = 6.0) that citizen's 7 hours.
    settings = settings_for(database_url)
    with web_app(database_url) as web:
        with engine_for(database_url) as engine, session_on(engine) as session:
            ctx = context(settings, NOW)

            def add(department: str) -> str:
                new = register.NewInquiry(
                    channel="email", department=department, received_at=MONDAY
                )
                return register.add(session, ctx, new)

            for i in range(1, 6):
                register.reply(session, ctx, add("Diverse"), local(MONDAY, i))
            register.reply(session, ctx, add("Teknik og Miljø"), local(MONDAY, 7))
            for _ in range(4):
                add("Teknik og Miljø")  # overdue at NOW
        body = get(web, "/offentlig/svartider.json").json()
    rows = {d["department"]: d["rules"]["reply"] for d in body["departments"]}
    assert rows["Teknik og Miljø"]["suppressed"]
    total = body["all"]["reply"]
    shown = [cell for cell in rows.values() if not cell["suppressed"]]
    hidden = (total["answered"] or 0) - sum(cell["answered"] for cell in shown)
    assert total["suppressed"] or not 0 < hidden < body["min_inquiries"]
    assert rows["Diverse"]["suppressed"]  # the fewest shown goes with it
    assert total["answered"] == 6 and total["p90_hours"] == 6.0


def _replied(world: World, department: str, hours: list[int], **inquiry: Any) -> None:
    """One e-mail to ``department`` per entry of ``hours``, answered that many working hours
    after receipt on MONDAY; a negative entry is answered after -hours on a schedule no
    longer configured: met, but without a stored response time (untimed)."""
    received = MONDAY.astimezone(UTC)
    for h in hours:
        row = world.add(received_at=received, channel="email", department=department, **inquiry)
        world.oblige(
            row,
            "reply",
            schedule="working_days" if h > 0 else "retired_schedule",
            due_at=received + timedelta(days=1),
            met_at=received + timedelta(hours=abs(h)),
        )


def _cells(times: PublicTimes) -> dict[str | None, Cell]:
    return {
        **{row.department: row.cells["reply"] for row in times.rows},
        None: times.total.cells["reply"],
    }


def test_times_resting_on_fewer_than_5_response_times_are_not_shown(
    database_url: str,
) -> None:
    # Teknik og Miljø: 5 answered, but 4 of them without a stored response time: its count
    # and share are shown, its median and p90 (of one reply) are not. Diverse: 6 answered
    # and timed; were its times shown, the total's median and p90 over 7 response times
    # less Diverse's 6 would point at Teknik og Miljø's one reply (7 hours): withheld too.
    world = World()
    _replied(world, "Diverse", [1, 2, 3, 4, 5, 6])
    _replied(world, "Teknik og Miljø", [-1, -2, -3, -4, 7])
    with database(database_url, world) as engine, Session(engine) as session:
        times = response_times(
            session, rules=["reply"], departments=["Diverse", "Teknik og Miljø"], now=NOW
        )
    cells = _cells(times)
    teknik, diverse, total = cells["Teknik og Miljø"], cells["Diverse"], cells[None]
    assert (teknik.suppressed, teknik.answered, teknik.on_time_percent) == (False, 5, 100.0)
    assert (teknik.median_hours, teknik.p90_hours) == (None, None)
    assert (diverse.suppressed, diverse.answered) == (False, 6)
    assert (diverse.median_hours, diverse.p90_hours) == (None, None)
    assert (total.answered, total.median_hours, total.p90_hours) == (11, 4.0, 6.4)
    assert teknik.times_withheld and diverse.times_withheld and not total.times_withheld
    # Served: the times of a shown cell say "fewer than 5", as a suppressed cell does.
    with web_app(database_url) as web:
        body = get(web, "/offentlig/svartider.json").json()
        page = get(web, "/offentlig/svartider").text
    rows = {d["department"]: d["rules"]["reply"] for d in body["departments"]}
    assert rows["Teknik og Miljø"] == {
        "suppressed": False,
        "answered": 5,
        "median_hours": None,
        "p90_hours": None,
        "on_time_percent": 100.0,
    }
    assert body["all"]["reply"]["median_hours"] == 4.0
    row = page[page.index("Teknik og Miljø</th>") :]  # its row in the first table, reply
    row = row[: row.index("</tr>")]
    assert row.count("<td>færre end 5</td>") == 2 and "<td>5</td>" in row and "–" not in row


def test_the_page_of_every_office_shows_no_times_an_office_page_withholds(
    database_url: str,
) -> None:
    # Diverse in both offices: 6 timed in default; 5 answered in nord, one of them timed
    # (nord's page: count shown, times withheld). The page of every office would show
    # Diverse's times over 7 response times: less default's 6, nord's one.
    world = World()
    _replied(world, "Diverse", [1, 2, 3, 4, 5, 6], office="default")
    _replied(world, "Diverse", [-1, -2, -3, -4, 7], office="nord")
    with database(database_url, world) as engine, Session(engine) as session:
        parts = [
            response_times(
                session, rules=["reply"], departments=(), now=NOW, offices=frozenset({key})
            )
            for key in ("default", "nord")
        ]
        every = response_times(
            session, rules=["reply"], departments=["Diverse"], now=NOW, parts=parts
        )
    default, nord, together = (_cells(t) for t in (*parts, every))
    assert default["Diverse"].median_hours == 3.5
    assert (nord["Diverse"].answered, nord["Diverse"].median_hours) == (5, None)
    assert (together["Diverse"].answered, together["Diverse"].median_hours) == (11, None)
    assert together[None].median_hours is None  # the total: nord's total withholds them
    assert nord["Diverse"].times_withheld and together["Diverse"].times_withheld
