"""``/offentlig/svartider`` and ``.json``: the public page of response times, no login.

Per department over the last 90 days (tracker.reports.public, computed the reports' way
from the stored response times): how many inquiries were answered, the median and 90th
percentile in working hours, the share answered on time; cells of fewer than 5 answered
inquiries suppressed, and the times of a cell shown where they rest on fewer than 5
response times. For the public: no ref, no advisor, no note.

Made to be embedded in the municipality's own site: ``?embed=1`` is the page without the
site's header, for an ``<iframe>``; the JSON is a plain feed any site may fetch (CORS ``*``).
The public pages are the only ones that may be framed (``web.embed_origins``; the
middleware sets their ``frame-ancestors``). Answers are public and may be cached for five
minutes, so a busy municipal front page costs one computation per five minutes.

``?kontor=KEY`` shows one office (its departments and rules, its inquiries only); an
unknown office is 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from tracker.config import Office as OfficeConfig
from tracker.config import departments_of
from tracker.mail.render import format_deadline, rule_label
from tracker.reports import public as figures
from tracker.sla import Fulfilment
from tracker.web.pages import render
from tracker.web.state import WebState, request_now, web_state

PREFIX = "/offentlig/"
EMBED_VALUES = frozenset({"1", "true", "ja", "yes"})
CACHE = {"Cache-Control": "public, max-age=300"}
# What the public is told: acknowledgement and call-back times (issue 14, the seed report).
PUBLIC_FULFILMENTS = (Fulfilment.REPLY, Fulfilment.CALLBACK)

router = APIRouter(include_in_schema=False)

_TEXT = {
    "da": {
        "title": "Svartider",
        "lead": "Hvor hurtigt kommunen svarer borgernes henvendelser, pr. afdeling. "
        "Henvendelser modtaget de seneste {days} dage, fra {start} til {end}. Tiderne er "
        "arbejdstimer: weekender, helligdage og lukkedage tæller ikke med.",
        "suppressed_note": "Er der færre end {min} besvarede henvendelser, vises tallene "
        "ikke: «færre end {min}». Det samme gælder median og 90 %, hvis de bygger på færre "
        "end {min} målte svartider.",
        "department": "Afdeling",
        "answered": "Besvaret",
        "median": "Median (arbejdstimer)",
        "p90": "90 % inden for (arbejdstimer)",
        "on_time": "Til tiden",
        "all": "Alle afdelinger",
        "suppressed": "færre end {min}",
        "missing": "–",
        "caption": "Tid til {rule}",
        "source": "Kilde: Svarfrist. Tallene opdateres hvert 5. minut.",
        "json": "Tallene som JSON",
    },
    "en": {
        "title": "Response times",
        "lead": "How quickly the municipality answers citizens' inquiries, by department. "
        "Inquiries received in the last {days} days, from {start} to {end}. Times are "
        "working hours: weekends, public holidays and closing days do not count.",
        "suppressed_note": "Where fewer than {min} inquiries were answered, the figures "
        "are not shown: “fewer than {min}”. So are the median and 90 % where they would "
        "rest on fewer than {min} measured response times.",
        "department": "Department",
        "answered": "Answered",
        "median": "Median (working hours)",
        "p90": "90 % within (working hours)",
        "on_time": "On time",
        "all": "All departments",
        "suppressed": "fewer than {min}",
        "missing": "–",
        "caption": "Time to {rule}",
        "source": "Source: Svarfrist. The figures are updated every 5 minutes.",
        "json": "The figures as JSON",
    },
}

State = Annotated[WebState, Depends(web_state)]
Now = Annotated[datetime, Depends(request_now)]


Office = Annotated[str | None, Query(alias="kontor")]


def _public_rules(chosen: list[OfficeConfig]) -> list[str]:
    """The rules any of the ``chosen`` offices has enabled that the public is told of."""
    return list(
        dict.fromkeys(
            name
            for o in chosen
            for name, rule in o.rules.items()
            if rule.enabled and rule.fulfilled_by in PUBLIC_FULFILMENTS
        )
    )


def _times(state: WebState, now: datetime, office: str | None) -> figures.PublicTimes:
    """The figures of every office, or of ``office`` alone (unknown: 404)."""
    key = (office or "").strip()
    if key and key not in state.offices:
        raise HTTPException(status_code=404)
    offices = frozenset({key}) if key else None
    # Every office's (or the one's) departments, and the rules any of them has enabled.
    rules = _public_rules([state.offices[key]] if key else list(state.offices.values()))
    departments = departments_of(state.offices, key or None)
    with state.reading() as session:
        # The page of every office withholds what each office's own page withholds.
        several = not key and len(state.offices) > 1
        parts = [
            figures.response_times(
                session,
                rules=rules,
                departments=(),
                now=now,
                offices=frozenset({other}),
                published=_public_rules([config]),
            )
            for other, config in (state.offices.items() if several else ())
        ]
        return figures.response_times(
            session, rules=rules, departments=departments, now=now, offices=offices, parts=parts
        )


def _cell_json(cell: figures.Cell) -> dict[str, Any]:
    return {
        "suppressed": cell.suppressed,
        "answered": cell.answered,
        "median_hours": cell.median_hours,
        "p90_hours": cell.p90_hours,
        "on_time_percent": cell.on_time_percent,
    }


@router.get(PREFIX + "svartider.json")
def feed(state: State, now: Now, office: Office = None) -> JSONResponse:
    """The figures as a plain JSON feed (docs/contract.md documents its shape)."""
    times = _times(state, now, office)
    body = {
        "from": times.start.isoformat(),
        "to": times.end.isoformat(),
        "days": figures.DAYS,
        "min_inquiries": figures.MIN_INQUIRIES,
        "unit": "working hours",
        "rules": list(times.rules),
        "departments": [
            {
                "department": row.department,
                "rules": {rule: _cell_json(row.cells[rule]) for rule in times.rules},
            }
            for row in times.rows
        ],
        "all": {rule: _cell_json(times.total.cells[rule]) for rule in times.rules},
    }
    return JSONResponse(body, headers={**CACHE, "Access-Control-Allow-Origin": "*"})


def _number(value: float | None, language: str, text: dict[str, str], suffix: str = "") -> str:
    if value is None:
        return text["missing"]
    shown = f"{value:.1f}{suffix}"
    return shown.replace(".", ",") if language == "da" else shown


def _shown(cell: figures.Cell, language: str, text: dict[str, str]) -> list[str]:
    """The cell's four figures as the page prints them."""
    if cell.suppressed:
        return [text["suppressed"]] * 4
    times = [_number(cell.median_hours, language, text), _number(cell.p90_hours, language, text)]
    return [
        str(cell.answered),
        *([text["suppressed"]] * 2 if cell.times_withheld else times),
        _number(cell.on_time_percent, language, text, " %"),
    ]


