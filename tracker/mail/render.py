"""Rendering, pure: an outbox row's kind and payload become one e-mail (``message.build``).

Templates live in ``tracker/mail/templates/email/<language>/<kind>.{subject,txt,html}.j2``
(Danish by default, English by config): Jinja2 with ``StrictUndefined`` (a missing value is an
error, not an empty string) and autoescaping for the HTML part. Every message is
multipart/alternative text + HTML in UTF-8; a ``report`` also carries a CSV attachment.

What a reminder says: the ref, the rule in the mail's language, the deadline, the channel,
topic, department and time of receipt, and whose inquiry it is (an escalation goes to a lead,
who needs to know the owner). The delivery step adds those inquiry facts to the payload when
it claims the row (``notify``), so a reminder describes the inquiry as it is when sent.

Privacy: payloads hold only refs, rule and channel names, configured department and topic
names, addresses, times and aggregate figures, never an inquiry's note.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

import jinja2

from tracker.core.calendar import COPENHAGEN, MONTH_NAMES_DA, MONTH_NAMES_EN
from tracker.core.reminders import Kind
from tracker.mail.links import LinkMaker
from tracker.mail.message import (
    AddressError,
    Content,
    Envelope,
    build,
    header_safe,
    message_id,
)

__all__ = [
    "AddressError",
    "Envelope",
    "MailConfig",
    "format_deadline",
    "format_promise",
    "header_safe",
    "message_id",
    "render",
    "render_combined",
    "rule_label",
]

_MONTHS = {"da": MONTH_NAMES_DA, "en": MONTH_NAMES_EN}
_WEEKDAYS = {
    "da": ["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"],
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
}
_RULE_LABELS = {
    "da": {"reply": "kvittering", "callback": "opringning", "answer": "svar"},
    "en": {"reply": "acknowledgement", "callback": "call-back", "answer": "answer"},
}
_CHANNEL_LABELS = {
    "da": {
        "phone": "telefon",
        "sms": "sms",
        "email": "e-mail",
        "letter": "brev",
        "digital_post": "Digital Post",
        "in_person": "personligt fremmøde",
    },
    "en": {
        "phone": "phone",
        "sms": "text message",
        "email": "e-mail",
        "letter": "letter",
        "digital_post": "Digital Post",
        "in_person": "in person",
    },
}
_KIND_LABELS = {
    "da": {"due_soon": "Frist nærmer sig", "overdue": "Overskredet", "escalation": "Eskalering"},
    "en": {"due_soon": "Due soon", "overdue": "Overdue", "escalation": "Escalation"},
}
_WORDS = {
    "da": {"none": "ikke angivet", "no_advisor": "ingen rådgiver tildelt"},
    "en": {"none": "not given", "no_advisor": "no advisor assigned"},
}
# Greetings by local hour: (first hour, greeting); the last one that has begun applies.
_GREETINGS = {
    "da": ((0, "God morgen"), (12, "God eftermiddag"), (18, "God aften")),
    "en": ((0, "Good morning"), (12, "Good afternoon"), (18, "Good evening")),
}
# What a one-click link in a mail does, by action (tracker.mail.links.ACTIONS).
_ACTION_LABELS = {
    "da": {"reply": "svar sendt", "callback": "ringet op"},
    "en": {"reply": "reply sent", "callback": "called back"},
}
_FOOTER = {
    "da": "Automatisk besked fra Svarfrist. Svar ikke på denne e-mail.",
    "en": "An automatic message from Svarfrist. Do not reply to this e-mail.",
}


@dataclass(frozen=True, kw_only=True)
class MailConfig:
    """What rendering needs from the settings."""

    mail_from: str
    language: str = "da"
    commands: Mapping[str, str] = field(default_factory=dict)
    """rule name -> the command that fulfils it (``reply``, ``callback``, ``close``), in the
    default office."""
    office_commands: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """office key -> its own ``commands``: an office may have rules of its own, or fulfil a
    rule otherwise. A payload names its inquiry's office."""
    links: LinkMaker | None = None
    """Makes the one-click links to the web app; None: the mails show the command line."""


def plural(count: int, one: str, many: str) -> str:
    """``1 frist``, ``3 frister``: the count with the right form of the noun."""
    return f"{count} {one if count == 1 else many}"


def greeting(now: datetime, language: str) -> str:
    """The greeting for the local hour (Europe/Copenhagen, where the reader is)."""
    hour = now.astimezone(COPENHAGEN).hour
    return [text for first, text in _GREETINGS[language] if hour >= first][-1]


@cache
def _environment(html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tracker.mail", "templates/email"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        auto_reload=False,  # packaged templates do not change: no stat() per message
        trim_blocks=False,
    )
    env.filters["plural"] = plural
    # Jinja's default globals (range, dict, lipsum, cycler, joiner, namespace) are used by no
    # mail template, and every render and include copies them into its new context through
    # a ChainMap: a quarter of the cost of a message's three templates.
    env.globals.clear()
    return env


