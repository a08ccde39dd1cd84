"""Addresses and MIME, pure: rendered text becomes an ``EmailMessage`` and the bytes to send.

The stdlib builds every message (``email.message.EmailMessage`` with ``email.policy.SMTP``):
CRLF line ends, folded headers, RFC 2047 only where RFC 2047 allows it (display names and
unstructured text such as the subject), never inside an address.

Addresses: a non-ASCII domain (``anne@københavn.dk``) is written in its IDNA form
(``anne@xn--kbenhavn-54a.dk``), which every server accepts. A non-ASCII local part
(``bjørn@kommune.dk``) has no ASCII form: such a message is serialised with
``email.policy.SMTPUTF8`` and the envelope says ``smtputf8``, so the transport asks the
server for SMTPUTF8 (RFC 6531) and fails the message for good where the server does not offer
it. Every header value has control characters (CR, LF, ...) replaced first, so nothing in a
payload can add a header.
"""

from __future__ import annotations

import binascii
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.errors import HeaderParseError
from email.generator import BytesGenerator
from email.header import Header
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, MIMEPart
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr
from functools import cache, lru_cache
from io import BytesIO
from typing import Any

from tracker.core.calendar import COPENHAGEN

# The line ends the stdlib's generator splits a body on (email.generator.NLCRE).
_LINE_END = re.compile(r"\r\n|\r|\n")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
# An empty RFC 2047 encoded word and the space before it (see _Policy.fold_binary).
_EMPTY_WORD = re.compile(rb" ?=\?[^?\s]+\?[bBqQ]\?\?=")
# Folds that change the words' spacing when read back (see _Policy.fold_binary): two
# encoded words with only white space between them, whose space a reader drops; white
# space on both sides of a line break, which a reader keeps twice; a line break straight
# after the header's name, which the stdlib's reader keeps as a leading space.
_BAD_FOLD = re.compile(rb"\?=\s+=\?|[ \t]\r?\n[ \t]|^[^:\s]+:\r?\n")
# Display name used when ``mail_from`` is a bare address.
DEFAULT_SENDER_NAME = "Svarfrist"
# The Message-ID domain when the sender address has none (it never should: config validates).
_FALLBACK_DOMAIN = "svarfrist.invalid"


