"""Request bodies of the API. Strict: a wrong type or an unknown field is refused (422),
never coerced. Times stay text here: they are parsed by the command line's own parser
(validate.parse_time), so ISO 8601 without an offset means Europe/Copenhagen everywhere."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from tracker.sla import Channel
from tracker.store.cover import TEAM_NAME_MAX

# What the OpenAPI document states of a value, taken from the rule that checks it: the
# documents never validate (the one check is the command line's), they tell a client what
# that check takes.
CHANNELS: JsonDict = {"enum": [c.value for c in Channel]}
DATE: JsonDict = {"format": "date"}
TEAM_NAME: JsonDict = {"minLength": 1, "maxLength": TEAM_NAME_MAX}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NewInquiryBody(_Strict):
    """``svarfrist add``'s options."""

    channel: str = Field(description="how it came in", json_schema_extra=CHANNELS)
    department: str = Field(description="a configured department")
    topic: str | None = Field(default=None, description="a configured topic")
    advisor: str | None = Field(default=None, description="the advisor's e-mail address")
    received_at: str | None = Field(
        default=None, description="ISO 8601; without an offset Europe/Copenhagen; default now"
    )
    callback_requested: bool = False
    ref: str | None = Field(default=None, description="use this ref instead of a generated one")
    note: str | None = Field(
        default=None, description="free text: shown only with this one inquiry; purged"
    )
    office: str | None = Field(
        default=None, description="the office it came to; default the caller's, else default"
    )


class ErrorBody(BaseModel):
    """Every refusal: one line, the input field it concerns where there is one, and its
    code (docs/contract.md: the table of codes)."""

    error: str = Field(description="one line in English, for a person to read")
    field: str | None = Field(description="the input it concerns, or null")
    code: str = Field(
        description="what kind of refusal, a short stable snake_case name to branch on "
        "(unknown_ref, already_replied, closed, unauthorized, ...)"
    )


ERRORS: dict[int | str, dict[str, object]] = {
    401: {
        "model": ErrorBody,
        "description": "no token, or an unknown or revoked one (code unauthorized)",
    },
    403: {
        "model": ErrorBody,
        "description": "the token's role may not do this (forbidden); a department or office "
        "not the token's (department_scope, office_scope)",
    },
    404: {"model": ErrorBody, "description": "no inquiry has this ref (code unknown_ref)"},
    409: {
        "model": ErrorBody,
        "description": "already done (already_replied, already_called_back, already_answered, "
        "already_paused), not_paused, closed, duplicate_ref; an undo whose event is no longer "
        "the last change (stale_event, field event)",
    },
    413: {
        "model": ErrorBody,
        "description": "the body is larger than web.max_body_bytes (code body_too_large)",
    },
    422: {
        "model": ErrorBody,
        "description": "bad input: the field, what is wrong, and its code (invalid where no "
        "more specific one applies)",
    },
}
"""The API's error answers, for the OpenAPI document (tracker.web.errors makes them)."""


class ActionBody(_Strict):
    at: str | None = Field(default=None, description="when it happened (ISO 8601; default now)")


class UndoBody(_Strict):
    event: int | None = Field(
        default=None,
        description="the id of the change the caller saw as the last one (the inquiry's "
        "last_change.event): if another change has come since, 409 and nothing undone",
    )


OFFICE_OF_COVER = (
    "the office it is recorded in (default: the caller's own, else default); another office "
    "than the caller's is 403, an unknown one 422"
)


class AbsenceBody(_Strict):
    """``absence add``'s arguments."""

    advisor: str = Field(description="the absent advisor's e-mail address")
    first: str = Field(alias="from", description="first day absent", json_schema_extra=DATE)
    last: str = Field(alias="to", description="last day absent, inclusive", json_schema_extra=DATE)
    substitute: str | None = Field(
        default=None, description="who covers; without it the advisor's teams do"
    )
    office: str | None = Field(default=None, description=OFFICE_OF_COVER)


class TeamBody(_Strict):
    """``team add``'s arguments: a new team, or members added to an existing one."""

    name: str = Field(description="the team's name", json_schema_extra=TEAM_NAME)
    members: list[str] = Field(description="advisors' e-mail addresses (at least one)")
    office: str | None = Field(default=None, description=OFFICE_OF_COVER)
