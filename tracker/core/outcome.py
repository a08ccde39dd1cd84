"""The outcome codec: an obligation's state and response time as one integer.

``obligations.outcome`` stores a met obligation's outcome, and the reports group by the same
code evaluated at a report's ``now``, so one GROUP BY key carries both (tracker.reports):

    code = (minutes + 1) * SCALE + state        minutes None (not measured) counts as -1

``state`` is an :class:`Outcome` in the low :data:`STATE_BITS` bits. A stored outcome is only
ever ``ON_TIME`` or ``LATE`` (written when the obligation is met); ``OVERDUE`` and ``PENDING``
exist only in a report's codes, always with no minutes. The stored values are fixed by the
data already written (migration 0004 fills them with the same formula): changing this layout
needs a migration.
"""

from __future__ import annotations

from enum import IntEnum


class Outcome(IntEnum):
    """An obligation's state at an instant, as the low bits of a code (values are stored)."""

    ON_TIME = 0
    LATE = 1
    OVERDUE = 2
    PENDING = 3


STATE_BITS = 2
"""How many low bits of a code hold the :class:`Outcome`."""
STATE_MASK = (1 << STATE_BITS) - 1
SCALE = 1 << STATE_BITS
"""What one response minute adds to a code."""
NOT_MEASURED = -1
"""The minutes a code carries when there is no response time (so ``minutes + 1`` is 0)."""


def encode(state: Outcome, minutes: int | None) -> int:
    """The code of ``state`` with ``minutes`` of response time (None: not measured).

    Only a met state carries minutes. Negative minutes are refused: they would read back
    as another state (and SQL's ``%`` truncates where Python's floors)."""
    if minutes is None:
        return int(state)
    if minutes < 0:
        raise ValueError(f"a response time cannot be negative: {minutes} minutes")
    if state > Outcome.LATE:  # not met (an int comparison: the import calls this per row)
        raise ValueError(f"an obligation that is {state.name} has no response time")
    return (minutes + 1) * SCALE + state


def decode(code: int) -> tuple[Outcome, int | None]:
    """``(state, minutes or None)`` of a code written by :func:`encode`."""
    if code < 0:
        raise ValueError(f"not an outcome code: {code}")
    plus_one, state = divmod(code, SCALE)
    return Outcome(state), None if plus_one == 0 else plus_one - 1