class _Registry(HeaderRegistry):
    """The stdlib's header registry, with each header's class made once.

    ``HeaderRegistry`` builds a new class with ``type()`` on every header it parses, which
    made that the largest single cost of a message; the classes do not change.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


_REGISTRY = _Registry()

# The MIME structure is the same in every message. A fixed boundary cannot collide with
# content (RFC 2046, section 5.1.1): a line "--=_..." never occurs in a quoted-printable body,
# which writes "=" as "=3D", nor among headers, whose lines start with a name or a space.
_TEXT = 'text/plain; charset="utf-8"'
_HTML = 'text/html; charset="utf-8"'
_CSV = 'text/csv; charset="utf-8"'
_ALTERNATIVE = 'multipart/alternative; boundary="=_svarfrist.alternative"'
_MIXED = 'multipart/mixed; boundary="=_svarfrist.mixed"'
_QUOTED_PRINTABLE = "quoted-printable"
_STRUCTURE: dict[tuple[str, str], BaseHeader] = {
    (name.lower(), value): _REGISTRY(name, value)
    for name, values in (
        ("Content-Type", (_TEXT, _HTML, _CSV, _ALTERNATIVE, _MIXED)),
        ("Content-Transfer-Encoding", (_QUOTED_PRINTABLE,)),
    )
    for value in values
}


class _Policy(EmailPolicy):
    """``email.policy.SMTP`` that parses the MIME structure's headers once, not per message.

    The structure's headers are stored as their plain text (``set_raw``), which the generator
    writes as it is; it also reads them (type, boundary, transfer encoding) several times per
    part, and each read would parse the text again. Header objects are immutable, so the
    objects parsed at import serve every message.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        parsed = _STRUCTURE.get((name.lower(), value))
        return parsed if parsed is not None else super().header_fetch_parse(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        """A header as the generator writes it; a plain one-line ASCII value that fits on its
        line is written as it is, which is what the stdlib's ``_fold`` does with one, without
        its splitting and measuring of every line (the cost of a dozen headers per part)."""
        limit = self.max_line_length or sys.maxsize
        if (
            value.__class__ is str
            and value.isascii()
            and value.isprintable()  # no CR, LF or other line break: one line
            and len(name) + len(value) + 2 <= limit
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        folded = super().fold_binary(name, value)
        # Where a non-ASCII word begins at the very end of a full line, the stdlib's folder
        # (CPython 3.11) writes an empty encoded word (``=?utf-8?q??=``) before folding.
        # RFC 2047 forbids one (encoded-text is one character or more) and some readers
        # show it as it stands. Dropped with the space before it, the header says the
        # same: the fold after it still separates the words on either side.
        if b"??=" in folded:
            folded = _EMPTY_WORD.sub(b"", folded)
        if _BAD_FOLD.search(folded) is None or not issubclass(_REGISTRY[name], UnstructuredHeader):
            return folded
        # The same folder can leave the space between two words outside the encoded words
        # on either side of a fold, and readers ignore white space between encoded words
        # (RFC 2047, section 6.2): "frist for opfølgning" read "frist foropfølgning". Or it
        # ends a line with the space and starts the next with another: two spaces. The
        # stdlib's older encoder writes the whole value as encoded words, every space inside
        # one, which reads back as it was written: for unstructured text (a subject) only,
        # as RFC 2047 allows no encoded word in an address.
        text = str(value)
        encoded = Header(text, "utf-8", header_name=name).encode(linesep=self.linesep)
        return f"{name}: {encoded}{self.linesep}".encode("ascii")

    def clone(self, **kw: Any) -> _Policy:
        """This policy itself where ``kw`` changes nothing (a policy is immutable): the
        generator asks for a copy with the same line end for every part it writes."""
        if all(getattr(self, name) == value for name, value in kw.items()):
            return self
        return super().clone(**kw)


class _Boundary:
    """``get_boundary`` from the parsed Content-Type header (its ``params``), which the
    policy above keeps parsed, rather than by the stdlib's re-parsing of the header's text
    on every call; the same value for the boundaries of this module (plain tokens)."""

    def get_boundary(self, failobj: Any = None) -> Any:
        header = self.get("content-type")  # type: ignore[attr-defined]
        params = getattr(header, "params", None)
        if params is None:
            return super().get_boundary(failobj)  # type: ignore[misc]
        return params.get("boundary", failobj)


class _Message(_Boundary, EmailMessage):
    """A message whose boundary is read from its parsed header (see _Boundary)."""


class _Part(_Boundary, MIMEPart):
    """A part whose boundary is read from its parsed header (see _Boundary)."""


class _Generator(BytesGenerator):
    """``BytesGenerator`` writing a body in one piece rather than line by line.

    The stdlib writes each line and each line end separately (two writes and two encodes
    per line of a quoted-printable body); joining the lines with the policy's line end first
    writes the same bytes.
    """

    _NL: str  # the line end flatten() chose (the policy's), set by the stdlib

    def _write_lines(self, lines: str) -> None:
        if lines:
            self.write(self._NL.join(_LINE_END.split(lines)))


_ASCII_POLICY = _Policy(linesep="\r\n", header_factory=_REGISTRY)
_UTF8_POLICY = _ASCII_POLICY.clone(utf8=True)


class AddressError(ValueError):
    """An address that cannot be written into a message; sending it can never succeed."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"cannot send to address {address!r}: {reason}")
        self.address = address
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class Envelope:
    """A rendered message: SMTP envelope plus the bytes to send."""

    sender: str
    recipient: str
    message_id: str
    data: bytes
    smtputf8: bool = False
    """The envelope or headers hold a non-ASCII local part: only an SMTPUTF8 server can take it."""


def header_safe(value: str) -> str:
    """One line: control characters (CR/LF included) become one space."""
    return _CONTROL.sub(" ", value).strip()


@dataclass(frozen=True, kw_only=True)
class Mailbox:
    """An address as it goes on the wire: the domain in ASCII (IDNA), the local part as given."""

    local: str
    domain: str

    @property
    def addr_spec(self) -> str:
        return f"{self.local}@{self.domain}"

    @property
    def needs_smtputf8(self) -> bool:
        return not self.local.isascii()


@cache
def mailbox(address: str) -> Mailbox:
    """Parse one address; :class:`AddressError` when it is not one or its domain is invalid."""
    text = header_safe(address)
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or any(c in text for c in ' <>,;"'):
        raise AddressError(address, "not a single e-mail address")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise AddressError(address, f"the domain is not a valid name ({exc})") from exc
    return Mailbox(local=local, domain=ascii_domain.lower())


@cache
def sender(mail_from: str) -> tuple[str, Mailbox]:
    """The display name and the address of the configured ``mail_from``.

    Accepts ``addr``, ``Name <addr>`` and ``"Name, Dept" <addr>``; an unquoted comma in the
    name (``Fredericia Kommune, Borgerservice <addr>``) is taken as part of the name, which is
    what its writer meant. The name defaults to "Svarfrist".
    """
    text = header_safe(mail_from)
    name, addr = "", text
    if text.endswith(">") and "<" in text:
        before, _, inside = text[:-1].rpartition("<")
        name, addr = before.strip().strip('"').strip(), inside.strip()
    elif "<" not in text:
        name, addr = parseaddr(text)
        addr = addr or text
    return name or DEFAULT_SENDER_NAME, mailbox(addr)


def message_id(key: str, row_id: int, mail_from: str) -> str:
    """A deterministic Message-ID in the sender's own domain, reused on every retry."""
    try:
        domain = sender(mail_from)[1].domain
    except AddressError:
        domain = _FALLBACK_DOMAIN
    local = re.sub(r"[^A-Za-z0-9.\-]", ".", key)
    return f"<svarfrist.{local}.{row_id}@{domain}>"


@dataclass(frozen=True, kw_only=True)
class Content:
    """What a template produced, before it becomes MIME."""

    subject: str
    text: str
    html: str
    headers: Mapping[str, str]
    attachment: tuple[str, str] | None = None
    """(file name, CSV text) for the monthly report."""


# RFC 5322's recommended line length: a header this long or longer is folded by the policy.
_FOLD_AT = 78


def _put(message: EmailMessage, name: str, value: str) -> None:
    """Set one header, on one line, through the message's policy.

    A short ASCII value is stored as it is (``set_raw``): nothing to encode or fold, and the
    policy's parser costs more than the rest of a message. Anything else goes through the
    policy's header classes, which fold it and write RFC 2047 where RFC 2047 allows it.
    """
    value = header_safe(value)
    if value.isascii() and len(name) + len(value) + 2 <= _FOLD_AT:
        message.set_raw(name, value)
    else:
        message[name] = value


def _quoted_printable(text: str) -> str:
    """UTF-8 in quoted-printable, encoded by ``binascii`` (C).

    Quoted-printable is 7-bit safe on any server (no 8BITMIME needed) and stays readable
    raw; the email package's own encoder is pure Python and cost more than the rest of a
    message.
    """
    # Every line ends in a line break, the last one too, as ``set_content`` writes text.
    data = b"\n".join(text.encode("utf-8").splitlines()) + b"\n"
    return binascii.b2a_qp(data, istext=True).decode("ascii")


def _leaf(policy: EmailPolicy, content_type: str, text: str) -> MIMEPart:
    part = _Part(policy)
    part.set_raw("Content-Type", content_type)
    part.set_raw("Content-Transfer-Encoding", _QUOTED_PRINTABLE)
    part.set_payload(_quoted_printable(text))
    return part


def _multipart(part: MIMEPart, content_type: str, *parts: MIMEPart) -> MIMEPart:
    part.set_raw("Content-Type", content_type)
    for child in parts:
        part.attach(child)
    return part


def _structure(message: EmailMessage, policy: EmailPolicy, content: Content) -> None:
    """The body: text + HTML alternative, in a multipart/mixed with the attachment if any.

    The parts are put together from their headers (``set_raw``) and encoded payloads rather
    than through ``set_content``, whose content manager parses and rewrites the same
    Content-Type and Content-Transfer-Encoding headers for every part of every message.
    """
    message.set_raw("MIME-Version", "1.0")
    text = _leaf(policy, _TEXT, content.text)
    html = _leaf(policy, _HTML, content.html)
    if content.attachment is None:
        _multipart(message, _ALTERNATIVE, text, html)
        return
    filename, csv = content.attachment
    attachment = _leaf(policy, _CSV, csv)
    attachment.add_header("Content-Disposition", "attachment", filename=header_safe(filename))
    alternative = _multipart(_Part(policy), _ALTERNATIVE, text, html)
    _multipart(message, _MIXED, alternative, attachment)


@lru_cache(maxsize=256)
def _from(mail_from: str) -> tuple[Mailbox, str]:
    """The sender's mailbox and From value (the configured sender: the same in every message)."""
    name, box = sender(mail_from)
    # username/domain, not addr_spec: the stdlib refuses to parse a non-ASCII local part
    return box, str(Address(name, box.local, box.domain))


@lru_cache(maxsize=4096)
def _to(recipient: str) -> tuple[Mailbox, str]:
    """A recipient's mailbox and To value (a register has a few dozen advisors)."""
    box = mailbox(recipient)
    return box, str(Address("", box.local, box.domain))


@lru_cache(maxsize=16)
def _date(now: datetime) -> str:
    """The Date value (RFC 5322, Danish local time): one ``now`` serves a delivery round."""
    return format_datetime(now.astimezone(COPENHAGEN))


def build(
    content: Content,
    *,
    recipient: str,
    msg_id: str,
    mail_from: str,
    now: datetime,
    auto_submitted: str = "auto-generated",
) -> Envelope:
    """The message: text + HTML alternative (and the attachment), headers, envelope.

    ``now`` is the Date header (the time of sending), in Danish local time.
    ``auto_submitted``: RFC 3834's value; an acknowledgement answers a mail (auto-replied).
    """
    from_box, from_header = _from(mail_from)
    to_box, to_header = _to(recipient)
    utf8 = from_box.needs_smtputf8 or to_box.needs_smtputf8
    policy = _UTF8_POLICY if utf8 else _ASCII_POLICY
    message = _Message(policy=policy)
    try:
        _put(message, "From", from_header)
        _put(message, "To", to_header)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise AddressError(recipient, f"not a valid address ({exc})") from exc
    _put(message, "Subject", content.subject)
    message.set_raw("Date", _date(now))
    _put(message, "Message-ID", msg_id)
    message.set_raw("Auto-Submitted", auto_submitted)
    message.set_raw("X-Auto-Response-Suppress", "All")
    for header, value in content.headers.items():
        _put(message, header, value)
    _structure(message, policy, content)
    # What ``message.as_bytes()`` does, with the generator above.
    data = BytesIO()
    _Generator(data, mangle_from_=False, policy=policy).flatten(message)
    return Envelope(
        sender=from_box.addr_spec,
        recipient=to_box.addr_spec,
        message_id=msg_id,
        data=data.getvalue(),
        smtputf8=utf8,
    )
