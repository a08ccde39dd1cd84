"""An inquiry as the pages show it: states in words with a colour class, local times, the
actions still open. Built from tracker.store.queries' views; never the note (the detail
page adds it itself)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from tracker.core.calendar import COPENHAGEN
from tracker.sla import Fulfilment, Rule, State
from tracker.store.queries import InquiryView, ObligationView

# A state's word (texts) and its colour class (svarfrist.css): colour never alone.
STATE_CLASS = {
    "late": "state-late",
    "soon": "state-soon",
    "ok": "state-ok",
    "paused": "state-pause",
    "met": "state-ok",
    "met_on_time": "state-ok",
    "met_late": "state-late",
    "closed": "state-pause",
}
_FULFILS = {
    Fulfilment.REPLY: "reply",
    Fulfilment.CALLBACK: "callback",
    Fulfilment.ANSWER: "answer",
}


def local(moment: datetime | None) -> str:
    """A time as an office reads it: Copenhagen wall time to the minute (storage is UTC)."""
    if moment is None:
        return ""
    return moment.astimezone(COPENHAGEN).strftime("%Y-%m-%d %H:%M")


def local_input(moment: datetime) -> str:
    """The value of a datetime-local field (no offset: the register reads it as local)."""
    return moment.astimezone(COPENHAGEN).strftime("%Y-%m-%dT%H:%M")


def obligation_state(o: ObligationView) -> str:
    if o.met_at is None and o.due_at is None:
        return "paused"
    return {
        State.OVERDUE: "late",
        State.DUE_SOON: "soon",
        State.PENDING: "ok",
        State.MET_ON_TIME: "met_on_time",
        State.MET_LATE: "met_late",
    }[o.state]


def summary_state(view: InquiryView) -> str:
    """The inquiry's most urgent state: overdue before due soon before on time."""
    if view.closed_at is not None:
        return "closed"
    unmet = [obligation_state(o) for o in view.obligations if o.met_at is None]
    for state in ("late", "soon", "ok", "paused"):
        if state in unmet:
            return state
    return "met"


def open_fulfilments(view: InquiryView, rules: Mapping[str, Rule]) -> list[str]:
    """The one-click actions that would fulfil a pending obligation: reply, callback, answer."""
    if view.closed_at is not None:
        return []
    found: list[str] = []
    for o in view.obligations:
        rule = rules.get(o.rule)
        action = _FULFILS.get(rule.fulfilled_by) if rule is not None else None
        if o.met_at is None and action is not None and action not in found:
            found.append(action)
    return found


@dataclass(frozen=True, kw_only=True)
class Row:
    ref: str
    path: str
    office: str
    received: str
    channel: str
    department: str
    topic: str
    advisor: str
    next_due: str
    state: str
    state_class: str
    actions: tuple[str, ...]


def row(view: InquiryView, rules: Mapping[str, Rule]) -> Row:
    pending = [o.due_at for o in view.obligations if o.met_at is None and o.due_at is not None]
    state = summary_state(view)
    return Row(
        ref=view.ref,
        path=f"/henvendelser/{quote(view.ref, safe='/')}",
        office=view.office,
        received=local(view.received_at),
        channel=view.channel,
        department=view.department,
        topic=view.topic or "",
        advisor=view.advisor or "",
        next_due=local(min(pending)) if pending else "",
        state=state,
        state_class=STATE_CLASS[state],
        actions=tuple(open_fulfilments(view, rules)),
    )
