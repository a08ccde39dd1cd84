"""Reading a mail's header, pure: bytes in, a :class:`Mail` out, and what it is (:func:`verdict`).

Only the header is read (a 25 MB attachment is never fetched). Nothing here raises on bad
mail: an unparseable Date is None, a header in an unknown charset is read as Latin-1 with
replacement, a folded or 8-bit header is unfolded and kept, a subject with line breaks
(header injection) is one line. Loop signals as the helpdesks use them (Zammad, Znuny,
Frappe): RFC 3834 ``Auto-Submitted``, ``Precedence``, the X-Auto* family, list headers,
Exchange's rules loop, a null return path and ``multipart/report`` bounces.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from email.errors import MessageError
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime
from enum import StrEnum
from hashlib import sha256

REF_TAG = re.compile(r"\[SF\s+([A-Za-z0-9][A-Za-z0-9./_-]{0,63})\]")
_MESSAGE_ID = re.compile(r"<([^<>\s]{1,900})>")
_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:(.*)$")
# References kept when threading (and written into an acknowledgement): the first, the
# thread's root (RFC 5322 3.6.4: a trimmed References keeps it), and the newest ones.
MAX_REFERENCES = 20


class Verdict(StrEnum):
    CITIZEN = "citizen"
    """A mail from outside: a new inquiry, or a follow-up of a known one."""
    OWN = "own"
    """From the mailbox's own address: an advisor's reply (Bcc or Sent), else ignored."""
    STAFF = "staff"
    """From a colleague's address (``staff_domains``): an advisor's answer where it went to
    someone outside the office, else a forward: registered, never acknowledged."""
    SVARFRIST = "svarfrist"
    """One of Svarfrist's own messages (an acknowledgement's copy): nothing to do."""
    IGNORED = "ignored"


@dataclass(frozen=True, kw_only=True)
class Mail:
    """What intake uses of a message's header; held in memory only, never stored."""

    message_id: str | None
    references: tuple[str, ...]
    """In-Reply-To and References, newest last."""
    ref_tag: str | None
    sender: str | None
    """The From address, lower case."""
    reply_to: tuple[str, ...]
    """The Reply-To addresses, lower case (where the citizen is answered: see
    :func:`answer_address`)."""
    recipients: tuple[str, ...]
    """Delivered-To, X-Original-To, To, Cc: lower case, in that order."""
    written_to: tuple[str, ...]
    """To and Cc, lower case: whom the writer addressed (Delivered-To and X-Original-To
    name only where a server delivered it, the mailbox under any of its names)."""
    date: datetime | None
    loop: str | None
    """Why no inquiry and no acknowledgement (a bounce, an auto-reply, a list), else None."""
    no_auto_reply: bool
    """The sender asks for no automatic reply (``X-Auto-Response-Suppress: All`` or
    ``AutoReply``): a person's mail all the same, registered, but not acknowledged."""
    svarfrist_kind: str | None


def fields(raw: bytes) -> dict[str, list[str]]:
    """The header's fields by lower-case name, unfolded, each value decoded to one line."""
    found: dict[str, list[str]] = {}
    name: bytes | None = None
    value: list[bytes] = []

    def flush() -> None:
        if name is not None:
            text = _text(b" ".join(v.strip() for v in value))
            found.setdefault(name.decode("ascii").lower(), []).append(text)

    for line in raw.replace(b"\r\n", b"\n").split(b"\n"):
        if not line.strip():
            if name is not None and not line:
                break  # the blank line that ends the header
            continue
        if line[:1] in (b" ", b"\t"):
            value.append(line)
            continue
        match = _FIELD.match(line)
        if match is None:
            continue  # not a field (a broken line): skipped, the rest is still read
        flush()
        name, value = match.group(1), [match.group(2)]
    flush()
    return found


def _text(value: bytes) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("latin-1")  # 8-bit headers in an unknown charset: still read
    return " ".join(text.split())


