"""What the booking actions need from any booking backend, and the errors it may answer with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

Refusal = Literal[
    "unknown_service",  # no such service
    "in_past",  # the start is not in the future
    "closed",  # the business is closed that day or at that time, or the service would run past closing
    "full",  # no place left under the service's capacity
    "not_found",  # no such appointment for this customer (someone else's looks exactly the same)
    "already_cancelled",
    "unavailable",  # the backend could not be reached or answered nonsense
]


@dataclass(frozen=True, slots=True)
class Booking:
    """One appointment as the backend holds it; times are aware datetimes."""

    id: str
    phone: str
    service: str
    start: datetime
    end: datetime
    status: Literal["booked", "cancelled"]
    # When it was booked, if the backend knows: a reminder whose lead time had already passed then is skipped.
    created_at: datetime | None = None


class BookingRefused(Exception):
    """The backend said no; `alternatives` are the nearest free starts when it has any."""

    def __init__(self, reason: Refusal, message: str, alternatives: list[datetime] | None = None) -> None:
        super().__init__(message)
        self.reason: Refusal = reason
        self.alternatives: list[datetime] = alternatives or []


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """A request to book: always for the texting customer, never a phone chosen by the LLM."""

    phone: str
    service: str
    start: datetime
    customer_id: int | None = None
    # The turn and action that asked for it, so a retried turn books once.
    idempotency_key: str | None = None
    notes: dict[str, str] = field(default_factory=dict)


class BookingStore(Protocol):
    """Books, moves and cancels appointments. Every call is scoped to one customer's phone."""

    name: str

    async def book(self, request: BookingRequest) -> Booking:
        """Book, or raise BookingRefused (unknown_service, in_past, closed, full, unavailable)."""
        ...

    async def move(self, *, phone: str, appointment_id: str, start: datetime) -> Booking:
        """Move this customer's appointment, or raise BookingRefused (not_found, closed, full, ...)."""
        ...

    async def cancel(self, *, phone: str, appointment_id: str) -> Booking:
        """Cancel this customer's appointment, or raise BookingRefused (not_found, already_cancelled)."""
        ...

    async def get(self, *, phone: str, appointment_id: str) -> Booking:
        """This customer's appointment, or BookingRefused(not_found) — also for someone else's."""
        ...

    async def upcoming(self, *, phone: str, now: datetime, limit: int = 5) -> list[Booking]:
        """This customer's booked appointments that have not started yet, soonest first."""
        ...

    async def listing(self, *, phone: str | None = None) -> list[Booking]:
        """Every appointment (or one customer's), by start time, for operators."""
        ...

    async def aclose(self) -> None: ...
