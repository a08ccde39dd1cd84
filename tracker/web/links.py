"""``/m/{token}``: the one-click link of a reminder mail (tracker.mail.links makes them).

GET only shows what the link would do and a button; only the POST of that button acts.
Mail scanners (Microsoft Defender Safe Links and others) open every link in a mail, some
with a headless browser: a GET that acted would mark inquiries answered that nobody
answered, so the page has no script that submits it either.

The POST acts once, in one transaction: it records the link's id in ``used_links`` (a
second use, concurrent or later, collides on the primary key and writes nothing) and calls
the same register function as ``svarfrist reply``/``callback`` and the API, with the mail's
recipient as the audit trail's actor, marked ``(via e-mail-link)``.

Refusals are pages in the configured language with a 4xx status, and write nothing: 400 a
forged or altered token, 410 a used or expired one, 404 an inquiry that no longer exists,
409 an obligation already met or an inquiry closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.errors import BadInputError, ConflictError, UnknownRefError
from tracker.mail import links
from tracker.mail.render import format_deadline, rule_label
from tracker.store import register
from tracker.store.models import Inquiry, Obligation, UsedLink
from tracker.web.pages import render
from tracker.web.state import WebState, request_now, web_state

VIA = "(via e-mail-link)"
"""Appended to the actor in the audit trail: the event came from a mail's link."""

router = APIRouter(include_in_schema=False)

_TEXT = {
    "da": {
        "reply": "svar sendt",
        "callback": "ringet op",
        "confirm_title": "Bekræft: {action}",
        "confirm_lead": "Når du trykker på knappen, registreres det, at henvendelse {ref} "
        "har fået {action_phrase} nu. Fristen for {rule} er dermed opfyldt.",
        "phrase_reply": "svar",
        "phrase_callback": "en opringning",
        "button": "Bekræft: {action}",
        "ref": "Reference",
        "rule": "Regel",
        "deadline": "Frist",
        "done_title": "Registreret: {action}",
        "done_lead": "Henvendelse {ref} er markeret: {action}. Fristen for {rule} er opfyldt.",
        "refused_title": "Linket kan ikke bruges",
        "forged": "Linket er ugyldigt: det er ændret, afkortet eller ikke lavet af Svarfrist. "
        "Der er ikke registreret noget.",
        "expired": "Linket er udløbet. Der er ikke registreret noget. Brug den nyeste "
        "påmindelse, eller markér henvendelsen i Svarfrist.",
        "used": "Linket er allerede brugt: et link virker kun én gang. Der er ikke registreret "
        "noget nyt.",
        "unknown": "Henvendelsen findes ikke længere. Der er ikke registreret noget.",
        "met": "Fristen for {rule} på henvendelse {ref} er allerede opfyldt. Der er ikke "
        "registreret noget nyt.",
        "closed": "Henvendelse {ref} er lukket. Der er ikke registreret noget.",
    },
    "en": {
        "reply": "reply sent",
        "callback": "called back",
        "confirm_title": "Confirm: {action}",
        "confirm_lead": "When you press the button, inquiry {ref} is recorded as having had "
        "{action_phrase} now. That meets the deadline for the {rule}.",
        "phrase_reply": "a reply",
        "phrase_callback": "a call-back",
        "button": "Confirm: {action}",
        "ref": "Reference",
        "rule": "Rule",
        "deadline": "Deadline",
        "done_title": "Recorded: {action}",
        "done_lead": "Inquiry {ref} is marked: {action}. The deadline for the {rule} is met.",
        "refused_title": "This link cannot be used",
        "forged": "The link is not valid: it was changed, cut short or not made by Svarfrist. "
        "Nothing was recorded.",
        "expired": "The link has expired. Nothing was recorded. Use the latest reminder, or "
        "mark the inquiry in Svarfrist.",
        "used": "The link has been used already: a link works once. Nothing new was recorded.",
        "unknown": "The inquiry no longer exists. Nothing was recorded.",
        "met": "The deadline for the {rule} on inquiry {ref} is already met. Nothing new was "
        "recorded.",
        "closed": "Inquiry {ref} is closed. Nothing was recorded.",
    },
}


