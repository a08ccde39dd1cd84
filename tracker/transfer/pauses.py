"""The ``pauses`` column of the CSV format (docs/contract.md "CSV import/export", extended).

A cell holds zero or more ISO 8601 intervals separated by a space, in time order: each
``start/end``, an open pause (still waiting for the citizen) as ``start/``, and only the last
may be open. Times are written like the other time columns of an export (local with offset,
to the second) and read like them (naive = Europe/Copenhagen wall time, via
validate.parse_time), so within a cell a time takes the ``T`` form: the space separates pauses.
Empty means no pauses.

The checks are the ones the register's ``pause``/``resume``/``close`` enforce, so a file can
hold exactly the pauses a register can: none before receipt, none ending before it starts,
none starting before the previous one ended (touching and zero-length pauses are allowed),
and on a closed inquiry none open (closing ends an open pause) and none starting or ending
after the closing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tracker.core import validate
from tracker.core.calendar import Pause
from tracker.errors import BadInputError

COLUMN = "pauses"


def format_pauses(pauses: Iterable[tuple[datetime, datetime | None]]) -> str:
    """An inquiry's pauses (in time order) as the cell's text; "" for none."""

    # The export's form of every time (with the fraction of a second where it has one).
    def fmt(moment: datetime) -> str:
        return validate.local_time(moment, exact=True)

    return " ".join(f"{fmt(start)}/{'' if end is None else fmt(end)}" for start, end in pauses)


def parse_pauses(
    text: str, received_at: datetime | None, closed_at: datetime | None
) -> tuple[Pause, ...]:
    """The cell's pauses, checked against each other and the row's received_at/closed_at
    (None: not known, because that column is bad itself; those checks are then skipped).

    Raises BadInputError naming the column and the first problem found.
    """
    pauses: list[Pause] = []
    for number, interval in enumerate(text.split(), start=1):
        start_text, slash, end_text = interval.partition("/")
        if not slash or not start_text or "/" in end_text:
            raise BadInputError(
                f"{COLUMN}: pause {number}: {interval!r} is not an interval "
                "(start/end, or start/ while still paused)"
            )
        start = validate.parse_time(start_text, f"{COLUMN}: pause {number} start")
        end = validate.parse_time(end_text, f"{COLUMN}: pause {number} end") if end_text else None
        pauses.append(Pause(start=start, end=end))
    for number, pause in enumerate(pauses, start=1):
        _check(number, pause, pauses[number - 2] if number > 1 else None, received_at, closed_at)
        if pause.end is None and number < len(pauses):
            raise BadInputError(f"{COLUMN}: pause {number} is open but is not the last")
    return tuple(pauses)


def _check(
    number: int,
    pause: Pause,
    previous: Pause | None,
    received_at: datetime | None,
    closed_at: datetime | None,
) -> None:
    what = f"{COLUMN}: pause {number}"
    if received_at is not None and pause.start < received_at:
        raise BadInputError(f"{what} starts before received_at")
    if pause.end is not None and pause.end < pause.start:
        raise BadInputError(f"{what} ends before it starts")
    if previous is not None and previous.end is not None and pause.start < previous.end:
        raise BadInputError(
            f"{what} starts before pause {number - 1} ends (pauses are in time order and "
            "do not overlap)"
        )
    if closed_at is None:
        return
    if pause.start > closed_at:
        raise BadInputError(f"{what} starts after closed_at")
    if pause.end is None:
        raise BadInputError(f"{what} is open on a closed inquiry (closing ends a pause)")
    if pause.end > closed_at:
        raise BadInputError(f"{what} ends after closed_at")
