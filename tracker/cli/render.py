"""How the register commands print inquiries: docs/contract.md's JSON shape and plain text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from tracker.cli.common import format_time, out
from tracker.cli.terminal import escape_controls
from tracker.reports.labels import labels_for
from tracker.sla import State
from tracker.store import queries
from tracker.store.register import Move
from tracker.store.shapes import inquiry_document as view_json

# Column widths of ``list`` come from its first rows, so that a long list streams: a later,
# longer value pushes only its own row to the right.
ALIGN_ROWS = 1000
LIST_WORDS: dict[str, dict[str, str]] = {
    "da": {
        "ref": "Ref.",
        "received": "Modtaget",
        "channel": "Kanal",
        "department": "Afdeling",
        "status": "Status",
        "next": "Næste frist",
        "deadlines": "Frister",
        "open": "åben",
        "closed": "lukket",
        "empty": "ingen henvendelser",
        "paused": "på pause",
        State.PENDING: "afventer",
        State.DUE_SOON: "snart",
        State.OVERDUE: "overskredet",
        State.MET_ON_TIME: labels_for("da")["met_on_time"].lower(),  # the pages' words
        State.MET_LATE: labels_for("da")["met_late"].lower(),
        "reply": "kvittering",
        "callback": "opringning",
        "answer": "svar",
    },
    "en": {
        "ref": "Ref",
        "received": "Received",
        "channel": "Channel",
        "department": "Department",
        "status": "Status",
        "next": "Next deadline",
        "deadlines": "Deadlines",
        "open": "open",
        "closed": "closed",
        "empty": "no inquiries",
        "paused": "paused",
        State.PENDING: "pending",
        State.DUE_SOON: "due soon",
        State.OVERDUE: "overdue",
        State.MET_ON_TIME: labels_for("en")["met_on_time"].lower(),
        State.MET_LATE: labels_for("en")["met_late"].lower(),
        "reply": "reply",
        "callback": "call-back",
        "answer": "answer",
    },
}


__all__ = [
    "LIST_WORDS",
    "list_row",
    "print_list",
    "print_moves",
    "print_view",
    "view_json",
]


def list_row(view: queries.InquiryView, language: str, suffix: str = "") -> tuple[str, ...]:
    """One inquiry as ``list`` prints it: states in words, the next pending deadline, and
    never the note."""
    words = LIST_WORDS[language]
    pending = [o.due_at for o in view.obligations if o.met_at is None and o.due_at is not None]
    deadlines = ", ".join(
        f"{words.get(o.rule, o.rule)}: "
        + (words["paused"] if o.met_at is None and o.due_at is None else words[o.state])
        for o in view.obligations
    )
    return (
        view.ref,
        format_time(view.received_at) or "",
        view.channel,
        view.department,
        words[view.status],
        (format_time(min(pending)) or "-") if pending else "-",
        (deadlines or "-") + suffix,
    )


def print_list(rows: Iterable[tuple[str, ...]], language: str) -> None:
    """A header and aligned columns; one line saying so when there is nothing to list."""
    words = LIST_WORDS[language]
    stream = iter(rows)
    first = list(islice(stream, ALIGN_ROWS))
    if not first:
        out(words["empty"])
        return
    keys = ("ref", "received", "channel", "department", "status", "next", "deadlines")
    header = tuple(words[k] for k in keys)
    widths = [max(len(r[i]) for r in [header, *first]) for i in range(len(header) - 1)]
    for row in _chained(header, first, stream):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out("  ".join([*cells, row[-1]]))


def _chained(
    header: tuple[str, ...], first: list[tuple[str, ...]], rest: Iterator[tuple[str, ...]]
) -> Iterator[tuple[str, ...]]:
    yield header
    yield from first
    yield from rest


def print_view(view: queries.InquiryView) -> None:
    out(f"ref:         {view.ref}")
    out(f"status:      {view.status}")
    out(f"channel:     {view.channel}")
    out(f"department:  {view.department}")
    out(f"topic:       {view.topic or '-'}")
    out(f"advisor:     {view.advisor or '-'}")
    out(f"callback:    {'requested' if view.callback_requested else 'no'}")
    if view.answer_promised:
        out("answer:      promised (acknowledgement)")
    out(f"received:    {format_time(view.received_at)}")
    for label, moment in (
        ("replied", view.replied_at),
        ("called back", view.called_back_at),
        ("answered", view.answered_at),
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
