"""An adapter for an external scheduler, over a small JSON contract a business's own system can implement.

Every call sends `Authorization: Bearer <token>`; bodies are JSON; times are ISO 8601 with a UTC offset.

    booking = {"id": "42", "phone": "+14155550123", "service": "Yoga", "status": "booked" | "cancelled",
               "start": "2026-11-24T18:00:00-08:00", "end": "2026-11-24T19:00:00-08:00",
               "createdAt": "2026-11-20T09:12:00-08:00" (optional: when it was booked)}

    POST  {base}/bookings               {"phone", "service", "start", "idempotencyKey"?, "notes"?}
                                        -> 201 booking (or 200 and the first booking for a repeated key)
    PATCH {base}/bookings/{id}          {"phone", "start"}  -> 200 booking
    POST  {base}/bookings/{id}/cancel   {"phone"}           -> 200 booking
    GET   {base}/bookings/{id}?phone=   -> 200 booking
    GET   {base}/bookings?phone=&from=&status=&limit=   -> 200 {"bookings": [booking, ...]} soonest first
                                        (`from`: only starts after it; no `phone`: everyone's, for operators)

    a refusal: 4xx {"error": reason, "message": "...", "alternatives": ["2026-11-24T19:00:00-08:00", ...]}
        unknown_service (422), in_past | closed | full | already_cancelled (409), not_found (404)

Ids are 1-64 letters, digits, "-" or "_". The customer's phone goes with every call and the scheduler
must scope by it: someone else's id answers 404 not_found, exactly like a missing one. `message` is
texted to the customer as is, so keep it short and plain, with local times; `alternatives` (nearest free
starts, up to 3) are listed after it. Anything else -- no answer within the timeout, 401/403, 5xx, a
body not in this shape, a booking for another phone -- is refused here as "unavailable".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

import httpx

from actions.booking_backend import Booking, BookingRefused, BookingRequest, Refusal

log = logging.getLogger(__name__)

VALID_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_MESSAGE = 320  # two SMS segments: a scheduler's message must not flood the customer
REFUSALS: dict[str, str] = {
    "unknown_service": "We don't offer that service.",
    "in_past": "That time has already passed.",
    "closed": "We're closed at that time.",
    "full": "That time is full.",
    "not_found": "I couldn't find that appointment.",
    "already_cancelled": "That appointment is already cancelled.",
    "unavailable": "Sorry, I can't reach our booking system right now. Please try again soon.",
}
TRANSPORT_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError)
# 4xx answers about us or the moment (bad token, throttling), not about the booking: the backend is unusable.
NOT_REFUSALS = frozenset({401, 403, 407, 408, 429})
T = TypeVar("T")


class _Malformed(ValueError):
    """The scheduler answered something outside the contract."""


def _refused(reason: Refusal, message: str | None = None) -> BookingRefused:
    return BookingRefused(reason, message or REFUSALS[reason])


def _time(value: object) -> datetime:
    if not isinstance(value, str):
        raise _Malformed("a time is not a string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _Malformed(f"not an ISO 8601 time: {value[:40]!r}") from None
    if moment.utcoffset() is None:
        raise _Malformed("a time has no UTC offset")
    return moment


def _booking(data: object, phone: str | None) -> Booking:
    """A booking from the scheduler, checked to belong to the customer we asked about."""
    if not isinstance(data, dict):
        raise _Malformed("a booking is not an object")
    booking_id, status = data.get("id"), data.get("status")
    if not isinstance(booking_id, str | int) or isinstance(booking_id, bool) or not str(booking_id):
        raise _Malformed("a booking has no id")
    if status not in ("booked", "cancelled"):
        raise _Malformed("a booking has no valid status")
    if not isinstance(data.get("phone"), str) or not isinstance(data.get("service"), str):
        raise _Malformed("a booking has no phone or service")
    if phone is not None and data["phone"] != phone:
        # The scheduler broke its scoping; handing this on would leak another customer's booking.
        raise _Malformed("a booking for another phone")
    return Booking(
        id=str(booking_id),
        phone=data["phone"],
        service=data["service"],
        start=_time(data.get("start")),
        end=_time(data.get("end")),
        status=status,
        created_at=_time(data["createdAt"]) if data.get("createdAt") is not None else None,
    )


def _refusal(body: object) -> BookingRefused:
    """A contract refusal from a 4xx body; a body outside the contract means the backend is unusable."""
    reason = body.get("error") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(reason, str) or reason not in REFUSALS:
        raise _Malformed("a refusal without a known error")
    message = body.get("message")
    text = " ".join(message.split())[:MAX_MESSAGE] if isinstance(message, str) else ""
    alternatives: list[datetime] = []
    for value in body.get("alternatives") or []:
        try:
            alternatives.append(_time(value))
        except _Malformed:
            continue  # one bad suggestion shouldn't cost the customer the good ones
    refusal = _refused(cast(Refusal, reason), text)  # one of REFUSALS' keys, checked above
    refusal.alternatives = alternatives[:3]
    return refusal


class HttpBookingStore:
    """Books through an external scheduler over HTTP; see the module docstring for the contract."""

    name = "http"

    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            # Retries only connections that failed to open, when nothing was sent yet.
            transport=httpx.AsyncHTTPTransport(retries=1),
            follow_redirects=False,
        )

    async def book(self, request: BookingRequest) -> Booking:
        """Book, or raise BookingRefused; the scheduler answers a repeated key with the first booking."""
        body: dict[str, Any] = {
            "phone": request.phone,
            "service": request.service,
            "start": _iso(request.start),
        }
        if request.idempotency_key:
            body["idempotencyKey"] = request.idempotency_key
        if request.notes:
            body["notes"] = request.notes
        return _parse(_booking, await self._call("POST", "bookings", json=body), request.phone)

    async def move(self, *, phone: str, appointment_id: str, start: datetime) -> Booking:
        """Move this customer's appointment."""
        path = f"bookings/{_path_id(appointment_id)}"
        data = await self._call("PATCH", path, json={"phone": phone, "start": _iso(start)})
        return _parse(_booking, data, phone)

    async def cancel(self, *, phone: str, appointment_id: str) -> Booking:
        """Cancel this customer's appointment."""
        path = f"bookings/{_path_id(appointment_id)}/cancel"
        return _parse(_booking, await self._call("POST", path, json={"phone": phone}), phone)

    async def get(self, *, phone: str, appointment_id: str) -> Booking:
        """This customer's appointment, or not_found (also for someone else's)."""
        path = f"bookings/{_path_id(appointment_id)}"
        return _parse(_booking, await self._call("GET", path, params={"phone": phone}), phone)

    async def upcoming(self, *, phone: str, now: datetime, limit: int = 5) -> list[Booking]:
        """This customer's booked appointments after `now`, soonest first."""
        params = {"phone": phone, "from": _iso(now), "status": "booked", "limit": str(limit)}
        bookings = _parse(_bookings, await self._call("GET", "bookings", params=params), phone)
        # Held to the contract here too, so a lax scheduler can't put past or cancelled ones in the prompt.
        kept = [b for b in bookings if b.status == "booked" and b.start > now]
        return sorted(kept, key=lambda b: b.start)[:limit]

    async def listing(self, *, phone: str | None = None) -> list[Booking]:
        """Every appointment, or one customer's, by start time."""
        params = {"phone": phone} if phone is not None else None
        bookings = _parse(_bookings, await self._call("GET", "bookings", params=params), phone)
        return sorted(bookings, key=lambda b: b.start)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> object:
        """The decoded JSON of a 2xx answer; everything else becomes BookingRefused."""
        # Logged without the query or body: they carry the customer's phone number.
        try:
            response = await self._client.request(method, path, json=json, params=params)
        except TRANSPORT_ERRORS as exc:
            log.warning("scheduler %s %s failed: %s", method, path, type(exc).__name__)
            raise _refused("unavailable") from None
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = _Malformed  # judged below: only a 2xx or a contract refusal needs a body
        if 200 <= status < 300 and body is not _Malformed:
            return body
        if 400 <= status < 500 and status not in NOT_REFUSALS:
            try:
                refusal = _refusal(body)
            except _Malformed:
                pass
            else:
                raise refusal
        log.warning("scheduler %s %s answered %s outside the contract", method, path, status)
        raise _refused("unavailable")


def _bookings(data: object, phone: str | None) -> list[Booking]:
    items = data.get("bookings") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise _Malformed("no bookings list")
    return [_booking(item, phone) for item in items]


def _parse(parse: Callable[[object, str | None], T], data: object, phone: str | None) -> T:
    try:
        return parse(data, phone)
    except _Malformed as exc:
        log.warning("scheduler answered outside the contract: %s", exc)
        raise _refused("unavailable") from None


def _iso(moment: datetime) -> str:
    if moment.utcoffset() is None:
        raise ValueError("booking times must be time-zone aware")
    return moment.isoformat()


def _path_id(appointment_id: str) -> str:
    """The id as one safe path segment; anything else can't be one of the scheduler's ids."""
    value = str(appointment_id).strip()
    if not VALID_ID.fullmatch(value):
        raise _refused("not_found")
    return value
