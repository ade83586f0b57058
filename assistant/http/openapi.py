"""The chat API's OpenAPI 3.1 document, written from the same models that validate its requests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from assistant.http.chat_schemas import (
    ID_PATTERN,
    KEY_PATTERN,
    MAX_ID,
    ErrorOut,
    MessageIn,
    MessagePosted,
    MessageRead,
    PresenceIn,
    PresenceOut,
    UserIn,
    UserOut,
    UserSaved,
    VerifyIn,
)
from assistant.settings import Settings

REQUESTS: tuple[type[BaseModel], ...] = (UserIn, VerifyIn, PresenceIn, MessageIn)
RESPONSES: tuple[type[BaseModel], ...] = (
    UserOut,
    UserSaved,
    PresenceOut,
    MessageRead,
    MessagePosted,
    ErrorOut,
)
ERRORS = {
    400: "The request is malformed; `error` says what is wrong and `field` names the field.",
    401: "Missing or wrong `Authorization: Bearer` key, or the server has no CHAT_API_KEY.",
    404: "No such user or message.",
    409: "The Idempotency-Key was already used for a different message.",
    413: "The request body is too large.",
    422: "The phone number or time zone is not valid.",
    429: "Too many wrong codes; PUT the user again to get a new one.",
    503: "Busy or briefly unavailable; retry after the Retry-After seconds.",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _tidy(node: Any) -> Any:
    """Drop pydantic's titles and null defaults: noise for readers, and absent fields mean "unchanged"."""
    if isinstance(node, dict):
        return {
            key: _tidy(value)
            for key, value in node.items()
            if key != "title" and not (key == "default" and value is None)
        }
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    return node


def _schemas(settings: Settings) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(model, "validation") for model in REQUESTS]
    models += [(model, "serialization") for model in RESPONSES]
    _, definitions = models_json_schema(models, by_alias=True, ref_template="#/components/schemas/{model}")
    schemas = _tidy(definitions["$defs"])
    # The longest body is a setting, so the document says what this server accepts.
    schemas["MessageIn"]["properties"]["body"]["maxLength"] = settings.chat_max_body
    return schemas


def _operation(
    summary: str,
    responses: dict[int, tuple[str, str | None]],
    *,
    errors: tuple[int, ...],
    body: str | None = None,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {}}
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    for status, (description, schema) in responses.items():
        entry: dict[str, Any] = {"description": description}
        if schema:
            entry["content"] = {"application/json": {"schema": _ref(schema)}}
        operation["responses"][str(status)] = entry
    for status in (*errors, 401, 503):
        operation["responses"][str(status)] = {
            "description": ERRORS[status],
            "content": {"application/json": {"schema": _ref("ErrorOut")}},
        }
    return operation


USER_ID = {
    "name": "user_id",
    "in": "path",
    "required": True,
    "description": "The chat app's own id for the user.",
    "schema": {"type": "string", "pattern": ID_PATTERN},
}
MESSAGE_ID = {
    "name": "message_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Repeat a POST with the same key and it is stored and decided once.",
    "schema": {"type": "string", "pattern": KEY_PATTERN},
}


def document(settings: Settings) -> dict[str, Any]:
    """The whole document, for `GET /api/openapi.json`."""
    paths = {
        "/api/users/{user_id}": {
            "put": _operation(
                "Create or update a user; an opted-in new phone is texted a verification code",
                {200: ("Updated.", "UserSaved"), 201: ("Created.", "UserSaved")},
                errors=(400, 413, 422),
                body="UserIn",
                parameters=[USER_ID],
            ),
            "get": _operation("A user", {200: ("The user.", "UserOut")}, errors=(404,), parameters=[USER_ID]),
        },
        "/api/users/{user_id}/verify": {
            "post": _operation(
                "Confirm the user's phone with the code it was texted",
                {200: ("Verified.", "UserOut")},
                errors=(400, 404, 413, 429),
                body="VerifyIn",
                parameters=[USER_ID],
            )
        },
        "/api/presence": {
            "post": _operation(
                "Say a user is online (repeat as a heartbeat) or offline",
                {200: ("Where the user stands now.", "PresenceOut")},
                errors=(400, 413),
                body="PresenceIn",
            )
        },
        "/api/messages": {
            "post": _operation(
                "Store a chat message and decide whether to text its recipient",
                {
                    201: ("Stored and decided.", "MessagePosted"),
                    200: ("Already stored under this Idempotency-Key.", "MessagePosted"),
                },
                errors=(400, 409, 413),
                body="MessageIn",
                parameters=[IDEMPOTENCY_KEY],
            )
        },
        "/api/messages/{message_id}/read": {
            "post": _operation(
                "Mark a message read; it drops out of any pending digest",
                {200: ("Marked read.", "MessageRead")},
                errors=(404,),
                parameters=[MESSAGE_ID],
            )
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SMS Assistant chat API",
            "version": "1",
            "description": "Texts a chat app's users about new messages while they are offline.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(settings),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