@cache
def _template(html: bool, path: str) -> jinja2.Template:
    """A compiled template, looked up once per file (the environment's own cache takes a
    lock and a loader lookup on every call)."""
    return _environment(html).get_template(path)


def format_deadline(moment: datetime, language: str, *, letter: bool = False) -> str:
    """``mandag 30. november 2026 kl. 15:00`` (local time, Europe/Copenhagen); English
    ``Monday 30 November 2026 at 15:00``. ``letter``: the form of a Danish letter, as an
    acknowledgement promises a date (``tirsdag den 15. december 2026 kl. 12.00``)."""
    local = moment.astimezone(COPENHAGEN)
    weekday = _WEEKDAYS[language][local.weekday()]
    month = _MONTHS[language][local.month - 1]
    if language != "da":
        return f"{weekday} {local.day} {month} {local.year} at {local:%H:%M}"
    if letter:
        return f"{weekday} den {local.day}. {month} {local.year} kl. {local:%H.%M}"
    return f"{weekday} {local.day}. {month} {local.year} kl. {local:%H:%M}"


_COVER = {
    "da": (
        "{whose} {advisor}, som er fraværende til og med {until}; du modtager {it} {why}.",
        {"one": ("Henvendelsen tilhører", "den"), "many": ("Disse henvendelser tilhører", "dem")},
        {"substitute": "som stedfortræder", "team": "som medlem af rådgiverens team",
         "office": "som kontorets modtager"},
    ),
    "en": (
        "{whose} {advisor}, who is absent up to and including {until}; you receive {it} {why}.",
        {"one": ("This inquiry belongs to", "it"), "many": ("These inquiries belong to", "them")},
        {"substitute": "as their substitute", "team": "as a member of their team",
         "office": "as the office's recipient"},
    ),
}  # fmt: skip


def cover_line(cover: Mapping[str, Any] | None, language: str, *, many: bool = False) -> str:
    """Whose inquiry a covering recipient gets, and why (``tracker.core.cover``); "" if none."""
    if not cover:
        return ""
    sentence, whose, why = _COVER[language]
    day = date.fromisoformat(str(cover["until"]))
    until = f"{_WEEKDAYS[language][day.weekday()]} {day.day}{'.' if language == 'da' else ''} "
    until += f"{_MONTHS[language][day.month - 1]} {day.year}"
    words, it = whose["many" if many else "one"]
    reason = why.get(str(cover.get("because")), "")
    return sentence.format(
        whose=words, advisor=header_safe(str(cover["advisor"])), until=until, it=it, why=reason
    ).replace(" .", ".")


Linker = Callable[[str, str, str], str | None]
"""(ref, rule, action) -> the one-click link of one message's recipient, or None."""


def _linker(config: MailConfig, recipient: str, now: datetime) -> Linker | None:
    """The links of one message: issued to ``recipient`` at ``now`` (the time of sending,
    from which a link's days count), each with its own random id."""
    links = config.links
    if links is None:
        return None
    return lambda ref, rule, action: links.url(
        ref=ref, rule=rule, action=action, recipient=recipient, now=now
    )


def rule_label(rule: str, language: str) -> str:
    """A rule's name in words (``kvittering``, ``opringning``); unknown rules as named."""
    return _RULE_LABELS[language].get(rule, rule)


def format_promise(moment: datetime, language: str) -> str:
    """The answer date an acknowledgement promises (``format_deadline``'s letter form)."""
    return format_deadline(moment, language, letter=True)


def _item(
    payload: Mapping[str, Any], config: MailConfig, kind: str = "", link: Linker | None = None
) -> dict[str, str]:
    """The template values of one obligation, from a payload's identifiers and times."""
    due = datetime.fromisoformat(str(payload["due_at"]))
    rule = str(payload["rule"])
    ref = str(payload["ref"])
    office = payload.get("office")
    commands = config.office_commands.get(str(office), config.commands)
    verb = commands.get(rule, "close")
    lang = config.language
    words = _WORDS[lang]
    channel = payload.get("channel")
    received = payload.get("received_at")
    url = link(ref, rule, verb) if link is not None else None
    return {
        "ref": ref,
        "rule": rule,
        "rule_label": rule_label(rule, lang),
        "link": url or "",
        "action_label": _ACTION_LABELS[lang].get(verb, ""),
        "department": header_safe(str(payload["department"])),
        "deadline": format_deadline(due, lang),
        "deadline_iso": due.astimezone(COPENHAGEN).isoformat(timespec="seconds"),
        "command": f"svarfrist {verb} {shlex.quote(ref)}",
        "kind": kind,
        "kind_label": _KIND_LABELS[lang].get(kind, kind),
        "channel": _CHANNEL_LABELS[lang].get(str(channel), str(channel)) if channel else "",
        "topic": header_safe(str(payload.get("topic") or words["none"])),
        "received": format_deadline(datetime.fromisoformat(str(received)), lang)
        if received
        else "",
        "owner": header_safe(str(payload.get("advisor") or words["no_advisor"])),
        "cover": cover_line(payload.get("cover"), lang),
    }