def decoded(value: str) -> str:
    """An RFC 2047 header value as text. A word in an unknown charset, or whose bytes are
    not of the charset it names (Latin-1 labelled UTF-8), is read word by word, as Latin-1
    or with replacement, so the rest of it (a ref tag) is still read."""
    try:
        words = decode_header(value)
    except (MessageError, ValueError, UnicodeError, AssertionError):
        return value  # a broken encoded word (bad base64): the text as it came
    try:
        return " ".join(str(make_header(words)).split())
    except (MessageError, LookupError, ValueError, UnicodeError, AssertionError):
        return " ".join(" ".join(_word(data, charset) for data, charset in words).split())


def _word(data: bytes | str, charset: str | None) -> str:
    if isinstance(data, str):
        return data
    if charset is None:  # the text between encoded words, as decode_header gives it
        return data.decode("raw-unicode-escape", "replace")
    try:
        return data.decode(charset.split("*")[0], "replace")  # RFC 2231: charset*language
    except (LookupError, ValueError):  # unknown, or no name at all (a NUL in it)
        return data.decode("latin-1")


def _addresses(values: list[str]) -> list[str]:
    try:
        pairs = getaddresses(values)
    except RecursionError:  # comments nested hundreds deep: the stdlib parser recurses
        return []
    out = []
    for _, written in pairs:
        address = written.strip().lower()
        if "@" in address and not any(c.isspace() for c in address):
            out.append(address)
    return out


def _first(f: dict[str, list[str]], name: str) -> str:
    values = f.get(name)
    return values[0] if values else ""


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else None


def loop_signal(f: dict[str, list[str]], sender: str | None) -> str | None:
    """Why this message must get no inquiry and no acknowledgement, or None."""
    if _first(f, "return-path").strip() == "<>":
        return "bounce"
    if sender is not None and sender.split("@")[0] in ("mailer-daemon", "postmaster"):
        return "bounce"
    if _first(f, "content-type").lower().lstrip().startswith("multipart/report"):
        return "bounce"
    auto = _first(f, "auto-submitted").strip().lower()
    if auto and not auto.startswith("no"):
        return "auto-submitted"
    for name in ("x-autoreply", "x-autorespond"):
        if name in f:
            return "auto-reply"
    if _first(f, "precedence").strip().lower() in ("bulk", "list", "junk"):
        return "bulk"
    if "x-ms-exchange-inbox-rules-loop" in f or "x-loop" in f:
        return "loop"
    if "list-id" in f or "list-unsubscribe" in f:
        return "list"
    return None


def _suppresses_auto_replies(value: str) -> bool:
    """Exchange's ``X-Auto-Response-Suppress`` (MS-OXCMAIL): a list of what the sender wants
    no automatic answer of. Outlook sets it on mail a person wrote, so it marks no mail as
    automatic; ``All`` and ``AutoReply`` cover an acknowledgement."""
    wanted = {part.strip().lower() for part in value.split(",")}
    return bool(wanted & {"all", "autoreply"})


def _trimmed(refs: tuple[str, ...]) -> tuple[str, ...]:
    if len(refs) <= MAX_REFERENCES:
        return refs
    return refs[:1] + refs[1 - MAX_REFERENCES :]


def parse(raw: bytes) -> Mail:
    """The :class:`Mail` of a message's header bytes; never raises on bad mail."""
    f = fields(raw)
    senders = _addresses(f.get("from", []))
    sender = senders[0] if senders else None
    replies = _addresses(f.get("reply-to", []))
    ids = _MESSAGE_ID.findall(_first(f, "message-id"))
    refs = _MESSAGE_ID.findall(" ".join(f.get("references", [])))
    refs += _MESSAGE_ID.findall(" ".join(f.get("in-reply-to", [])))
    tag = REF_TAG.search(decoded(_first(f, "subject")))
    written_to = [a for name in ("to", "cc") for a in _addresses(f.get(name, []))]
    recipients: list[str] = []
    for name in ("delivered-to", "x-original-to"):
        recipients += _addresses(f.get(name, []))
    recipients += written_to
    kind = _first(f, "x-svarfrist-kind").strip()
    return Mail(
        message_id=ids[0] if ids else None,
        references=_trimmed(tuple(dict.fromkeys(refs))),
        ref_tag=tag.group(1) if tag else None,
        sender=sender,
        reply_to=tuple(replies),
        recipients=tuple(dict.fromkeys(recipients)),
        written_to=tuple(dict.fromkeys(written_to)),
        date=_date(_first(f, "date")),
        loop=loop_signal(f, sender),
        no_auto_reply=_suppresses_auto_replies(_first(f, "x-auto-response-suppress")),
        svarfrist_kind=kind or None,
    )


