"""The built-in SQL booking store: rules, refusals with alternatives, ownership, idempotency and races."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from actions.booking_backend import Booking, BookingRefused, BookingRequest
from assistant.bookings.builtin import SqlBookingStore
from assistant.business import Business, Service, load_business
from storage.database import create_engine, session_factory
from storage.tables import Appointment

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=LA)  # a Monday
ALICE = "+14155550123"
BOB = "+14155550188"


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LA)


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def business() -> Business:
    return load_business(None)


@pytest.fixture
def store(sessions: async_sessionmaker[AsyncSession], business: Business) -> SqlBookingStore:
    return SqlBookingStore(sessions, business, lambda: NOW)


async def book(
    store: SqlBookingStore, service: str, start: datetime, phone: str = ALICE, key: str | None = None
) -> Booking:
    return await store.book(BookingRequest(phone=phone, service=service, start=start, idempotency_key=key))


async def refused(call: Callable[[], object]) -> BookingRefused:
    with pytest.raises(BookingRefused) as caught:
        await call()  # type: ignore[misc]
    return caught.value


async def test_books_a_free_slot_and_reads_it_back(store: SqlBookingStore) -> None:
    booking = await book(store, "yoga", at(24, 18))
    assert booking.id.isdigit()
    assert (booking.phone, booking.service, booking.status) == (ALICE, "Yoga", "booked")
    assert booking.start == at(24, 18) and booking.end == at(24, 19)
    assert booking.start.utcoffset() == timedelta(hours=-8)  # handed back in the business zone
    assert booking.created_at == NOW  # by the store's clock, which reminders compare against
    assert await store.get(phone=ALICE, appointment_id=booking.id) == booking
    assert await store.listing() == [booking]


async def test_unknown_service_lists_what_is_offered(store: SqlBookingStore) -> None:
    refusal = await refused(lambda: book(store, "Pilates", at(24, 18)))
    assert refusal.reason == "unknown_service"
    assert "Pilates" in str(refusal) and all(s in str(refusal) for s in ("Yoga", "Personal Training", "Spin"))
    assert refusal.alternatives == []
    assert await store.listing() == []


@pytest.mark.parametrize("start", [at(23, 9), NOW, at(20, 18)])
async def test_a_start_not_in_the_future_is_refused_with_future_alternatives(
    store: SqlBookingStore, start: datetime
) -> None:
    refusal = await refused(lambda: book(store, "Yoga", start))
    assert refusal.reason == "in_past"
    assert refusal.alternatives == [at(23, 10, 30), at(23, 11), at(23, 11, 30)]
    assert await store.listing() == []


async def test_closed_days_and_closures_are_refused(store: SqlBookingStore) -> None:
    christmas = await refused(lambda: book(store, "Yoga", at(25, 18, month=12)))
    assert christmas.reason == "closed" and "Fri Dec 25" in str(christmas)
    # Forward from the closure: the next day opens at 8:00 (a Saturday).
    assert christmas.alternatives == [at(26, 8, month=12), at(26, 8, 30, month=12), at(26, 9, month=12)]


async def test_outside_hours_offers_earlier_that_day(store: SqlBookingStore) -> None:
    refusal = await refused(lambda: book(store, "Yoga", at(28, 19)))  # Saturday, closes at 18:00
    assert refusal.reason == "closed" and "8:00 AM-6:00 PM" in str(refusal)
    assert refusal.alternatives == [at(28, 16), at(28, 16, 30), at(28, 17)]
    early = await refused(lambda: book(store, "Spin", at(24, 5, 30)))
    assert early.reason == "closed"
    assert early.alternatives == [at(24, 6), at(24, 6, 30), at(24, 7)]


async def test_the_whole_service_must_fit_before_closing(store: SqlBookingStore) -> None:
    refusal = await refused(lambda: book(store, "Yoga", at(23, 20, 30)))  # would end 21:30, closes 21:00
    assert refusal.reason == "closed" and "past closing at 9:00 PM" in str(refusal)
    assert refusal.alternatives == [at(23, 19), at(23, 19, 30), at(23, 20)]
    spin = await book(store, "Spin", at(23, 20))  # 45 minutes: ends 20:45
    assert spin.end == at(23, 20, 45)


async def test_an_off_grid_start_is_refused_not_rounded(store: SqlBookingStore) -> None:
    refusal = await refused(lambda: book(store, "Yoga", at(24, 18, 10)))
    assert refusal.reason == "closed" and "every 30 min" in str(refusal)
    assert refusal.alternatives == [at(24, 17, 30), at(24, 18), at(24, 18, 30)]
    assert await store.listing() == []


async def test_a_full_slot_offers_the_nearest_free_ones(store: SqlBookingStore) -> None:
    await book(store, "Personal Training", at(24, 18))
    refusal = await refused(lambda: book(store, "Personal Training", at(24, 18), phone=BOB))
    assert refusal.reason == "full" and "Tue Nov 24 6:00 PM" in str(refusal)
    # 17:30 and 18:30 overlap the 18:00 hour; on a tie the later start is offered.
    assert refusal.alternatives == [at(24, 17), at(24, 19), at(24, 19, 30)]
    overlapping = await refused(lambda: book(store, "Personal Training", at(24, 18, 30), phone=BOB))
    assert overlapping.reason == "full"
    # Other services have their own places.
    await book(store, "Yoga", at(24, 18), phone=BOB)


async def test_capacity_counts_only_booked_appointments(
    store: SqlBookingStore, sessions: async_sessionmaker[AsyncSession], business: Business
) -> None:
    group = business.model_copy(update={"services": (Service(name="Duo", duration_minutes=60, capacity=2),)})
    duo = SqlBookingStore(sessions, group, lambda: NOW)
    first = await book(duo, "Duo", at(24, 9))
    await book(duo, "Duo", at(24, 9), phone=BOB)
    assert (await refused(lambda: book(duo, "Duo", at(24, 9), phone="+14155550100"))).reason == "full"
    await duo.cancel(phone=ALICE, appointment_id=first.id)
    await book(duo, "Duo", at(24, 9), phone="+14155550100")


@pytest.mark.parametrize("capacity", [1, 3])
async def test_racing_for_the_last_places_exactly_capacity_win(
    database_url: str, engine: AsyncEngine, business: Business, capacity: int
) -> None:
    racy = business.model_copy(
        update={"services": (Service(name="Class", duration_minutes=60, capacity=capacity),)}
    )
    # Separate engines, like separate processes: only the database lock stands between them.
    engines = [create_engine(database_url) for _ in range(5)]
    try:
        stores = [SqlBookingStore(session_factory(e), racy, lambda: NOW) for e in engines]
        attempts = [
            book(stores[n % len(stores)], "Class", at(24, 18), phone=f"+1415555{n:04d}") for n in range(10)
        ]
        results = await asyncio.gather(*attempts, return_exceptions=True)
    finally:
        for e in engines:
            await e.dispose()
    won = [r for r in results if isinstance(r, Booking)]
    lost = [r for r in results if not isinstance(r, Booking)]
    assert len(won) == capacity
    assert all(isinstance(r, BookingRefused) and r.reason == "full" for r in lost), lost
    async with session_factory(engine)() as session:
        rows = (await session.scalars(select(Appointment).where(Appointment.status == "booked"))).all()
    assert len(rows) == capacity


async def test_an_idempotency_key_books_once(store: SqlBookingStore) -> None:
    first = await book(store, "Personal Training", at(24, 18), key="turn-1:SCHEDULE")
    # The retry would now be "full", yet it gets the first booking back instead.
    again = await book(store, "Personal Training", at(24, 18), key="turn-1:SCHEDULE")
    assert again == first
    racing = await asyncio.gather(*(book(store, "Yoga", at(24, 9), key="turn-2:SCHEDULE") for _ in range(5)))
    assert len({b.id for b in racing}) == 1
    assert len(await store.listing()) == 2


async def test_an_idempotency_key_never_returns_another_customers_booking(store: SqlBookingStore) -> None:
    await book(store, "Yoga", at(24, 9), key="k")
    refusal = await refused(lambda: book(store, "Yoga", at(24, 9), phone=BOB, key="k"))
    assert refusal.reason == "unavailable" and ALICE not in str(refusal)


async def test_move_changes_start_and_end(store: SqlBookingStore) -> None:
    booking = await book(store, "Personal Training", at(24, 18))
    moved = await store.move(phone=ALICE, appointment_id=booking.id, start=at(24, 18, 30))
    # Overlapping its own old place is fine: it is excluded from the count.
    assert (moved.id, moved.start, moved.end) == (booking.id, at(24, 18, 30), at(24, 19, 30))
    assert await store.get(phone=ALICE, appointment_id=booking.id) == moved


async def test_move_follows_the_booking_rules(store: SqlBookingStore) -> None:
    mine = await book(store, "Personal Training", at(24, 9))
    await book(store, "Personal Training", at(24, 18), phone=BOB)
    full = await refused(lambda: store.move(phone=ALICE, appointment_id=mine.id, start=at(24, 18)))
    assert full.reason == "full"
    assert full.alternatives == [at(24, 17), at(24, 19), at(24, 19, 30)]
    closed = await refused(
        lambda: store.move(phone=ALICE, appointment_id=mine.id, start=at(25, 18, month=12))
    )
    assert closed.reason == "closed" and closed.alternatives
    past = await refused(lambda: store.move(phone=ALICE, appointment_id=mine.id, start=at(22, 9)))
    assert past.reason == "in_past"
    assert (await store.get(phone=ALICE, appointment_id=mine.id)).start == at(24, 9)  # unchanged


@pytest.mark.parametrize(
    "appointment_id", ["OTHER", "999999", "abc", "", "-1", "1.0", "99999999999999999999"]
)
async def test_someone_elses_appointment_looks_missing(store: SqlBookingStore, appointment_id: str) -> None:
    bobs = await book(store, "Yoga", at(24, 18), phone=BOB)
    target = bobs.id if appointment_id == "OTHER" else appointment_id
    for call in (
        lambda: store.get(phone=ALICE, appointment_id=target),
        lambda: store.cancel(phone=ALICE, appointment_id=target),
        lambda: store.move(phone=ALICE, appointment_id=target, start=at(24, 9)),
    ):
        refusal = await refused(call)
        assert (refusal.reason, str(refusal), refusal.alternatives) == (
            "not_found",
            "I couldn't find that appointment.",
            [],
        )
    assert await store.get(phone=BOB, appointment_id=bobs.id) == bobs  # untouched


async def test_cancel_once_then_already_cancelled(store: SqlBookingStore) -> None:
    booking = await book(store, "Personal Training", at(24, 18))
    cancelled = await store.cancel(phone=ALICE, appointment_id=booking.id)
    assert cancelled.status == "cancelled"
    again = await refused(lambda: store.cancel(phone=ALICE, appointment_id=booking.id))
    assert again.reason == "already_cancelled"
    moving = await refused(lambda: store.move(phone=ALICE, appointment_id=booking.id, start=at(24, 9)))
    assert moving.reason == "already_cancelled"
    await book(store, "Personal Training", at(24, 18), phone=BOB)  # the place is free again


async def test_cancel_records_when(
    store: SqlBookingStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    booking = await book(store, "Yoga", at(24, 18))
    await store.cancel(phone=ALICE, appointment_id=booking.id)
    async with sessions() as session:
        row = await session.get(Appointment, int(booking.id))
    assert row is not None and row.status == "cancelled" and row.cancelled_at == NOW.astimezone(UTC)


async def test_upcoming_is_own_booked_future_soonest_first(store: SqlBookingStore) -> None:
    later = await book(store, "Yoga", at(26, 9))
    soon = await book(store, "Spin", at(24, 7))
    today = await book(store, "Yoga", at(23, 11))
    dropped = await book(store, "Yoga", at(25, 9))
    await store.cancel(phone=ALICE, appointment_id=dropped.id)
    await book(store, "Yoga", at(24, 6), phone=BOB)
    assert await store.upcoming(phone=ALICE, now=NOW) == [today, soon, later]
    assert await store.upcoming(phone=ALICE, now=at(23, 11)) == [soon, later]  # started: not upcoming
    assert await store.upcoming(phone=ALICE, now=NOW, limit=1) == [today]


async def test_listing_is_by_start_and_can_filter_by_phone(store: SqlBookingStore) -> None:
    b = await book(store, "Yoga", at(24, 9), phone=BOB)
    a = await book(store, "Yoga", at(24, 8))
    assert await store.listing() == [a, b]
    assert await store.listing(phone=BOB) == [b]


async def test_naive_times_are_a_programming_error(store: SqlBookingStore) -> None:
    with pytest.raises(ValueError, match="aware"):
        await book(store, "Yoga", datetime(2026, 11, 24, 18, 0))