@router.get(PREFIX + "svartider", response_class=HTMLResponse)
def page(
    request: Request,
    state: State,
    now: Now,
    embed: Annotated[str | None, Query()] = None,
    office: Office = None,
) -> HTMLResponse:
    """The page; ``?embed=1`` without the site's header, for an ``<iframe>``. Any other
    value of ``embed`` gives the whole page: a public page has no error for a typo; an
    unknown ``kontor`` is 404 (the figures of no office)."""
    times = _times(state, now, office)
    language = state.settings.web.language
    text = {
        k: v.format(min=figures.MIN_INQUIRIES) if "{min}" in v else v
        for k, v in _TEXT[language].items()
    }
    tables = [
        {
            "id": f"regel-{rule}",
            "caption": text["caption"].format(rule=rule_label(rule, language)),
            "rows": [
                (row.department, _shown(row.cells[rule], language, text)) for row in times.rows
            ],
            "total": _shown(times.total.cells[rule], language, text),
        }
        for rule in times.rules
    ]
    lead = text["lead"].format(
        days=figures.DAYS,
        start=format_deadline(times.start, language),
        end=format_deadline(times.end, language),
    )
    return render(
        request,
        "public/embed.html" if embed in EMBED_VALUES else "public/svartider.html",
        {"text": text, "lead": lead, "tables": tables},
        headers=CACHE,
    )
