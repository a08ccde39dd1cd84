"""Checks of one inquiry's fields, shared by ``add`` and ``import``: each raises BadInputError
naming the field and the bad value, or returns the value in its stored form.

Departments and topics come from configuration (docs/operations.md), so neither is free text; the
note is the only free text and only its length is checked. No value of a note ever appears
in an error message.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime, timedelta

from tracker.core.calendar import (
    COPENHAGEN,
    FIRST_TIME_YEAR,
    FIRST_YEAR,
    LAST_TIME_YEAR,
    LAST_YEAR,
)
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
# One e-mail address, loosely: the mail server has the last word on deliverability. No
# spaces, CR/LF, commas or brackets, so it cannot smuggle a second recipient or a header;
# ``localhost`` is the one domain without a dot (the default sender, svarfrist@localhost).
EMAIL_RE = re.compile(r"[^@\s,;<>\"\x00]+@(?:[^@\s,;<>\"\x00]+\.[^@\s,;<>\"\x00]+|localhost)")
# The longest address SMTP carries (RFC 5321: 64 + 1 + 255).
EMAIL_MAX = 320
# Received times before this are typos (year 2 for 2026); before 1900 the zone database
# gives Copenhagen its local mean time (+00:50:20), and refs would get a short year.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
# What may separate a date from its time: ISO 8601's "T" (or, as commonly written, a space).
DATE_TIME_SEPARATORS = "Tt "
# The audit trail's actor is a login name, never free text.
ACTOR_RE = re.compile(r"[\w.@+\-]{1,64}")


def parse_time(text: str, what: str) -> datetime:
    """ISO 8601; with an offset as given, without one as Europe/Copenhagen wall time.

    A wall time skipped when DST starts is refused; one repeated when it ends is taken as
    its first occurrence (fold=0). A time too close to the ends of the datetime range to be
    converted (year 1, year 9999) is refused too, as is one in a year the calendar cannot
    compute deadlines in. The command line and the CSV import both use this one function.
    """
    stripped = text.strip()
    try:
        if not _iso_shaped(stripped):
            raise ValueError
        parsed = datetime.fromisoformat(stripped)
    except ValueError:
        raise BadInputError(f"{what}: {text!r} is not an ISO 8601 time").coded("not_time") from None
    try:
        if parsed.tzinfo is not None:
            # Inside the bounds no offset reaches either end: nothing to convert.
            if not FIRST_TIME_YEAR < parsed.year < LAST_TIME_YEAR:
                parsed.astimezone(UTC)  # an offset that would leave the datetime range
                _in_calendar_years(parsed, text, what)
            return parsed
        local = parsed.replace(tzinfo=COPENHAGEN)
        # A skipped wall time does not survive a round trip through UTC.
        round_trip = local.astimezone(UTC).astimezone(COPENHAGEN).replace(tzinfo=None)
    except OverflowError:
        raise BadInputError(f"{what}: {text} is outside the supported range of times").coded(
            "range"
        ) from None
    if round_trip != parsed:
        raise BadInputError(
            f"{what}: {text} does not exist in Europe/Copenhagen (DST change)"
        ).coded("dst_gap")
    _in_calendar_years(local, text, what)
    return local


def _iso_shaped(value: str) -> bool:
    """What fromisoformat lets through that ISO 8601 does not: a NUL (one after the time was
    ignored: "2026-12-01T10:00\x00" was 10:00), and any one character between a calendar date
    (YYYY-MM-DD or YYYYMMDD) and its time where only "T" or a space belong, so that
    "2026-12-01510:00", a typo, was 1 December at 10:00. Cheap: every time of an import
    passes here."""
    if "\x00" in value:
        return False
    if len(value) > 10 and value[4] == "-" and value[7] == "-":
        return value[10] in DATE_TIME_SEPARATORS
    if len(value) > 8 and value[:8].isdigit():
        return value[8] in DATE_TIME_SEPARATORS
    return True


def _in_calendar_years(moment: datetime, text: str, what: str) -> None:
    """A time whose local year the calendar has no closed days and schedules for is refused
    here, by the name of its field, rather than deep inside a deadline computation."""
    if FIRST_TIME_YEAR < moment.year < LAST_TIME_YEAR:
        return  # an offset moves the local year by one at most: no conversion needed
    try:
        year = moment.astimezone(COPENHAGEN).year
    except OverflowError:
        year = moment.year
    if not FIRST_TIME_YEAR <= year <= LAST_TIME_YEAR:
        raise BadInputError(
            f"{what}: {text} is outside the years the calendar supports "
            f"({FIRST_TIME_YEAR}-{LAST_TIME_YEAR})"
        ).coded("range")


def parse_date(text: str, what: str) -> date:
    """A local calendar date, YYYY-MM-DD (report periods)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInputError(f"{what}: {text!r} is not a date (YYYY-MM-DD)").coded(
            "not_date"
        ) from None


