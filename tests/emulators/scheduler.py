"""An external scheduler (Starlette, in memory) speaking the JSON contract of assistant.bookings.remote."""

from __future__ import annotations

import itertools
import secrets
import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assistant.business import Business, Service, load_business
from tests.emulators.server import Holds

DEFAULT_TOKEN = "scheduler-token"
STATUS = {"unknown_service": 422, "not_found": 404}  # every other refusal is a 409


class Refused(Exception):
    """A contract refusal, answered as {"error", "message", "alternatives"}."""

    def __init__(self, error: str, message: str, alternatives: list[datetime] | None = None) -> None:
        super().__init__(message)
        self.error, self.message, self.alternatives = error, message, alternatives or []


class SchedulerEmulator:
    """Bookings in memory under the example business's rules: hours, capacity, ownership, idempotency."""

    def __init__(self, now: datetime, business: Business | None = None, token: str = DEFAULT_TOKEN) -> None:
        self.business = business or load_business(None)
        self.token = token
        self.now = now  # the scheduler's clock: tests set it, it never reads the wall clock
        self.bookings: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []  # every request: method, path, query, body, auth
        self.holds = Holds()  # answers wait as these say
        self._scripted: deque[tuple[int, str]] = deque()
        self._ids = itertools.count(1)
        # The app runs on uvicorn's thread while tests script and read it from theirs.
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/bookings", self._create, methods=["POST"]),
                Route("/bookings", self._list, methods=["GET"]),
                Route("/bookings/{id}", self._get, methods=["GET"]),
                Route("/bookings/{id}", self._move, methods=["PATCH"]),
                Route("/bookings/{id}/cancel", self._cancel, methods=["POST"]),
            ]
        )

    def reset(self, now: datetime) -> None:
        """Forget bookings, requests and scripted answers; `now` is the scheduler's clock."""
        with self._lock:
            self.now = now
            self.bookings.clear()
            self.requests.clear()
            self._scripted.clear()
            self._ids = itertools.count(1)
        self.holds.reset()

    def answer_next(self, status: int, body: str) -> None:
        """Answer the next request with this raw status and body instead of the rules."""
        with self._lock:
            self._scripted.append((status, body))

    async def _handle(self, request: Request, action: Any) -> Response:
        body = await request.body()
        with self._lock:
            self.requests.append(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "query": dict(request.query_params),
                    "body": body.decode(),
                    "authorization": request.headers.get("authorization"),
                }
            )
            scripted = self._scripted.popleft() if self._scripted else None
        await self.holds.wait()
        if scripted is not None:
            return Response(scripted[1], status_code=scripted[0], media_type="application/json")
        if not secrets.compare_digest(request.headers.get("authorization", ""), f"Bearer {self.token}"):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        data = await request.json() if body else {}
        phone = data.get("phone") or request.query_params.get("phone")
        try:
            with self._lock:
                status, payload = action(request, data, phone)
        except Refused as refused:
            payload = {
                "error": refused.error,
                "message": refused.message,
                "alternatives": [moment.isoformat() for moment in refused.alternatives],
            }
            return JSONResponse(payload, status_code=STATUS.get(refused.error, 409))
        return JSONResponse(payload, status_code=status)

    async def _create(self, request: Request) -> Response:
        return await self._handle(request, self._do_create)

    async def _list(self, request: Request) -> Response:
        return await self._handle(request, self._do_list)

    async def _get(self, request: Request) -> Response:
        return await self._handle(request, lambda r, d, phone: (200, self._view(self._own(r, phone))))

    async def _move(self, request: Request) -> Response:
        return await self._handle(request, self._do_move)

    async def _cancel(self, request: Request) -> Response:
        return await self._handle(request, self._do_cancel)

    def _do_create(self, request: Request, data: dict[str, Any], phone: str) -> tuple[int, Any]:
        key = data.get("idempotencyKey")
        for booking in self.bookings.values():
            if key and booking["key"] == key and booking["phone"] == phone:
                return 200, self._view(booking)
        service = self.business.service(data.get("service", ""))
        if service is None:
            raise Refused("unknown_service", "We don't offer that.")
        start = datetime.fromisoformat(data["start"])
        self._check(service, start, exclude=None)
        booking_id = str(next(self._ids))
        self.bookings[booking_id] = {
            "id": booking_id,
            "phone": phone,
            "service": service.name,
            "start": start,
            "end": start + timedelta(minutes=service.duration_minutes),
            "status": "booked",
            "key": key,
            "createdAt": self.now,
        }
        return 201, self._view(self.bookings[booking_id])

    def _do_move(self, request: Request, data: dict[str, Any], phone: str) -> tuple[int, Any]:
        booking = self._own(request, phone)
        if booking["status"] != "booked":
            raise Refused("already_cancelled", "That appointment is cancelled.")
        service = self.business.service(booking["service"])
        assert service is not None
        start = datetime.fromisoformat(data["start"])
        self._check(service, start, exclude=booking["id"])
        booking["start"], booking["end"] = start, start + timedelta(minutes=service.duration_minutes)
        return 200, self._view(booking)

    def _do_cancel(self, request: Request, data: dict[str, Any], phone: str) -> tuple[int, Any]:
        booking = self._own(request, phone)
        if booking["status"] != "booked":
            raise Refused("already_cancelled", "That appointment is already cancelled.")
        booking["status"] = "cancelled"
        return 200, self._view(booking)

    def _do_list(self, request: Request, data: dict[str, Any], phone: str | None) -> tuple[int, Any]:
        query = request.query_params
        after = datetime.fromisoformat(query["from"]) if "from" in query else None
        found = sorted(
            (
                b
                for b in self.bookings.values()
                if (phone is None or b["phone"] == phone)
                and (after is None or b["start"] > after)
                and query.get("status", b["status"]) == b["status"]
            ),
            key=lambda b: b["start"],
        )
        limit = int(query.get("limit", len(found)))
        return 200, {"bookings": [self._view(b) for b in found[:limit]]}

    def _own(self, request: Request, phone: str | None) -> dict[str, Any]:
        booking = self.bookings.get(request.path_params["id"])
        if booking is None or booking["phone"] != phone:
            raise Refused("not_found", "No such appointment.")
        return booking

    def _check(self, service: Service, start: datetime, exclude: str | None) -> None:
        if start <= self.now:
            raise Refused("in_past", "That time has passed.", self._free(service, self.now, exclude))
        if not self.business.fits(service, start):
            raise Refused("closed", "We're closed then.", self._free(service, start, exclude))
        if not self._has_room(service, start, exclude):
            raise Refused("full", f"{service.name} is full then.", self._free(service, start, exclude))

    def _has_room(self, service: Service, start: datetime, exclude: str | None) -> bool:
        end = start + timedelta(minutes=service.duration_minutes)
        taken = sum(
            1
            for b in self.bookings.values()
            if b["service"] == service.name and b["status"] == "booked" and b["id"] != exclude
            if b["start"] < end and b["end"] > start
        )
        return taken < service.capacity

    def _free(self, service: Service, after: datetime, exclude: str | None) -> list[datetime]:
        """Up to 3 later starts on the slot grid that fit and have room (simpler than the built-in store)."""
        step = timedelta(minutes=self.business.slot_minutes)
        moment = after.astimezone(self.business.zone).replace(minute=0, second=0, microsecond=0)
        found: list[datetime] = []
        for _ in range(14 * 24 * 60 // self.business.slot_minutes):
            moment += step
            fits = moment > self.now and self.business.fits(service, moment)
            if fits and self._has_room(service, moment, exclude):
                found.append(moment)
                if len(found) == 3:
                    break
        return found

    @staticmethod
    def _view(booking: dict[str, Any]) -> dict[str, Any]:
        view = {k: v for k, v in booking.items() if k != "key"}
        times = {name: booking[name].isoformat() for name in ("start", "end", "createdAt")}
        return {**view, **times}
