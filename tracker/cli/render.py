"""How the register commands print inquiries: CONTRACT.md's JSON shape and plain text."""

from __future__ import annotations

from typing import Any

from tracker.cli.common import format_time, out
from tracker.cli.terminal import escape_controls
from tracker.store import queries
from tracker.store.register import Move


def view_json(view: queries.InquiryView, *, full: bool = False) -> dict[str, Any]:
    """CONTRACT.md's shape; ``full`` (show) adds the note and the pauses."""
    data: dict[str, Any] = {
        "ref": view.ref,
        "channel": view.channel,
        "department": view.department,
        "topic": view.topic,
        "advisor": view.advisor,
        "callback_requested": view.callback_requested,
        "received_at": format_time(view.received_at),
        "status": view.status,
        "closed_at": format_time(view.closed_at),
        "replied_at": format_time(view.replied_at),
        "called_back_at": format_time(view.called_back_at),
        "obligations": [
            {
                "rule": o.rule,
                "due_at": format_time(o.due_at),
                "warn_at": format_time(o.warn_at),
                "met_at": format_time(o.met_at),
                "state": o.state.value,
            }
            for o in view.obligations
        ],
    }
    if full:
        data["note"] = view.note
        data["purged_at"] = format_time(view.purged_at)
        data["pauses"] = [
            {"start": format_time(p.start), "end": format_time(p.end)} for p in view.pauses
        ]
    return data


def summary_line(view: queries.InquiryView) -> str:
    parts = [
        view.ref,
        format_time(view.received_at) or "",
        view.channel,
        view.department,
        view.status,
    ]
    parts += [f"{o.rule}:{o.state.value}@{format_time(o.due_at) or '-'}" for o in view.obligations]
    return "  ".join(parts)


def print_view(view: queries.InquiryView) -> None:
    out(f"ref:         {view.ref}")
    out(f"status:      {view.status}")
    out(f"channel:     {view.channel}")
    out(f"department:  {view.department}")
    out(f"topic:       {view.topic or '-'}")
    out(f"advisor:     {view.advisor or '-'}")
    out(f"callback:    {'requested' if view.callback_requested else 'no'}")
    out(f"received:    {format_time(view.received_at)}")
    for label, moment in (
        ("replied", view.replied_at),
        ("called back", view.called_back_at),
        ("closed", view.closed_at),
        ("purged", view.purged_at),
    ):
        if moment is not None:
            out(f"{label + ':':<12} {format_time(moment)}")
    for p in view.pauses:
        out(f"paused:      {format_time(p.start)} - {format_time(p.end) or 'still paused'}")
    if view.note:
        out(f"note:        {escape_controls(view.note)}")
    for o in view.obligations:
        out(
            f"obligation:  {o.rule}  due {format_time(o.due_at) or '- (paused)'}  "
            f"warn {format_time(o.warn_at) or '-'}  met {format_time(o.met_at) or '-'}  "
            f"{o.state.value}"
        )


def print_moves(moves: list[Move]) -> None:
    for m in moves:
        old, new = format_time(m.old_due_at) or "-", format_time(m.new_due_at) or "-"
        out(f"{m.ref}  {m.rule}  {old} -> {new}")
