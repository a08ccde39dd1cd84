"""Request bodies of the API. Strict: a wrong type or an unknown field is refused (422),
never coerced. Times stay text here: they are parsed by the command line's own parser
(validate.parse_time), so ISO 8601 without an offset means Europe/Copenhagen everywhere."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NewInquiryBody(_Strict):
    """``svarfrist add``'s options."""

    channel: str = Field(description="phone, sms, email, letter, digital_post, in_person")
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


class ActionBody(_Strict):
    at: str | None = Field(default=None, description="when it happened (ISO 8601; default now)")
