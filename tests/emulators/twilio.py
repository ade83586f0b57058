"""A Twilio-compatible Messages API emulator (Starlette) that the real `twilio` SDK can talk to."""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from assistant.segments import count_segments
from tests.emulators.server import Holds

DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "emulator-auth-token"
API_VERSION = "2010-04-01"

# Twilio's own wording for the errors the emulator produces.
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service Unavailable",
    21211: "Invalid 'To' Phone Number",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number is not currently reachable via SMS",
    21614: "'To' number is not a valid mobile number",
    21620: "Invalid media URL(s)",
    21623: "Number of media files exceeds allowed limit",
}
MAX_MEDIA = 10
_CODE_FOR_STATUS = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}


def twilio_error(status: int, code: int | None = None, message: str | None = None) -> JSONResponse:
    """An error response in Twilio's JSON shape."""
    code = code or _CODE_FOR_STATUS.get(status, status)
    body = {
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Failure:
    status: int
    code: int | None
    message: str | None
    times: int


class TwilioEmulator:
    """The Messages resource of Twilio's REST API, in memory and scriptable from tests."""

    def __init__(self, account_sid: str = DEFAULT_ACCOUNT_SID, auth_token: str = DEFAULT_AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict[str, Any]] = []
        # When each of `messages` was created (time.monotonic()): date_created has whole seconds only.
        self.created: list[float] = []
        # Every authenticated create request's form fields, accepted or not, in arrival order.
        self.requests: list[dict[str, str]] = []
        # The MediaUrl fields of each of `requests` (a field that repeats, so not in the dict above).
        self.request_media: list[list[str]] = []
        # The media URLs of each created message, by its SID (Twilio's Media subresource).
        self.media: dict[str, list[str]] = {}
        # Answers wait as these say, after the message is created (like a slow network on the way back).
        self.holds = Holds()
        # What stamps date_created: tests that compare it with their own clock set this to it.
        self.clock: Callable[[], datetime] = _wall_clock
        self._failures: deque[_Failure] = deque()
        self._rejections: dict[str, tuple[int, int, str | None]] = {}
        # The app runs on uvicorn's thread while tests script and read it from theirs.
        self._lock = threading.Lock()
        base = f"/{API_VERSION}/Accounts/{{account_sid}}"
        self.app = Starlette(
            routes=[
                Route(f"{base}/Messages.json", self._create_message, methods=["POST"]),
                Route(f"{base}/Messages.json", self._list_messages, methods=["GET"]),
                Route(f"{base}/Messages/{{sid}}.json", self._fetch_message, methods=["GET"]),
                Route(f"{base}/Messages/{{sid}}/Media.json", self._list_media, methods=["GET"]),
            ]
        )

    def fail_next(
        self, status: int = 503, code: int | None = None, times: int = 1, message: str | None = None
    ) -> None:
        """Answer the next `times` create requests with this error instead of creating a message."""
        with self._lock:
            self._failures.append(_Failure(status, code, message, times))

    def reject(self, to: str, code: int = 21610, status: int = 400, message: str | None = None) -> None:
        """Refuse every message to `to` with this Twilio error (21610 opted out, 21211 invalid, ...)."""
        with self._lock:
            self._rejections[to] = (status, code, message)

    def reset(self) -> None:
        """Forget messages, requests and scripted behaviour."""
        with self._lock:
            self.messages.clear()
            self.created.clear()
            self.requests.clear()
            self.request_media.clear()
            self.media.clear()
            self._failures.clear()
            self._rejections.clear()
        self.holds.reset()
        self.clock = _wall_clock

    def _authorized(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        path_sid = request.path_params["account_sid"]
        return (
            secrets.compare_digest(username, self.account_sid)
            and secrets.compare_digest(password, self.auth_token)
            and path_sid == self.account_sid
        )

    def _next_failure(self) -> _Failure | None:
        if not self._failures:
            return None
        failure = self._failures[0]
        failure.times -= 1
        if failure.times <= 0:
            self._failures.popleft()
        return failure

    async def _create_message(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return twilio_error(401)
        fields = await request.form()
        form = {key: str(value) for key, value in fields.items()}
        media = [str(url) for url in fields.getlist("MediaUrl")]
        with self._lock:
            self.requests.append(form)
            self.request_media.append(media)
            failure = self._next_failure()
            rejection = self._rejections.get(form.get("To", ""))
        if failure is not None:
            return twilio_error(failure.status, failure.code, failure.message)
        to, body = form.get("To"), form.get("Body")
        sender, service = form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return twilio_error(400, 21604)
        if not body and not media:  # an MMS may carry media alone
            return twilio_error(400, 21602)
        if len(media) > MAX_MEDIA:
            return twilio_error(400, 21623)
        if any(not url.startswith(("https://", "http://")) for url in media):
            return twilio_error(400, 21620)
        if not (sender or service):
            return twilio_error(400, 21603)
        if rejection is not None:
            status, code, message = rejection
            return twilio_error(status, code, message)
        if sender and not sender.startswith("+") and to.startswith("+1"):
            # Like Twilio: an alphanumeric sender ID reaches no US or Canadian number.
            return twilio_error(400, 21612, "The 'To' number can't be reached from an alphanumeric sender ID")
        resource = self._message_resource(to, body or "", sender, service, len(media))
        with self._lock:
            self.messages.append(resource)
            self.media[resource["sid"]] = media
            self.created.append(time.monotonic())
        await self.holds.wait()
        return JSONResponse(resource, status_code=201)

    async def _list_messages(self, request: Request) -> JSONResponse:
        """Newest first, filtered by To like Twilio's list; one page of up to PageSize."""
        if not self._authorized(request):
            return twilio_error(401)
        to, size = request.query_params.get("To"), int(request.query_params.get("PageSize", "50"))
        with self._lock:
            found = [m for m in reversed(self.messages) if to is None or m["to"] == to][:size]
        uri = request.url.path
        return JSONResponse(
            {
                "messages": found,
                "end": max(len(found) - 1, 0),
                "first_page_uri": f"{uri}?PageSize={size}&Page=0",
                "next_page_uri": None,
                "page": 0,
                "page_size": size,
                "previous_page_uri": None,
                "start": 0,
                "uri": f"{uri}?PageSize={size}&Page=0",
            }
        )

    async def _fetch_message(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return twilio_error(401)
        sid = request.path_params["sid"]
        with self._lock:
            found = next((m for m in self.messages if m["sid"] == sid), None)
        if found is None:
            return twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")
        return JSONResponse(found)

    async def _list_media(self, request: Request) -> JSONResponse:
        """A message's media, like Twilio's Media list (content types are what the URL said: unknown)."""
        if not self._authorized(request):
            return twilio_error(401)
        sid = request.path_params["sid"]
        with self._lock:
            urls = self.media.get(sid)
        if urls is None:
            return twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")
        items = [{"sid": f"ME{index:032d}", "parent_sid": sid, "uri": url} for index, url in enumerate(urls)]
        return JSONResponse({"media_list": items, "page": 0, "page_size": 50, "next_page_uri": None})

    def _message_resource(
        self, to: str, body: str, sender: str | None, service: str | None, media: int = 0
    ) -> dict[str, Any]:
        # Like Twilio: an MMS has an MM SID, a text an SM one.
        sid = ("MM" if media else "SM") + secrets.token_hex(16)
        now = format_datetime(self.clock(), usegmt=False)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            # Like Twilio: a Messaging Service picks the number later, so `from` is null at first.
            "from": sender if not service else None,
            "messaging_service_sid": service,
            "num_media": str(media),
            "num_segments": str(count_segments(body).segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": to,
            "uri": f"{uri}.json",
        }