class Refused(Exception):
    """A link that cannot act: the page's status and the reason's text key."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class Target:
    """What a valid, unused link points at, as the confirmation page shows it."""

    link: links.Link
    due_at: datetime | None


State = Annotated[WebState, Depends(web_state)]
Now = Annotated[datetime, Depends(request_now)]


def _read(state: WebState, token: str, now: datetime) -> links.Link:
    key = state.settings.web.key()
    if key is None:  # no key: no link was ever signed by this installation
        raise Refused(400, "forged")
    try:
        return links.read(
            token,
            key=key.get_secret_value(),
            now=now,
            max_age=timedelta(days=state.settings.web.link_days),
            skew=timedelta(minutes=state.settings.clock_skew_minutes),
        )
    except links.LinkError as exc:
        status = 410 if exc.refusal is links.Refusal.EXPIRED else 400
        raise Refused(status, exc.refusal.value) from None


def _check(session: Session, link: links.Link, *, claimed: bool = False) -> Target:
    """Refuses a used link, an unknown inquiry, a met obligation or a closed inquiry.
    ``claimed``: the caller holds the link's used_links row (its primary key refuses a
    second use), so the row found is its own.

    Columns, not ORM objects: in the POST's transaction the register then loads the inquiry
    itself, locked, and must not be handed a copy read before another writer committed.
    """
    used = select(UsedLink.link_id).where(UsedLink.link_id == link.link_id)
    if not claimed and session.execute(used).first() is not None:
        raise Refused(410, "used")
    inquiry = session.execute(
        select(Inquiry.id, Inquiry.closed_at).where(Inquiry.ref == link.ref)
    ).first()
    if inquiry is None:
        raise Refused(404, "unknown")
    if inquiry.closed_at is not None:
        raise Refused(409, "closed")
    obligation = session.execute(
        select(Obligation.met_at, Obligation.due_at).where(
            Obligation.inquiry_id == inquiry.id, Obligation.rule == link.rule
        )
    ).first()
    if obligation is None:  # a signed token for a rule the inquiry lacks: not ours to act on
        raise Refused(400, "forged")
    if obligation.met_at is not None:
        raise Refused(409, "met")
    return Target(link=link, due_at=obligation.due_at)


def _words(state: WebState, link: links.Link) -> dict[str, str]:
    language = state.settings.web.language
    text = _TEXT[language]
    return {
        "ref": link.ref,
        "rule": rule_label(link.rule, language),
        "action": text[link.action],
        "action_phrase": text[f"phrase_{link.action}"],
    }


def _refused(
    request: Request, state: WebState, exc: Refused, link: links.Link | None
) -> HTMLResponse:
    text = _TEXT[state.settings.web.language]
    words = _words(state, link) if link is not None else {}
    return render(
        request,
        "link/refused.html",
        {"title": text["refused_title"], "message": text[exc.reason].format(**words)},
        status_code=exc.status,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/m/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str, state: State, now: Now) -> HTMLResponse:
    """The confirmation page: what the button will record. Reads only."""
    link: links.Link | None = None
    try:
        link = _read(state, token, now)
        with state.reading() as session:
            target = _check(session, link)
    except Refused as exc:
        return _refused(request, state, exc, link)
    language = state.settings.web.language
    text = _TEXT[language]
    words = _words(state, link)
    due = format_deadline(target.due_at, language) if target.due_at is not None else ""
    return render(
        request,
        "link/confirm.html",
        {
            "title": text["confirm_title"].format(**words),
            "lead": text["confirm_lead"].format(**words),
            "button": text["button"].format(**words),
            "labels": text,
            "words": words,
            "deadline": due,
            "action_url": f"{links.PATH}{token}",
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post("/m/{token}", response_class=HTMLResponse)
def act(request: Request, token: str, state: State, now: Now) -> HTMLResponse:
    """The button: record the link as used and fulfil the obligation, in one transaction."""
    link: links.Link | None = None
    try:
        link = _read(state, token, now)
        _fulfil(state, link, now)
    except Refused as exc:
        return _refused(request, state, exc, link)
    text = _TEXT[state.settings.web.language]
    words = _words(state, link)
    return render(
        request,
        "link/done.html",
        {"title": text["done_title"].format(**words), "lead": text["done_lead"].format(**words)},
        headers={"Cache-Control": "no-store"},
    )


def _fulfil(state: WebState, link: links.Link, now: datetime) -> None:
    """One transaction: the link's id into used_links first (a concurrent second use waits
    on, then collides with, this row), then the register's own reply/callback."""
    ctx = state.context(f"{link.recipient} {VIA}", now)
    try:
        with state.writing() as session:
            # The row before the checks: on PostgreSQL (READ COMMITTED) a second use waits
            # here for the first to commit and collides (410). Checked first, it could miss
            # the first's link row, then see its fulfilment and answer 409 instead. A refusal
            # by the checks rolls the row back with everything else.
            session.add(UsedLink(link_id=link.link_id, used_at=now))
            session.flush()
            _check(session, link, claimed=True)
            register.ACTIONS[link.action](session, ctx, link.ref, now)
    except IntegrityError:
        raise Refused(410, "used") from None
    except UnknownRefError:
        raise Refused(404, "unknown") from None
    except ConflictError:
        # The register's own refusal (already replied, closed): read again which it was.
        with state.reading() as session:
            _check(session, link)
        raise Refused(409, "met") from None
    except BadInputError:
        raise Refused(400, "forged") from None
