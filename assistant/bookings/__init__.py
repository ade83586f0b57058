"""The booking port: the built-in SQL booking store and an adapter for an external scheduler."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.booking_backend import BookingStore
from assistant.bookings.builtin import SqlBookingStore
from assistant.bookings.remote import HttpBookingStore
from assistant.business import Business
from assistant.settings import Settings
from storage.clock import Clock


def booking_store(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    business: Business,
    clock: Clock,
) -> BookingStore:
    """The external scheduler when BOOKING_API_URL is set, else the built-in SQL store."""
    if settings.booking_api_url:
        return HttpBookingStore(settings.booking_api_url, settings.booking_api_token or "")
    return SqlBookingStore(sessions, business, clock)