# Loop signals that no person of the office wrote an own-address mail. Not the X-Auto*
# family: Exchange puts X-Auto-Response-Suppress on mail people send too.
_NOT_AN_ANSWER = frozenset({"auto-submitted", "bounce"})


def answers_nobody(mail: Mail) -> bool:
    """An office's own out-of-office or rule reply (RFC 3834, or sent with a null return
    path): no person answered, so it fulfils no inquiry's answer (inbox and Sent folder)."""
    return mail.loop in _NOT_AN_ANSWER


def verdict(
    mail: Mail, own: frozenset[str], staff: frozenset[str] = frozenset()
) -> tuple[Verdict, str | None]:
    """What the message is, and why when it is ignored. ``own``: the mailbox's addresses;
    ``staff``: the domains of the office's own people."""
    if mail.svarfrist_kind is not None:
        return Verdict.SVARFRIST, None
    if mail.sender is not None and mail.sender in own and not _on_behalf(mail, own, staff):
        if answers_nobody(mail):
            return Verdict.IGNORED, mail.loop
        return Verdict.OWN, None
    if mail.loop is not None:
        return Verdict.IGNORED, mail.loop
    if mail.sender is None:
        return Verdict.IGNORED, "no sender"
    # A colleague's where it is answered at a colleague's address: a form or a colleague
    # sending From the office's domain with the citizen in Reply-To sends a citizen's mail.
    if is_staff(answer_address(mail, own) or mail.sender, staff):
        return Verdict.STAFF, None
    return Verdict.CITIZEN, None


def _on_behalf(mail: Mail, own: frozenset[str], staff: frozenset[str]) -> bool:
    """The mailbox's own address sent it to itself alone on a citizen's behalf (a
    self-service form From the office's address, the citizen in Reply-To): the citizen's
    mail. Its own mail to a citizen, or with no one outside to answer, stays the office's."""
    citizen = answer_address(mail, own)
    return citizen is not None and not is_staff(citizen, staff) and not to_outside(mail, own, staff)


def is_staff(address: str, staff: frozenset[str]) -> bool:
    """An address of one of the ``staff`` domains or of a sub-domain of one (lower case):
    ``borger.kommune.dk`` is ``kommune.dk``'s."""
    domain = address.rpartition("@")[2]
    return any(domain == d or domain.endswith("." + d) for d in staff)


def to_outside(mail: Mail, own: frozenset[str], staff: frozenset[str]) -> bool:
    """The writer addressed someone outside the office (To or Cc): not the mailbox, not a
    colleague. Not Delivered-To or X-Original-To: they name the mailbox as delivered to."""
    return any(a not in own and not is_staff(a, staff) for a in mail.written_to)


def answer_address(mail: Mail, own: frozenset[str]) -> str | None:
    """Where the citizen is answered (the acknowledgement): the first Reply-To address that
    is not one of the mailbox's own (``own``), else From. A Reply-To naming the office's own
    address (set by a form or a mail client) would send the acknowledgement to ourselves,
    where it is ignored, and the citizen would never get the deadline."""
    for address in (*mail.reply_to, mail.sender):
        if address is not None and address not in own:
            return address
    return None


def digest(key: bytes, value: str) -> str:
    """HMAC-SHA256 (hex) of a Message-ID or an address: a keyed hash, so the stored values
    cannot be tested against guessed addresses without the key."""
    return hmac.new(key, value.encode("utf-8", "surrogatepass"), sha256).hexdigest()
