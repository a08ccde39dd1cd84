"""One-click links in reminder mails: ``{web.base_url}/m/{token}``, signed, expiring, single-use.

The token is an itsdangerous ``URLSafeTimedSerializer`` value signed with ``web.secret_key``
under its own salt (a session cookie signed with the same key is no link). It names the
obligation (the inquiry's ref and the rule), the action that fulfils it (``reply`` or
``callback``), the mail's recipient (the audit trail's actor when the link is used) and a
random link id, which ``used_links`` records when the link acts: a link works once.

Here, below both the daemon (which writes links into mails) and the web app (which reads
them), so the two agree on the one format. The time a token is signed at, and the time it
is checked against, are parameters: this module reads no clock.

A token is signed, not encrypted: anyone holding it can read the ref, the rule and the
recipient's address, none of which is citizen data. It carries no note.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from tracker.sla import Fulfilment

SALT = "svarfrist.mail-link.v1"
"""Separates link tokens from anything else signed with the same key."""
PATH = "/m/"
LINK_ID_BYTES = 12
"""96 random bits: a link id nobody guesses, short enough to keep mails' URLs readable."""
ACTIONS = frozenset({Fulfilment.REPLY.value, Fulfilment.CALLBACK.value})
"""What a link may do. Closing (which fulfils ``answer``) ends the whole inquiry: too much
for one click in a mail, so those obligations keep the command line."""


class Refusal(StrEnum):
    """Why a token is refused before the database is asked."""

    FORGED = "forged"
    """Not signed with our key, altered, or not a token at all."""
    EXPIRED = "expired"


class LinkError(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"mail link refused: {refusal.value}")
        self.refusal = refusal


@dataclass(frozen=True, kw_only=True)
class Link:
    """What a token says, once its signature and age are checked."""

    ref: str
    rule: str
    action: str
    recipient: str
    link_id: str
    issued_at: datetime


def _serializer(key: str, at: datetime) -> URLSafeTimedSerializer:
    """A serializer whose clock is ``at``: for signing, the issue time; for checking, now."""
    seconds = int(at.timestamp())

    class _At(TimestampSigner):
        def get_timestamp(self) -> int:
            return seconds

    return URLSafeTimedSerializer(key, salt=SALT, signer=_At)


@dataclass(frozen=True, kw_only=True)
class LinkMaker:
    """Makes the links of the mails of one configuration (the daemon's and the web's)."""

    base_url: str
    key: str = field(repr=False)

    def url(self, *, ref: str, rule: str, action: str, recipient: str, now: datetime) -> str | None:
        """The link fulfilling ``rule`` of inquiry ``ref`` by ``action`` (what fulfils the
        rule in the inquiry's office), issued at ``now``; None where no link may do that
        action (closing: see ACTIONS)."""
        if action not in ACTIONS:
            return None
        data = {
            "r": ref,
            "u": rule,
            "a": action,
            "t": recipient,
            "l": secrets.token_urlsafe(LINK_ID_BYTES),
        }
        token = _serializer(self.key, now).dumps(data)
        return f"{self.base_url}{PATH}{token}"


def maker(base_url: str | None, key: str | None) -> LinkMaker | None:
    """The link maker of a configuration, or None (mails keep the command line) when the
    web app's address or its secret key is not configured."""
    if not base_url or not key:
        return None
    return LinkMaker(base_url=base_url.rstrip("/"), key=key)


def read(
    token: str, *, key: str, now: datetime, max_age: timedelta, skew: timedelta = timedelta(0)
) -> Link:
    """The link ``token`` names, checked against ``key`` and its age at ``now``.

    Raises LinkError: FORGED for a bad signature, an altered or malformed token; EXPIRED
    for one older than ``max_age``, or issued more than ``skew`` after ``now``. The daemon
    that signs and the web app that reads may run on machines whose clocks disagree by as
    much as the configured clock skew (``clock_skew_minutes``): a link clicked at once from
    a mail sent by a clock a little ahead still works.
    """
    # The serializer's clock ``skew`` ahead, its limit ``skew`` longer: issued <= now + skew
    # and now - issued <= max_age.
    serializer = _serializer(key, now + skew)
    try:
        data, issued = serializer.loads(
            token, max_age=int((max_age + skew).total_seconds()), return_timestamp=True
        )
    except SignatureExpired:
        raise LinkError(Refusal.EXPIRED) from None
    except (BadData, ValueError, UnicodeError):
        raise LinkError(Refusal.FORGED) from None
    return _link(data, issued)


def _link(data: Any, issued: datetime) -> Link:
    names = ("r", "u", "a", "t", "l")
    if not isinstance(data, dict) or not all(isinstance(data.get(n), str) for n in names):
        raise LinkError(Refusal.FORGED)
    if data["a"] not in ACTIONS:
        raise LinkError(Refusal.FORGED)
    return Link(
        ref=data["r"],
        rule=data["u"],
        action=data["a"],
        recipient=data["t"],
        link_id=data["l"],
        issued_at=issued.astimezone(UTC),
    )
