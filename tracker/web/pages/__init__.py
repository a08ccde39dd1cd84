"""The browser pages: Jinja2 templates over the same store functions as the API.

``render`` is the one way a page is drawn: it passes the language's texts (``t``), the
logged-in user (or None) and the CSRF token every form must carry. Templates live in
``tracker/web/templates`` (``base.html`` is the layout every page extends); static files
(the stylesheet and the vendored htmx) in ``tracker/web/static``, served by the app itself:
offices run on closed networks, so nothing comes from a CDN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tracker.web.pages.texts import catalogue, word

WEB_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
STATIC_PREFIX = "/static"

TEMPLATES = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    # every .html template is escaped: department, topic and advisor names are user input
    autoescape=select_autoescape(["html"], default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    # The templates ship with the package and change only with it: no stat() of every
    # template (and of each it extends or includes) on every page.
    auto_reload=False,
)


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """``template`` drawn with ``context`` plus what the layout needs (the request, the
    language, the static prefix). Pages add ``user`` and ``csrf`` to ``context`` themselves
    where they have them; the layout shows neither when absent."""
    state = request.app.state.web
    language = state.settings.web.language
    page = TEMPLATES.get_template(template).render(
        {
            "request": request,
            "lang": language,
            "static": STATIC_PREFIX,
            "user": None,
            "csrf": None,
            "t": catalogue(language),
            "word": lambda value: word(language, value),
            **context,
        }
    )
    return HTMLResponse(page, status_code=status_code, headers=headers)
