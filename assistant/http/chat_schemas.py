"""The chat API's request and response shapes: they validate requests and write the OpenAPI schemas."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from assistant.notifications import Reason, Status

# The chat app's ids: letters, digits and the punctuation ids are made of (UUIDs, emails, "auth0|abc").
ID_PATTERN = r"^[A-Za-z0-9_.:@|+~=-]{1,128}$"
# Any text without NUL (PostgreSQL can't store it) ...
TEXT_PATTERN = r"^[^\x00]*$"
# ... and, for a message body, at least one character that is not ASCII whitespace.
BODY_PATTERN = r"^[^\x00]*[^\x00\x09-\x0d\x20][^\x00]*$"
CODE_PATTERN = r"^[0-9]{6}$"
KEY_PATTERN = r"^[\x21-\x7e]{1,128}$"
MAX_ID = 2**31 - 1  # message ids are 32-bit integers in SQL

Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=128)]
PATTERN_ERRORS = {
    "body": "body must not be empty or only spaces, nor contain NUL characters",
    "code": "code must be the 6 digits from the text",
    "name": "name must not contain NUL characters",
}


class Request(BaseModel):
    """Requests: strict JSON types, camelCase names; unknown fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", alias_generator=to_camel, populate_by_name=True)


class Response(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class UserIn(Request):
    """PUT /api/users/{id}: fields left out keep their value; null clears one."""

    name: str | None = Field(None, max_length=120, pattern=TEXT_PATTERN)
    phone: str | None = Field(None, max_length=64, description="Any common format; stored as E.164.")
    sms_opt_in: bool = Field(None, description="Texts about new messages, once the phone is verified.")  # type: ignore[assignment]
    timezone: str | None = Field(None, max_length=64, description="An IANA zone, e.g. America/New_York.")


class VerifyIn(Request):
    """POST /api/users/{id}/verify."""

    code: str = Field(pattern=CODE_PATTERN)


class PresenceIn(Request):
    """POST /api/presence: send it when the user comes online, then as a heartbeat."""

    user_id: Id
    online: bool


class MessageIn(Request):
    """POST /api/messages: seed 000's request."""

    chat_id: Id
    sender_id: Id
    recipient_id: Id
    body: str = Field(pattern=BODY_PATTERN)


class UserOut(Response):
    id: str
    name: str | None
    phone: str | None = Field(description="E.164")
    sms_opt_in: bool
    timezone: str | None
    phone_verified: bool


class UserSaved(UserOut):
    verification: Literal["code_sent", "code_not_sent"] | None = Field(
        description="Whether this change texted a verification code (null: none was needed)."
    )


class PresenceOut(Response):
    user_id: str
    online: bool = Field(description="Whether the user counts as online now (grace period included).")
    last_online_at: str | None = Field(json_schema_extra={"format": "date-time"})


class MessageOut(Response):
    id: int
    chat_id: str
    sender_id: str
    recipient_id: str
    body: str
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    read_at: str | None = Field(json_schema_extra={"format": "date-time"})


class NotificationOut(Response):
    status: Status
    reason: Reason
    send_at: str = Field(  # type: ignore[assignment]  # left out, rather than null, when there is none
        None,
        json_schema_extra={"format": "date-time"},
        description="When a held or deferred text may go (in the recipient's time zone).",
    )


class MessagePosted(Response):
    message: MessageOut
    notification: NotificationOut


class MessageRead(Response):
    message: MessageOut


class ErrorOut(Response):
    error: str
    field: str | None


def first_error(exc: ValidationError) -> tuple[str, str | None]:
    """One readable reason from a validation error, and the field it is about."""
    error = exc.errors()[0]
    loc = [str(part) for part in error.get("loc", ())]
    field = loc[0] if loc else None
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "json_invalid":
        return "the request body must be JSON", None
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "the request body must be a JSON object", None
    if kind == "missing":
        return f"{field} is required", field
    if kind == "string_pattern_mismatch":
        default = f"{field} must be 1-128 letters, digits or _.:@|+~=-"
        return PATTERN_ERRORS.get(field or "", default), field
    if kind == "string_too_long":
        return f"{field} must be at most {ctx.get('max_length')} characters", field
    if kind == "string_type":
        return f"{field} must be a string", field
    if kind == "bool_type":
        return f"{field} must be true or false", field
    return f"{field}: {error.get('msg', 'is invalid')}", field
