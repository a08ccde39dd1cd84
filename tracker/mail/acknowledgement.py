"""The acknowledgement ("kvittering") of a citizen's mail, pure: the promise, as an e-mail.

It answers the citizen's message (``In-Reply-To``/``References``, ``Auto-Submitted:
auto-replied`` per RFC 3834, so well-behaved autoresponders do not answer it back), carries
the ref tag ``[SF REF]`` in the subject (the citizen's replies thread by it) and states the
absolute deadline of the answer. No text from the citizen's mail is repeated in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

import jinja2

from tracker.mail.message import Content, Envelope, build, header_safe
from tracker.mail.render import MailConfig, _templates, format_promise

KIND = "acknowledgement"
_FOOTER = {
    "da": "Dette er en automatisk kvittering.",
    "en": "This is an automatic acknowledgement.",
}


@cache
def _environment(template_dir: str, html: bool) -> jinja2.Environment:
    """The office's own templates (``<template_dir>/<language>/acknowledgement.*.j2``) before
    the built-in ones, which fill in any file it does not have (and ``_base.html.j2``)."""
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(template_dir),
                jinja2.PackageLoader("tracker.mail", "templates/email"),
            ]
        ),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )


def _content(context: Mapping[str, Any], config: MailConfig, template_dir: str | None) -> Content:
    if template_dir is None:
        return _templates(KIND, context, config)
    name = f"{config.language}/{KIND}"
    subject = _environment(template_dir, False).get_template(f"{name}.subject.j2").render(context)
    text = _environment(template_dir, False).get_template(f"{name}.txt.j2").render(context)
    html = (
        _environment(template_dir, True)
        .get_template(f"{name}.html.j2")
        .render({**context, "subject": subject})
    )
    return Content(subject=header_safe(subject), text=text, html=html, headers={})


def render_acknowledgement(
    *,
    ref: str,
    received_at: datetime,
    due_at: datetime | None,
    department: str,
    recipient: str,
    in_reply_to: str | None,
    references: Sequence[str],
    message_id: str,
    config: MailConfig,
    now: datetime,
    template_dir: str | None = None,
) -> Envelope:
    """The acknowledgement to ``recipient``; ``now`` is its Date (the time of sending).

    ``template_dir``: the office's own wording (``[intake] template_dir``). Its templates see
    ``ref``, ``received``, ``deadline``, ``department``, ``footer`` and ``lang`` only: nothing
    of the citizen's mail is ever given to them."""
    lang = config.language
    context = {
        "lang": lang,
        "footer": _FOOTER[lang],
        "ref": ref,
        "received": format_promise(received_at, lang),
        "deadline": format_promise(due_at, lang) if due_at is not None else "",
        "department": header_safe(department),
    }
    content = _content(context, config, template_dir)
    headers = {"X-Svarfrist-Kind": KIND, "X-Svarfrist-Ref": ref}
    if in_reply_to:
        headers["In-Reply-To"] = f"<{in_reply_to}>"
    chain = [*references, *([in_reply_to] if in_reply_to else [])]
    if chain:
        headers["References"] = " ".join(f"<{m}>" for m in dict.fromkeys(chain))
    return build(
        Content(subject=content.subject, text=content.text, html=content.html, headers=headers),
        recipient=recipient,
        msg_id=message_id,
        mail_from=config.mail_from,
        now=now,
        auto_submitted="auto-replied",
    )
