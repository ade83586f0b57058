"""The chat app's JSON API under /api: users, phone verification, presence, messages."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, wraps
from typing import TypeVar
from zoneinfo import ZoneInfo, available_timezones

from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assistant.business import Business
from assistant.http import openapi
from assistant.http.chat_schemas import (
    ID_PATTERN,
    KEY_PATTERN,
    MAX_ID,
    MessageIn,
    MessageOut,
    NotificationOut,
    PresenceIn,
    UserIn,
    UserOut,
    VerifyIn,
    first_error,
)
from assistant.notifier import IdempotencyConflict, Notifier, NotifierBusy, Posted
from assistant.phones import to_e164
from assistant.recipient_zone import recipient_zone
from assistant.runtime import Runtime
from assistant.settings import Settings
from assistant.verification import PhoneVerifier, UserBusy
from storage.chat import ChatLog
from storage.chat_tables import ChatMessage, ChatUser, NotificationDecision
from storage.chat_users import ChatUsers
from storage.clock import Clock
from storage.presence import Presence

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024
Model = TypeVar("Model", bound=BaseModel)
Handler = Callable[[Request], Awaitable[Response]]


def _error(message: str, field: str | None, status: int = 400) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, "field": field}, status_code=status, headers=headers)


def _refusal(request: Request) -> JSONResponse | None:
    """The 401 for a request without the chat app's key; the key is compared in constant time."""
    expected = _state(request).settings.chat_api_key
    if not expected:
        return _error("the chat API is not configured: set CHAT_API_KEY on the server", "Authorization", 401)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error("send the key as Authorization: Bearer <CHAT_API_KEY>", "Authorization", 401)
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        return _error("wrong API key", "Authorization", 401)
    return None


def api(handler: Handler) -> Handler:
    """Checks the key, and turns contention and an unreachable Redis into a 503 the chat app can retry."""

    @wraps(handler)
    async def guarded(request: Request) -> Response:
        if (refused := _refusal(request)) is not None:
            return refused
        try:
            return await handler(request)
        except (NotifierBusy, UserBusy) as exc:
            return JSONResponse(
                {"error": str(exc), "field": None}, status_code=503, headers={"Retry-After": "1"}
            )
        except RedisError as exc:
            log.warning("chat API: Redis unavailable (%s)", exc)
            return JSONResponse(
                {"error": "temporarily unavailable; try again", "field": None},
                status_code=503,
                headers={"Retry-After": "5"},
            )

    return guarded


async def _payload(request: Request, model: type[Model]) -> Model | JSONResponse:
    raw = await request.body()
    if len(raw) > MAX_REQUEST_BYTES:
        return _error(f"the request body must be at most {MAX_REQUEST_BYTES} bytes", None, 413)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        return _error(*first_error(exc))


def _path_id(request: Request) -> str | None:
    value = request.path_params["user_id"]
    return value if re.fullmatch(ID_PATTERN, value) else None


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


@dataclass(frozen=True, slots=True)
class ChatApi:
    """What the chat app's API uses, built once in the app's lifespan."""

    settings: Settings
    business: Business
    clock: Clock
    chat: ChatLog
    chat_users: ChatUsers
    presence: Presence
    notifier: Notifier
    verifier: PhoneVerifier

    @classmethod
    def of(cls, runtime: Runtime) -> ChatApi:
        clients, chat = runtime.clients, runtime.chat
        return cls(
            clients.settings,
            clients.business,
            clients.clock,
            chat.log,
            chat.users,
            chat.presence,
            chat.notifier,
            chat.verifier,
        )


def _state(request: Request) -> ChatApi:
    return request.app.state.chat_api  # type: ignore[no-any-return]


