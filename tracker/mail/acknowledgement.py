"""The acknowledgement ("kvittering") of a citizen's mail, pure: the promise, as an e-mail.

It answers the citizen's message (``In-Reply-To``/``References``, ``Auto-Submitted:
auto-replied`` per RFC 3834, so well-behaved autoresponders do not answer it back), carries
the ref tag ``[SF REF]`` in the subject (the citizen's replies thread by it) and states the
absolute deadline of the answer. No text from the citizen's mail is repeated in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tracker.mail.message import Content, Envelope, build, header_safe
from tracker.mail.render import MailConfig, _templates, format_promise

KIND = "acknowledgement"
_FOOTER = {
    "da": "Dette er en automatisk kvittering.",
    "en": "This is an automatic acknowledgement.",
}


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
) -> Envelope:
    """The acknowledgement to ``recipient``; ``now`` is its Date (the time of sending)."""
    lang = config.language
    context = {
        "lang": lang,
        "footer": _FOOTER[lang],
        "ref": ref,
        "received": format_promise(received_at, lang),
        "deadline": format_promise(due_at, lang) if due_at is not None else "",
        "department": header_safe(department),
    }
    content = _templates(KIND, context, config)
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
