"""Checks of one inquiry's fields, shared by ``add`` and ``import``: each raises BadInputError
naming the field and the bad value, or returns the value in its stored form.

Departments and topics come from configuration (PRODUCT.md), so neither is free text; the
note is the only free text and only its length is checked. No value of a note ever appears
in an error message.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime

from tracker.core.calendar import COPENHAGEN, MAX_YEAR, MIN_YEAR
from tracker.errors import BadInputError
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
    converted (year 1, year 9999) is refused too, as is one in a year the calendar cannot
    compute deadlines in. The command line and the CSV import both use this one function.
    """
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInputError(f"{what}: {text!r} is not an ISO 8601 time") from None
    try:
        if parsed.tzinfo is not None:
            parsed.astimezone(UTC)  # an offset that would leave the datetime range
            _in_calendar_years(parsed, text, what)
            return parsed
        local = parsed.replace(tzinfo=COPENHAGEN)
        # A skipped wall time does not survive a round trip through UTC.
        round_trip = local.astimezone(UTC).astimezone(COPENHAGEN).replace(tzinfo=None)
    except OverflowError:
        raise BadInputError(f"{what}: {text} is outside the supported range of times") from None
    if round_trip != parsed:
        raise BadInputError(f"{what}: {text} does not exist in Europe/Copenhagen (DST change)")
    _in_calendar_years(local, text, what)
    return local


def _in_calendar_years(moment: datetime, text: str, what: str) -> None:
    """A time whose local year the calendar has no closed days and schedules for is refused
    here, by the name of its field, rather than deep inside a deadline computation."""
    if MIN_YEAR < moment.year < MAX_YEAR:
        return  # an offset moves the local year by one at most: no conversion needed
    try:
        year = moment.astimezone(COPENHAGEN).year
    except OverflowError:
        year = moment.year
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise BadInputError(
            f"{what}: {text} is outside the years the calendar supports ({MIN_YEAR}-{MAX_YEAR})"
        )


def parse_bool(text: str, what: str) -> bool:
    try:
        return BOOLEANS[text.strip().lower()]
    except KeyError:
        raise BadInputError(
            f"{what}: {text!r} is not a boolean (true/false/1/0/yes/no/ja/nej)"
        ) from None


def channel(value: str) -> str:
    if value not in CHANNELS:
        raise BadInputError(
            f"unknown channel {value!r} (one of {', '.join(c.value for c in Channel)})"
        )
    return value


def department(value: str, configured: Collection[str]) -> str:
    if value not in configured:
        raise BadInputError(f"unknown department {value!r} (see `departments` in the config)")
    return value


def topic(value: str | None, configured: Collection[str]) -> str | None:
    if not value:
        return None
    if value not in configured:
        raise BadInputError(f"unknown topic {value!r} (see `topics` in the config)")
    return value


def advisor(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if len(value) > 320 or not EMAIL_RE.fullmatch(value):
        raise BadInputError(f"advisor {value!r} is not an e-mail address")
    return value


def note(value: str | None, max_length: int) -> str | None:
    if not value:
        return None
    if len(value) > max_length:
        raise BadInputError(
            f"note is {len(value)} characters, longer than note_max_length ({max_length})"
        )
    return value


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