def calendar_year(year: int, what: str) -> int:
    """A year whose closed days we list: one the holiday data covers."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise BadInputError(f"{what}: {year} is outside {FIRST_YEAR}-{LAST_YEAR}").coded("range")
    return year


def parse_bool(text: str, what: str) -> bool:
    try:
        return BOOLEANS[text.strip().lower()]
    except KeyError:
        raise BadInputError(
            f"{what}: {text!r} is not a boolean (true/false/1/0/yes/no/ja/nej)"
        ).coded("not_bool") from None


@about("channel")
def channel(value: str) -> str:
    if value not in CHANNELS:
        raise BadInputError(
            f"unknown channel {value!r} (one of {', '.join(c.value for c in Channel)})"
        ).coded("unknown")
    return value


def text(value: str, what: str) -> str:
    """Any text we store or look up: valid Unicode and no NUL byte, else BadInputError.

    Bytes that are not UTF-8 reach Python's argv as lone surrogates, which no database
    driver can encode; PostgreSQL refuses NUL in text, so SQLite must not store one either
    (a register moved from one to the other would break). The value itself is never
    echoed: it may be a note.
    """
    if "\x00" in value:
        raise BadInputError(f"{what}: contains a NUL byte").coded("nul")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInputError(f"{what}: not valid UTF-8").coded("utf8") from None
    return value


@about("department")
def department(value: str, configured: Collection[str]) -> str:
    if value not in configured:
        raise BadInputError(_unknown("department", value, configured)).coded("unknown")
    return value


@about("topic")
def topic(value: str | None, configured: Collection[str]) -> str | None:
    if not value:
        return None
    if value not in configured:
        raise BadInputError(_unknown("topic", value, configured)).coded("unknown")
    return value


def _unknown(kind: str, value: str, configured: Collection[str]) -> str:
    """The message for a department or topic not configured: the valid ones, and the nearest
    by difflib's ratio, compared without case ("diverse" for "Diverse" is the common slip)."""
    text(value, kind)
    by_folded = {c.casefold(): c for c in configured}
    near = difflib.get_close_matches(value.casefold(), list(by_folded), n=1, cutoff=0.6)
    hint = f"; did you mean {by_folded[near[0]]!r}?" if near else ""
    listed = ", ".join(repr(c) for c in configured) or "none configured"
    return f"unknown {kind} {value!r} (one of: {listed}{hint})"


def address_form(value: str) -> str:
    """The form an address is kept and compared in: trimmed and lower-cased (checked by
    :func:`address`; a setting is checked when the configuration is loaded)."""
    return value.strip().lower()


def address(value: str, what: str) -> str:
    """One e-mail address, trimmed and lower-cased: ``Anna@Fredericia.DK`` and
    ``anna@fredericia.dk`` are one advisor in lists, reports and reminders. The one rule
    for advisors and for every address setting (mail_from, default_recipient, ...)."""
    text(value, what)
    value = address_form(value)
    if len(value) > EMAIL_MAX or not EMAIL_RE.fullmatch(value):
        raise BadInputError(f"{what} {value!r} is not one e-mail address").coded("not_email")
    return value


