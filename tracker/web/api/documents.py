"""The answers' shapes, for the OpenAPI document only: the routes return what
tracker.store.shapes builds (the command line's JSON), and a test holds each real answer to
these models (extra fields forbidden), so the document cannot drift from the answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

ObligationState = Literal["pending", "due_soon", "overdue", "met_on_time", "met_late"]


class _Exact(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObligationDoc(_Exact):
    rule: str
    due_at: str | None
    warn_at: str | None
    met_at: str | None
    state: ObligationState


class PauseDoc(_Exact):
    start: str
    end: str | None


class ChangeDoc(_Exact):
    """A change on the inquiry, as the history records it."""

    event: int
    """The event's id: what ``POST .../undo`` takes as ``event``."""
    kind: str
    at: str
    actor: str


class InquiryItem(_Exact):
    """An inquiry as listed: never its note."""

    ref: str
    channel: str
    office: str
    """The office whose calendar and rules its deadlines follow (``default`` without
    ``[offices]``)."""
    department: str
    topic: str | None
    advisor: str | None
    callback_requested: bool
    received_at: str
    status: Literal["open", "closed"]
    closed_at: str | None
    replied_at: str | None
    called_back_at: str | None
    obligations: list[ObligationDoc]


class InquiryDoc(InquiryItem):
    """One inquiry (``svarfrist show --json``): with its note and pauses."""

    note: str | None
    purged_at: str | None
    pauses: list[PauseDoc]
    answer_promised: bool
    """An acknowledgement promised an answer by a date (mail intake): the ``answer`` rule."""
    answered_at: str | None
    last_change: ChangeDoc | None
    """The change ``undo`` would revert now; null when there is nothing to undo."""


class UndoneDoc(InquiryDoc):
    """The inquiry after an undo, and what the undo reverted."""

    undone: ChangeDoc


class InquiryPage(_Exact):
    items: list[InquiryItem]
    next: str | None
    """The cursor of the next page, or null on the last."""
