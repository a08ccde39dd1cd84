"""Rendering, pure: an outbox row's kind and payload become the bytes of one e-mail.

Templates live in ``tracker/mail/templates/email/<language>/<kind>.{subject,txt,html}.j2``
(Danish by default, English by config): Jinja2 with ``StrictUndefined`` (a missing value is an
error, not an empty string) and autoescaping for the HTML part. Every message is
multipart/alternative text + HTML in UTF-8; a ``report`` also carries a CSV attachment.

Privacy: payloads hold only refs, rule names, configured department names, times and
aggregate figures, never an inquiry's note. Header safety: every header value has control
characters (CR, LF, ...) replaced, so nothing in a payload can add a header.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, formataddr, parseaddr
from functools import cache
from typing import Any
from urllib.parse import quote

import jinja2

from tracker.core.calendar import COPENHAGEN, MONTH_NAMES_DA, MONTH_NAMES_EN
from tracker.core.reminders import Kind

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
_MONTHS = {"da": MONTH_NAMES_DA, "en": MONTH_NAMES_EN}
_WEEKDAYS = {
    "da": ["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"],
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
}
_RULE_LABELS = {
    "da": {"reply": "svar", "callback": "opringning", "answer": "endeligt svar"},
    "en": {"reply": "reply", "callback": "call-back", "answer": "answer"},
}
_KIND_LABELS = {
    "da": {"due_soon": "Frist nærmer sig", "overdue": "Overskredet", "escalation": "Eskalering"},
    "en": {"due_soon": "Due soon", "overdue": "Overdue", "escalation": "Escalation"},
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
    """rule name -> the command that fulfils it (``reply``, ``callback``, ``close``)."""


@dataclass(frozen=True, kw_only=True)
class Envelope:
    """A rendered message: SMTP envelope plus the bytes to send."""

    sender: str
    recipient: str
    message_id: str
    data: bytes


def header_safe(value: str) -> str:
    """One line: control characters (CR/LF included) become one space."""
    return _CONTROL.sub(" ", value).strip()


@cache
def _sender(mail_from: str) -> tuple[str, str]:
    """The envelope sender and the From header for the configured address.

    Parsed once per address: parseaddr is a noticeable share of a message's CPU time
    when a sweep sends a thousand of them.
    """
    sender = parseaddr(header_safe(mail_from))[1] or header_safe(mail_from)
    return sender, formataddr(("Svarfrist", sender))


def message_id(key: str, row_id: int, mail_from: str) -> str:
    """A deterministic Message-ID, stored on the row and reused on every retry."""
    domain = _sender(mail_from)[0].rpartition("@")[2] or "svarfrist.invalid"
    local = re.sub(r"[^A-Za-z0-9.\-]", ".", key)
    return f"<svarfrist.{local}.{row_id}@{header_safe(domain)}>"


@cache
def _environment(html: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("tracker.mail", "templates/email"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        auto_reload=False,  # packaged templates do not change: no stat() per message
        trim_blocks=False,
    )


def format_deadline(moment: datetime, language: str) -> str:
    """``mandag 30. november 2026 kl. 15:00`` (local time, Europe/Copenhagen)."""
    local = moment.astimezone(COPENHAGEN)
    weekday = _WEEKDAYS[language][local.weekday()]
    month = _MONTHS[language][local.month - 1]
    if language == "da":
        return f"{weekday} {local.day}. {month} {local.year} kl. {local:%H:%M}"
    return f"{weekday} {local.day} {month} {local.year} at {local:%H:%M}"


def _item(payload: Mapping[str, Any], config: MailConfig, kind: str = "") -> dict[str, str]:
    """The template values of one obligation, from a payload's identifiers and times."""
    due = datetime.fromisoformat(str(payload["due_at"]))
    rule = str(payload["rule"])
    ref = str(payload["ref"])
    verb = config.commands.get(rule, "close")
    lang = config.language
    return {
        "ref": ref,
        "rule": rule,
        "rule_label": _RULE_LABELS[lang].get(rule, rule),
        "department": header_safe(str(payload["department"])),
        "deadline": format_deadline(due, lang),
        "deadline_iso": due.astimezone(COPENHAGEN).isoformat(timespec="seconds"),
        "command": f"svarfrist {verb} {shlex.quote(ref)}",
        "kind_label": _KIND_LABELS[lang].get(kind, kind),
    }


def _context(kind: str, payload: Mapping[str, Any], config: MailConfig) -> dict[str, Any]:
    lang = config.language
    base: dict[str, Any] = {"lang": lang, "footer": _FOOTER[lang]}
    if kind in (Kind.DUE_SOON, Kind.OVERDUE, Kind.ESCALATION):
        return base | _item(payload, config, kind)
    if kind == Kind.DIGEST:
        return base | {
            "day": str(payload["day"]),
            "due_today": [_item(p, config) for p in payload["due_today"]],
            "overdue": [_item(p, config) for p in payload["overdue"]],
        }
    raise ValueError(f"no templates for message kind {kind!r}")


