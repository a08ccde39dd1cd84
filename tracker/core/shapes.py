"""docs/contract.md's JSON shapes of the pure computations (``due --json``, the calendar), built
in one place for the command line and the HTTP API alike."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tracker.core.calendar import WEEKDAY_NAMES_DA, ClosedDay
from tracker.core.explain import Explanation
from tracker.core.validate import local_time
from tracker.sla import Deadline, Rule


def format_hours(hours: float) -> float | int:
    """Whole hours as an integer (24, not 24.0), others as given."""
    return int(hours) if float(hours).is_integer() else hours


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else local_time(moment)


def due_document(
    rule: Rule, received: datetime, deadline: Deadline, why: Explanation | None = None
) -> dict[str, Any]:
    """``due --json``; with ``why``, an ``explanation`` of the skipped days."""
    doc: dict[str, Any] = {
        "rule": rule.name or None,
        "schedule": rule.schedule,
        "hours": format_hours(rule.hours),
        "received_at": _time(received),
        "warn_at": _time(deadline.warn_at),
        "due_at": _time(deadline.due_at),
    }
    if why is not None:
        doc["explanation"] = {
            "counted_from": _time(why.counted_from),
            "skipped": [
                {
                    "date": s.day.isoformat(),
                    "reason": str(s.reason),
                    "name_da": s.name_da,
                    "name_en": s.name_en,
                    "closes_at": s.closes_at.strftime("%H:%M") if s.closes_at else None,
                }
                for s in why.skipped
            ],
            "da": why.lines("da"),
            "en": why.lines("en"),
        }
    return doc


def calendar_document(days: Sequence[ClosedDay], language: str = "da") -> list[dict[str, Any]]:
    """``calendar --json``: each closed day with its names (``name`` in ``language``), kind
    and closing time if half."""
    return [
        {
            "date": d.day.isoformat(),
            "name": d.name_da if language == "da" else d.name_en,
            "weekday": WEEKDAY_NAMES_DA[d.day.weekday()],
            "name_da": d.name_da,
            "name_en": d.name_en,
            "kind": str(d.kind),
            "closes_at": d.closes_at.strftime("%H:%M") if d.closes_at else None,
        }
        for d in days
    ]
