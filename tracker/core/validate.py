"""Checks of one inquiry's fields, shared by ``add`` and ``import``: each raises BadInputError
naming the field and the bad value, or returns the value in its stored form.

Departments and topics come from configuration (PRODUCT.md), so neither is free text; the
note is the only free text and only its length is checked. No value of a note ever appears
in an error message.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, date, datetime

from tracker.core.calendar import COPENHAGEN
from tracker.errors import BadInputError, about
from tracker.sla import Channel

CHANNELS = frozenset(c.value for c in Channel)
BOOLEANS = {
    "true": True,
    "1": True,
    "yes": True,
    "ja": True,
    "false": False,
    "0": False,
    "no": False,
    "nej": False,
}
# A ref lands in e-mail subjects and headers: letters, digits and a few separators only.
REF_RE = re.compile(r"[^\W_][\w.\-/]{0,63}")
# An e-mail address, loosely: the mail server has the last word on deliverability.
EMAIL_RE = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+")
# The audit trail's actor is a login name, never free text.
ACTOR_RE = re.compile(r"[\w.@+\-]{1,64}")


def parse_time(text: str, what: str) -> datetime:
    """ISO 8601; with an offset as given, without one as Europe/Copenhagen wall time.

    A wall time skipped when DST starts is refused; one repeated when it ends is taken as
    its first occurrence (fold=0). A time too close to the ends of the datetime range to be
    converted (year 1, year 9999) is refused too. The command line and the CSV import
    both use this one function.
    """
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInputError(f"{what}: {text!r} is not an ISO 8601 time") from None
    try:
        if parsed.tzinfo is not None:
            parsed.astimezone(UTC)  # an offset that would leave the datetime range
            return parsed
        local = parsed.replace(tzinfo=COPENHAGEN)
        # A skipped wall time does not survive a round trip through UTC.
        round_trip = local.astimezone(UTC).astimezone(COPENHAGEN).replace(tzinfo=None)
    except OverflowError:
        raise BadInputError(f"{what}: {text} is outside the supported range of times") from None
    if round_trip != parsed:
        raise BadInputError(f"{what}: {text} does not exist in Europe/Copenhagen (DST change)")
    return local


def parse_date(text: str, what: str) -> date:
    """A local calendar date, YYYY-MM-DD (report periods)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInputError(f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None


def calendar_year(year: int, what: str) -> int:
    """A year whose closed days we list: the holiday data covers 1900-2100."""
    if not 1900 <= year <= 2100:
        raise BadInputError(f"{what}: {year} is outside 1900-2100")
    return year


def parse_bool(text: str, what: str) -> bool:
    try:
        return BOOLEANS[text.strip().lower()]
    except KeyError:
        raise BadInputError(
            f"{what}: {text!r} is not a boolean (true/false/1/0/yes/no/ja/nej)"
        ) from None


@about("channel")
def channel(value: str) -> str:
    if value not in CHANNELS:
        raise BadInputError(
            f"unknown channel {value!r} (one of {', '.join(c.value for c in Channel)})"
        )
    return value


@about("department")
def department(value: str, configured: Collection[str]) -> str:
    if value not in configured:
        raise BadInputError(f"unknown department {value!r} (see `departments` in the config)")
    return value


@about("topic")
def topic(value: str | None, configured: Collection[str]) -> str | None:
    if not value:
        return None
    if value not in configured:
        raise BadInputError(f"unknown topic {value!r} (see `topics` in the config)")
    return value


@about("advisor")
def advisor(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if len(value) > 320 or not EMAIL_RE.fullmatch(value):
        raise BadInputError(f"advisor {value!r} is not an e-mail address")
    return value


@about("note")
def note(value: str | None, max_length: int) -> str | None:
    if not value:
        return None
    if len(value) > max_length:
        raise BadInputError(
            f"note is {len(value)} characters, longer than note_max_length ({max_length})"
        )
    return value


@about("ref")
def ref(value: str) -> str:
    if not REF_RE.fullmatch(value):
        raise BadInputError(
            f"ref {value!r} must be 1-64 letters, digits, '.', '-', '/' or '_' "
            "starting with a letter or digit"
        )
    return value


def actor(value: str) -> str:
    if not ACTOR_RE.fullmatch(value):
        raise BadInputError(f"actor {value!r} must be a login name (letters, digits, .@+-_)")
    return value


def not_before(moment: datetime, received_at: datetime, what: str) -> datetime:
    """A fulfilment or pause cannot happen before the inquiry was received."""
    if moment < received_at:
        received = local_time(received_at)
        raise BadInputError(
            f"{what} {local_time(moment)} is before the inquiry was received ({received})"
        )
    return moment


def local_time(moment: datetime) -> str:
    """Local time with offset, to the second, for messages (as the CLI prints times)."""
    return moment.astimezone(COPENHAGEN).isoformat(timespec="seconds")