def _base(config: MailConfig, now: datetime) -> dict[str, Any]:
    lang = config.language
    return {"lang": lang, "footer": _FOOTER[lang], "greeting": greeting(now, lang)}


def _context(
    kind: str,
    payload: Mapping[str, Any],
    config: MailConfig,
    now: datetime,
    link: Linker | None = None,
) -> dict[str, Any]:
    base = _base(config, now)
    if kind in (Kind.DUE_SOON, Kind.OVERDUE, Kind.ESCALATION):
        return base | _item(payload, config, kind, link)
    if kind == Kind.DIGEST:
        section = {
            "due_today": [_item(p, config, link=link) for p in payload["due_today"]],
            "overdue": [_item(p, config, link=link) for p in payload["overdue"]],
        }
        if payload.get("cover"):  # an absent advisor's digest: its items apart (below)
            cover = {"cover": cover_line(payload["cover"], config.language, many=True)}
            return base | {"day": str(payload["day"]), "due_today": [], "overdue": [],
                           "reminders": [], "covered": [cover | section]}  # fmt: skip
        return base | {"day": str(payload["day"]), "reminders": [], "covered": []} | section
    raise ValueError(f"no templates for message kind {kind!r}")


def _templates(name: str, context: Mapping[str, Any], config: MailConfig) -> Content:
    folder = config.language
    if name == Kind.DIGEST:  # the summary counts what is listed, absent advisors' included
        sections = [context, *context.get("covered", [])]
        context = {
            **context,
            "today_count": sum(len(section["due_today"]) for section in sections),
            "overdue_count": sum(len(section["overdue"]) for section in sections),
        }
    subject = _template(False, f"{folder}/{name}.subject.j2").render(context)
    text = _template(False, f"{folder}/{name}.txt.j2").render(context)
    html = _template(True, f"{folder}/{name}.html.j2").render({**context, "subject": subject})
    return Content(subject=header_safe(subject), text=text, html=html, headers={})


def render(
    *,
    kind: str,
    payload: Mapping[str, Any],
    recipient: str,
    message_id: str,
    config: MailConfig,
    now: datetime,
) -> Envelope:
    """One outbox row as an e-mail. ``now`` is the Date header (the time of sending)."""
    if kind == Kind.REPORT:
        content = Content(
            subject=str(payload["subject"]),
            text=str(payload["text"]),
            html=str(payload["html"]),
            headers={"X-Svarfrist-Kind": str(Kind.REPORT)},
            attachment=(str(payload["attachment_name"]), str(payload["attachment_csv"])),
        )
    else:
        link = _linker(config, recipient, now)
        content = _templates(kind, _context(kind, payload, config, now, link), config)
        headers = {"X-Svarfrist-Kind": kind}
        if kind in (Kind.DUE_SOON, Kind.OVERDUE, Kind.ESCALATION):
            headers["X-Svarfrist-Ref"] = str(payload["ref"])
            headers["X-Svarfrist-Rule"] = str(payload["rule"])
        content = Content(
            subject=content.subject, text=content.text, html=content.html, headers=headers
        )
    return build(
        content, recipient=recipient, msg_id=message_id, mail_from=config.mail_from, now=now
    )


def render_combined(
    *,
    items: Sequence[tuple[str, Mapping[str, Any]]],
    recipient: str,
    message_id: str,
    config: MailConfig,
    now: datetime,
) -> Envelope:
    """Several rows (kind, payload) for one recipient as one message (a digest kind).

    With a digest among them: the digest, and below it the reminders it does not already list
    (an obligation is listed once). Without: a catch-up after downtime, every reminder listed.
    """
    digests = [p for k, p in items if k == Kind.DIGEST]
    digest = next((p for p in digests if not p.get("cover")), digests[0] if digests else None)
    link = _linker(config, recipient, now)
    reminders = [_item(p, config, k, link) for k, p in items if k != Kind.DIGEST]
    reminders.sort(key=lambda r: (r["deadline_iso"], r["ref"]))
    if digest is not None:
        context = _context(Kind.DIGEST, digest, config, now, link)
        for other in digests:  # a covered advisor's digest joins as its own section
            if other is not digest:
                context["covered"] += _context(Kind.DIGEST, other, config, now, link)["covered"]
        listed = {
            (i["ref"], i["rule"])
            for section in [context, *context["covered"]]
            for i in section["due_today"] + section["overdue"]
        }
        context["reminders"] = [r for r in reminders if (r["ref"], r["rule"]) not in listed]
        name = str(Kind.DIGEST)
    else:
        context = _base(config, now) | {"items": reminders}
        name = "catch_up"
    content = _templates(name, context, config)
    content = Content(
        subject=content.subject,
        text=content.text,
        html=content.html,
        headers={"X-Svarfrist-Kind": str(Kind.DIGEST)},
    )
    return build(
        content, recipient=recipient, msg_id=message_id, mail_from=config.mail_from, now=now
    )
