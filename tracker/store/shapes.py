"""docs/contract.md's JSON shape of an inquiry (``show --json``, each ``list --json`` element, the
HTTP API's bodies), built in one place for the command line and the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracker.core.validate import local_time
from tracker.store.cover import AbsenceInfo, TeamInfo
from tracker.store.history import HistoryEntry, Undone
from tracker.store.queries import InquiryView


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else local_time(moment)


def inquiry_document(view: InquiryView, *, full: bool = False) -> dict[str, Any]:
    """docs/contract.md's shape; ``full`` (show, one inquiry) adds the note and the pauses.

    Only ``full`` carries the note: a list, in any form, never does.
    """
    data: dict[str, Any] = {
        "ref": view.ref,
        "channel": view.channel,
        "office": view.office,
        "department": view.department,
        "topic": view.topic,
        "advisor": view.advisor,
        "callback_requested": view.callback_requested,
        "received_at": _time(view.received_at),
        "status": view.status,
        "closed_at": _time(view.closed_at),
        "replied_at": _time(view.replied_at),
        "called_back_at": _time(view.called_back_at),
        "obligations": [
            {
                "rule": o.rule,
                "due_at": _time(o.due_at),
                "warn_at": _time(o.warn_at),
                "met_at": _time(o.met_at),
                "state": o.state.value,
            }
            for o in view.obligations
        ],
    }
    if full:
        data["note"] = view.note
        data["purged_at"] = _time(view.purged_at)
        data["pauses"] = [{"start": _time(p.start), "end": _time(p.end)} for p in view.pauses]
        data["answer_promised"] = view.answer_promised
        data["answered_at"] = _time(view.answered_at)
    return data


def change_document(change: HistoryEntry | Undone | None) -> dict[str, Any] | None:
    """A change on an inquiry: ``last_change``, the change ``undo`` would revert now
    (history.last_change), and an undo's ``undone``, with the id to give undo as ``event``;
    None when there is nothing to undo."""
    if change is None:
        return None
    return {
        "event": change.id if isinstance(change, HistoryEntry) else change.event,
        "kind": str(change.kind),
        "at": _time(change.at),
        "actor": change.actor,
    }


def absence_document(info: AbsenceInfo) -> dict[str, Any]:
    """An absence as ``absence list --json`` and ``/api/v1/absences`` give it."""
    return {
        "id": info.id,
        "advisor": info.advisor,
        "from": info.first.isoformat(),
        "to": info.last.isoformat(),
        "substitute": info.substitute,
        "created_at": _time(info.created_at),
        "actor": info.actor,
        "office": info.office,
    }


def team_document(info: TeamInfo) -> dict[str, Any]:
    """A team as ``team list --json`` and ``/api/v1/teams`` give it."""
    return {
        "name": info.name,
        "members": list(info.members),
        "created_at": _time(info.created_at),
        "actor": info.actor,
        "office": info.office,
    }