def _iso(moment: datetime | None, zone: ZoneInfo | None = None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(zone).isoformat() if zone else moment.isoformat()


def _user_out(user: ChatUser) -> dict[str, object]:
    return UserOut(
        id=user.external_id,
        name=user.name,
        phone=user.phone,
        sms_opt_in=user.sms_opt_in,
        timezone=user.timezone,
        phone_verified=user.phone_verified_at is not None,
    ).model_dump(by_alias=True)


def _message_out(message: ChatMessage) -> dict[str, object]:
    return MessageOut(
        id=message.id,
        chat_id=message.chat_id,
        sender_id=message.sender_id,
        recipient_id=message.recipient_id,
        body=message.body,
        created_at=_iso(message.created_at) or "",
        read_at=_iso(message.read_at),
    ).model_dump(by_alias=True)


async def _notification_out(state: ChatApi, decision: NotificationDecision) -> dict[str, object]:
    out = NotificationOut.model_validate({"status": decision.status, "reason": decision.reason})
    if decision.send_at is not None:
        user = await state.chat_users.get(decision.user_id)
        # Said in the zone the policy kept quiet hours in, so a deferral reads "09:00" where they are.
        zone = (
            recipient_zone(user.phone, user.timezone, state.business.zone, decision.send_at)
            if user is not None
            else state.business.zone
        )
        out.send_at = _iso(decision.send_at, zone)
    return out.model_dump(by_alias=True, exclude_none=True)


@api
async def put_user(request: Request) -> Response:
    user_id = _path_id(request)
    if user_id is None:
        return _error("the user id must be 1-128 letters, digits or _.:@|+~=-", "id")
    data = await _payload(request, UserIn)
    if isinstance(data, Response):
        return data
    state = _state(request)
    given = data.model_fields_set
    fields: dict[str, object] = {}
    if "name" in given:
        fields["name"] = " ".join((data.name or "").split()) or None
    if "sms_opt_in" in given:
        fields["sms_opt_in"] = data.sms_opt_in
    if "phone" in given:
        raw = (data.phone or "").strip()
        try:
            fields["phone"] = to_e164(raw, state.settings.phone_region) if raw else None
        except ValueError as exc:
            return _error(str(exc), "phone", 422)
    if "timezone" in given:
        zone = (data.timezone or "").strip()
        if zone and zone not in _zones():
            return _error(
                f"unknown time zone {zone!r} (use an IANA name like America/New_York)", "timezone", 422
            )
        fields["timezone"] = zone or None
    change, verification = await state.verifier.save_user(user_id, fields)
    body = {**_user_out(change.user), "verification": verification}
    return JSONResponse(body, status_code=201 if change.created else 200)


async def user(request: Request) -> Response:
    return await (put_user(request) if request.method == "PUT" else get_user(request))


@api
async def get_user(request: Request) -> Response:
    user_id = _path_id(request)
    user = await _state(request).chat_users.get(user_id) if user_id else None
    if user is None:
        return _error("no such user", "id", 404)
    return JSONResponse(_user_out(user))


@api
async def verify_user(request: Request) -> Response:
    user_id = _path_id(request)
    data = await _payload(request, VerifyIn)
    if isinstance(data, Response):
        return data
    state = _state(request)
    user = await state.chat_users.get(user_id) if user_id else None
    if user is None:
        return _error("no such user", "id", 404)
    result = await state.verifier.check(user, data.code)
    if result.user is None:
        return _error(result.error, "code", result.status)
    return JSONResponse(_user_out(result.user))


@api
async def presence(request: Request) -> Response:
    data = await _payload(request, PresenceIn)
    if isinstance(data, Response):
        return data
    state = _state(request)
    now = state.clock()
    await state.presence.signal(data.user_id, online=data.online, now=now)
    seen = await state.presence.last_online(data.user_id)
    online = await state.presence.is_online(data.user_id, now)
    return JSONResponse({"userId": data.user_id, "online": online, "lastOnlineAt": _iso(seen)})


@api
async def post_message(request: Request) -> Response:
    data = await _payload(request, MessageIn)
    if isinstance(data, Response):
        return data
    state = _state(request)
    limit = state.settings.chat_max_body
    if len(data.body) > limit:
        return _error(f"body must be at most {limit} characters", "body")
    key = request.headers.get("idempotency-key")
    if key is not None and not re.fullmatch(KEY_PATTERN, key):
        return _error("Idempotency-Key must be 1-128 printable ASCII characters", "Idempotency-Key")
    posted = Posted(data.chat_id, data.sender_id, data.recipient_id, data.body)
    try:
        outcome = await state.notifier.post(posted, key)
    except IdempotencyConflict as exc:
        return _error(str(exc), "Idempotency-Key", 409)
    body = {
        "message": _message_out(outcome.message),
        "notification": await _notification_out(state, outcome.decision),
    }
    return JSONResponse(body, status_code=201 if outcome.created else 200)


@api
async def read_message(request: Request) -> Response:
    raw = request.path_params["message_id"]
    message_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 else 0
    state = _state(request)
    message = await state.chat.mark_read(message_id, state.clock()) if 0 < message_id <= MAX_ID else None
    if message is None:
        return _error("no such message", "id", 404)
    return JSONResponse({"message": _message_out(message)})


async def openapi_document(request: Request) -> Response:
    return JSONResponse(openapi.document(_state(request).settings))


# Routes of the app itself, not a Mount: a Mount's catch-all doesn't match a path with a newline in it, while
# `{user_id}` does, so an id like "a%0Ab" reaches the handler and gets its 400 instead of a bare 404.
routes = [
    Route("/api/openapi.json", openapi_document, methods=["GET"]),
    Route("/api/users/{user_id}", user, methods=["GET", "PUT"]),  # one route, so a 405 lists both methods
    Route("/api/users/{user_id}/verify", verify_user, methods=["POST"]),
    Route("/api/presence", presence, methods=["POST"]),
    Route("/api/messages", post_message, methods=["POST"]),
    Route("/api/messages/{message_id}/read", read_message, methods=["POST"]),  # bad ids get a JSON 404
]


def no_such_endpoint() -> JSONResponse:
    """Paths under /api that match no route still get the API's JSON error shape."""
    return _error("no such endpoint; see /api/openapi.json", None, 404)
