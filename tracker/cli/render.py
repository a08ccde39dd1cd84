"""How the register commands print inquiries: CONTRACT.md's JSON shape and plain text."""

from __future__ import annotations

from tracker.cli.common import format_time, out
from tracker.store import queries
from tracker.store.register import Move
from tracker.store.shapes import inquiry_document as view_json

__all__ = ["print_moves", "print_view", "summary_line", "view_json"]


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
        out(f"note:        {view.note}")
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