@about("advisor")
def advisor(value: str | None) -> str | None:
    if not value:
        return None
    return address(value, "advisor")


@about("note")
def note(value: str | None, max_length: int) -> str | None:
    if not value:
        return None
    text(value, "note")
    if len(value) > max_length:
        raise BadInputError(
            f"note is {len(value)} characters, longer than note_max_length ({max_length})"
        ).coded("too_long")
    return value


@about("ref")
def ref(value: str) -> str:
    text(value, "ref")
    if not REF_RE.fullmatch(value):
        raise BadInputError(
            f"ref {value!r} must be 1-64 letters, digits, '.', '-', '/' or '_' "
            "starting with a letter or digit"
        )
    return value


def ref_prefix(value: str) -> str:
    """The configured prefix of generated refs: the refs it makes must pass ``ref``."""
    if value:
        ref(f"{value}2026-000001")
    return value


def actor(value: str, what: str = "actor") -> str:
    """A name the audit trail records as who acted; ``what`` names it as the user gave it
    (``--actor``, a token's ``--name``)."""
    text(value, what)
    if not ACTOR_RE.fullmatch(value):
        raise BadInputError(f"{what} {value!r} must be a login name (letters, digits, .@+-_)")
    return value


def not_before(moment: datetime, received_at: datetime, what: str) -> datetime:
    """A fulfilment or pause cannot happen before the inquiry was received."""
    if moment < received_at:
        received = local_time(received_at)
        raise BadInputError(
            f"{what} {local_time(moment)} is before the inquiry was received ({received})"
        ).coded("before_receipt")
    return moment


def closes_after(
    moment: datetime, fulfilments: Iterable[tuple[str, datetime | None]], what: str
) -> datetime:
    """A closing cannot come before a fulfilment already recorded (``fulfilments``: each
    named as the caller's user knows it, with its time or None). Closing fulfils what is
    still pending at its time, so a closing dated before the recorded reply would count a
    late reply as met on time, at the closing."""
    for name, at in fulfilments:
        if at is not None and moment < at:
            raise BadInputError(
                f"{what} {local_time(moment)} is before the recorded {name} ({local_time(at)})"
            ).coded("before_fulfilment")
    return moment


def not_after(moment: datetime, now: datetime, skew: timedelta, what: str) -> datetime:
    """An event cannot be recorded as happening after ``now`` (plus the allowed clock skew
    between the office's machines): a year typed as 2031 could not be undone."""
    if moment - now > skew:  # a difference, not now + skew: that overflows in year 9999
        minutes = int(skew.total_seconds() // 60)
        raise BadInputError(
            f"{what} {local_time(moment)} is in the future "
            f"(now is {local_time(now)}; clock_skew_minutes allows {minutes})"
        ).coded("future")
    return moment


@about("received_at")
def received_at(moment: datetime, now: datetime, skew: timedelta) -> datetime:
    """When an inquiry was received: from 1900 on, and not in the future."""
    if moment < EARLIEST:
        raise BadInputError(f"received {local_time(moment)} is before 1900-01-01").coded(
            "too_early"
        )
    return not_after(moment, now, skew, "received")


def local_time(moment: datetime, *, exact: bool = False) -> str:
    """Local time with offset, to the second, for messages (as the CLI prints times);
    ``exact``: with the fraction of a second where the time has one, for the export, whose
    import must give back the same instant (a reply half a second late stays late)."""
    spec = "auto" if exact else "seconds"
    try:
        return moment.astimezone(COPENHAGEN).isoformat(timespec=spec)
    except OverflowError:  # the last hours of year 9999: shown as given
        return moment.isoformat(timespec=spec)