def _render(name: str, context: Mapping[str, Any], config: MailConfig) -> tuple[str, str, str]:
    folder = config.language
    subject = _environment(False).get_template(f"{folder}/{name}.subject.j2").render(context)
    text = _environment(False).get_template(f"{folder}/{name}.txt.j2").render(context)
    html = (
        _environment(True)
        .get_template(f"{folder}/{name}.html.j2")
        .render({**context, "subject": subject})
    )
    return header_safe(subject), text, html


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
        return _report(payload, recipient, message_id, config, now)
    subject, text, html = _render(kind, _context(kind, payload, config), config)
    headers = {"X-Svarfrist-Kind": kind}
    if kind in (Kind.DUE_SOON, Kind.OVERDUE, Kind.ESCALATION):
        headers["X-Svarfrist-Ref"] = str(payload["ref"])
        headers["X-Svarfrist-Rule"] = str(payload["rule"])
    return _envelope(
        _alternative(text, html, message_id),
        subject=subject,
        extra=headers,
        recipient=recipient,
        msg_id=message_id,
        config=config,
        now=now,
    )


def render_catch_up(
    *,
    items: Sequence[tuple[str, Mapping[str, Any]]],
    recipient: str,
    message_id: str,
    config: MailConfig,
    now: datetime,
) -> Envelope:
    """Several reminders (kind, payload) in one message, after downtime (a digest kind)."""
    rows = [_item(payload, config, kind) for kind, payload in items]
    rows.sort(key=lambda r: (r["deadline_iso"], r["ref"]))
    context = {"lang": config.language, "footer": _FOOTER[config.language], "items": rows}
    subject, text, html = _render("catch_up", context, config)
    headers = {"X-Svarfrist-Kind": str(Kind.DIGEST)}
    return _envelope(
        _alternative(text, html, message_id),
        subject=subject,
        extra=headers,
        recipient=recipient,
        msg_id=message_id,
        config=config,
        now=now,
    )


# -- MIME, written directly ---------------------------------------------------------------
# The stdlib's email package took 1.2 ms a message here (header objects, folding, generator),
# more than rendering and sending together. These messages have a fixed, simple shape, so they
# are written directly: every header value is one line of ASCII (CR/LF removed, non-ASCII as
# RFC 2047 encoded words), bodies are base64 in UTF-8. Tests parse the result with the stdlib.
_CRLF = b"\r\n"
# An encoded word is at most 75 characters: "=?utf-8?b?" + base64 + "?=" leaves 63 for
# base64, that is 45 bytes of UTF-8.
_WORD_BYTES = 45


def _encode_header(value: str) -> str:
    """ASCII as is; otherwise RFC 2047 base64 encoded words, folded, never splitting a char."""
    value = header_safe(value)
    if value.isascii():
        return value
    words: list[str] = []
    chunk = b""
    for char in value:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(chunk.decode("utf-8"))
            chunk = b""
        chunk += encoded
    words.append(chunk.decode("utf-8"))
    return "\r\n ".join(
        "=?utf-8?b?" + base64.b64encode(w.encode("utf-8")).decode("ascii") + "?=" for w in words
    )


def _base64_body(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", _CRLF)


def _leaf(content_type: str, body: bytes, extra: str = "") -> bytes:
    head = f"Content-Type: {content_type}\r\n{extra}Content-Transfer-Encoding: base64\r\n\r\n"
    return head.encode("ascii") + _base64_body(body)


def _multipart(subtype: str, parts: Sequence[bytes], seed: str) -> bytes:
    # "=_" cannot occur in base64 bodies or in the parts' headers: a safe boundary.
    boundary = "=_svarfrist_" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:24]
    out = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()]
    for part in parts:
        out.append(f"--{boundary}\r\n".encode())
        out.append(part)
        out.append(_CRLF)
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def _alternative(text: str, html: str, seed: str) -> bytes:
    return _multipart(
        "alternative",
        [
            _leaf('text/plain; charset="utf-8"', text.encode("utf-8")),
            _leaf('text/html; charset="utf-8"', html.encode("utf-8")),
        ],
        seed + "/alternative",
    )


def _report(
    payload: Mapping[str, Any], recipient: str, msg_id: str, config: MailConfig, now: datetime
) -> Envelope:
    """The monthly management report: HTML + text alternative + the CSV as an attachment."""
    name = header_safe(str(payload["attachment_name"])).replace('"', "").replace("\\", "")
    if name.isascii():
        disposition = f'Content-Disposition: attachment; filename="{name}"\r\n'
    else:  # RFC 2231
        disposition = f"Content-Disposition: attachment; filename*=utf-8''{quote(name)}\r\n"
    csv = _leaf(
        'text/csv; charset="utf-8"', str(payload["attachment_csv"]).encode("utf-8"), disposition
    )
    alternative = _alternative(str(payload["text"]), str(payload["html"]), msg_id)
    return _envelope(
        _multipart("mixed", [alternative, csv], msg_id + "/mixed"),
        subject=str(payload["subject"]),
        extra={"X-Svarfrist-Kind": str(Kind.REPORT)},
        recipient=recipient,
        msg_id=msg_id,
        config=config,
        now=now,
    )


def _envelope(
    body: bytes,
    *,
    subject: str,
    extra: Mapping[str, str],
    recipient: str,
    msg_id: str,
    config: MailConfig,
    now: datetime,
) -> Envelope:
    sender, from_header = _sender(config.mail_from)
    to = header_safe(recipient)
    headers = {
        "From": from_header,
        "To": to,
        "Subject": subject,
        "Date": format_datetime(now.astimezone(COPENHAGEN)),
        "Message-ID": msg_id,
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
        **extra,
        "MIME-Version": "1.0",
    }
    head = "".join(f"{name}: {_encode_header(value)}\r\n" for name, value in headers.items())
    data = head.encode("ascii") + body
    return Envelope(sender=sender, recipient=to, message_id=msg_id, data=data)
