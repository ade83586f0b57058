"""The HTTP booking adapter against the scheduler emulator: the contract, refusals, scoping and failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from actions.booking_backend import Booking, BookingRefused, BookingRequest
from assistant.bookings.remote import HttpBookingStore
from tests.emulators.scheduler import DEFAULT_TOKEN, SchedulerEmulator
from tests.emulators.server import free_port, serve_in_thread

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=LA)
ALICE = "+14155550123"
BOB = "+14155550188"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=LA)


@pytest.fixture(scope="module")
def scheduler_server() -> Iterator[tuple[SchedulerEmulator, str]]:
    emulator = SchedulerEmulator(now=NOW)
    with serve_in_thread(emulator.app) as base_url:
        yield emulator, base_url


@pytest.fixture
def scheduler(scheduler_server: tuple[SchedulerEmulator, str]) -> SchedulerEmulator:
    scheduler_server[0].reset(now=NOW)
    return scheduler_server[0]


@pytest.fixture
async def store(
    scheduler: SchedulerEmulator, scheduler_server: tuple[SchedulerEmulator, str]
) -> AsyncIterator[HttpBookingStore]:
    store = HttpBookingStore(scheduler_server[1], DEFAULT_TOKEN, timeout=2.0)
    yield store
    await store.aclose()


async def book(
    store: HttpBookingStore, service: str, start: datetime, phone: str = ALICE, **kw: str
) -> Booking:
    return await store.book(BookingRequest(phone=phone, service=service, start=start, **kw))


async def refused(call: object) -> BookingRefused:
    with pytest.raises(BookingRefused) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_book_get_move_cancel_round_trip(store: HttpBookingStore, scheduler: SchedulerEmulator) -> None:
    booking = await book(store, "Yoga", at(24, 18))
    assert (booking.phone, booking.service, booking.status) == (ALICE, "Yoga", "booked")
    assert (booking.start, booking.end, booking.created_at) == (at(24, 18), at(24, 19), NOW)
    assert await store.get(phone=ALICE, appointment_id=booking.id) == booking

    moved = await store.move(phone=ALICE, appointment_id=booking.id, start=at(25, 9))
    assert (moved.id, moved.start, moved.end) == (booking.id, at(25, 9), at(25, 10))
    cancelled = await store.cancel(phone=ALICE, appointment_id=booking.id)
    assert cancelled.status == "cancelled"
    again = await refused(store.cancel(phone=ALICE, appointment_id=booking.id))
    assert again.reason == "already_cancelled"

    # Every call carried the token and the customer's phone, and times with their offsets.
    assert all(r["authorization"] == f"Bearer {DEFAULT_TOKEN}" for r in scheduler.requests)
    assert all(ALICE in (r["body"] + r["query"].get("phone", "")) for r in scheduler.requests)
    created = json.loads(scheduler.requests[0]["body"])
    assert created == {"phone": ALICE, "service": "Yoga", "start": "2026-11-24T18:00:00-08:00"}


async def test_upcoming_and_listing(store: HttpBookingStore) -> None:
    later = await book(store, "Yoga", at(26, 9))
    soon = await book(store, "Spin", at(24, 7))
    dropped = await book(store, "Yoga", at(25, 9))
    await store.cancel(phone=ALICE, appointment_id=dropped.id)
    bobs = await book(store, "Yoga", at(24, 6), phone=BOB)
    assert await store.upcoming(phone=ALICE, now=NOW) == [soon, later]
    assert await store.upcoming(phone=ALICE, now=NOW, limit=1) == [soon]
    assert await store.listing(phone=BOB) == [bobs]
    assert [b.id for b in await store.listing()] == [bobs.id, soon.id, dropped.id, later.id]


async def test_an_idempotency_key_books_once(store: HttpBookingStore, scheduler: SchedulerEmulator) -> None:
    first = await book(store, "Personal Training", at(24, 18), idempotency_key="turn-1:SCHEDULE")
    again = await book(store, "Personal Training", at(24, 18), idempotency_key="turn-1:SCHEDULE")
    assert again == first and len(scheduler.bookings) == 1
    assert json.loads(scheduler.requests[0]["body"])["idempotencyKey"] == "turn-1:SCHEDULE"


async def test_refusals_keep_reason_message_and_alternatives(store: HttpBookingStore) -> None:
    await book(store, "Personal Training", at(24, 18))
    full = await refused(book(store, "Personal Training", at(24, 18), phone=BOB))
    assert (full.reason, str(full)) == ("full", "Personal Training is full then.")
    assert full.alternatives == [at(24, 19), at(24, 19, 30), at(24, 20)]
    assert all(moment.utcoffset() is not None for moment in full.alternatives)

    unknown = await refused(book(store, "Pilates", at(24, 18)))
    assert unknown.reason == "unknown_service" and unknown.alternatives == []
    closed = await refused(book(store, "Yoga", at(24, 23)))
    assert closed.reason == "closed" and closed.alternatives
    past = await refused(book(store, "Yoga", at(23, 9)))
    assert past.reason == "in_past"


async def test_another_phone_cannot_touch_an_appointment(
    store: HttpBookingStore, scheduler: SchedulerEmulator
) -> None:
    bobs = await book(store, "Yoga", at(24, 18), phone=BOB)
    for call in (
        store.get(phone=ALICE, appointment_id=bobs.id),
        store.move(phone=ALICE, appointment_id=bobs.id, start=at(25, 9)),
        store.cancel(phone=ALICE, appointment_id=bobs.id),
        store.get(phone=ALICE, appointment_id="999"),
    ):
        refusal = await refused(call)
        assert (refusal.reason, str(refusal)) == ("not_found", "No such appointment.")
    assert await store.get(phone=BOB, appointment_id=bobs.id) == bobs


@pytest.mark.parametrize("appointment_id", ["..", "../bookings", "1/cancel", "a b", "", "x" * 65])
async def test_ids_outside_the_contract_never_reach_the_scheduler(
    store: HttpBookingStore, scheduler: SchedulerEmulator, appointment_id: str
) -> None:
    refusal = await refused(store.cancel(phone=ALICE, appointment_id=appointment_id))
    assert refusal.reason == "not_found" and scheduler.requests == []


async def test_a_booking_for_another_phone_is_never_handed_on(
    store: HttpBookingStore, scheduler: SchedulerEmulator
) -> None:
    leaked = {"id": "7", "phone": BOB, "service": "Yoga", "status": "booked"}
    leaked |= {"start": at(24, 18).isoformat(), "end": at(24, 19).isoformat()}
    scheduler.answer_next(200, json.dumps(leaked))
    assert (await refused(store.get(phone=ALICE, appointment_id="7"))).reason == "unavailable"
    scheduler.answer_next(200, json.dumps({"bookings": [leaked]}))
    assert (await refused(store.upcoming(phone=ALICE, now=NOW))).reason == "unavailable"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, '{"error": "boom"}'),
        (503, ""),
        (200, "not json"),
        (201, '{"id": "1"}'),  # not a booking
        (
            200,
            '{"id": "1", "phone": "+14155550123", "service": "Yoga", "status": "booked", '
            '"start": "2026-11-24T18:00:00", "end": "2026-11-24T19:00:00"}',
        ),  # no offsets
        (409, '{"error": "sold_out", "message": "nope"}'),  # not one of the contract's reasons
        (400, "<html>bad request</html>"),
        (401, '{"error": "full"}'),  # a bad token is our problem, not a refusal
        (429, '{"error": "full"}'),
    ],
)
async def test_answers_outside_the_contract_are_unavailable(
    store: HttpBookingStore, scheduler: SchedulerEmulator, status: int, body: str
) -> None:
    scheduler.answer_next(status, body)
    refusal = await refused(book(store, "Yoga", at(24, 18)))
    assert refusal.reason == "unavailable" and "try again" in str(refusal)


async def test_a_wrong_token_is_unavailable(scheduler_server: tuple[SchedulerEmulator, str]) -> None:
    scheduler_server[0].reset(now=NOW)
    store = HttpBookingStore(scheduler_server[1], "wrong-token")
    try:
        assert (await refused(book(store, "Yoga", at(24, 18)))).reason == "unavailable"
    finally:
        await store.aclose()


async def test_a_long_refusal_message_is_cut_and_bad_alternatives_dropped(
    store: HttpBookingStore, scheduler: SchedulerEmulator
) -> None:
    body = {"error": "full", "message": "x " * 500, "alternatives": ["tomorrow", at(24, 19).isoformat(), 5]}
    scheduler.answer_next(409, json.dumps(body))
    refusal = await refused(book(store, "Yoga", at(24, 18)))
    assert refusal.reason == "full" and len(str(refusal)) <= 320
    assert refusal.alternatives == [at(24, 19)]


async def test_a_dead_server_is_unavailable() -> None:
    store = HttpBookingStore(f"http://127.0.0.1:{free_port()}", DEFAULT_TOKEN, timeout=5.0)
    try:
        for call in (
            book(store, "Yoga", at(24, 18)),
            store.upcoming(phone=ALICE, now=NOW),
            store.cancel(phone=ALICE, appointment_id="1"),
        ):
            assert (await refused(call)).reason == "unavailable"
    finally:
        await store.aclose()


async def test_a_server_that_never_answers_times_out_as_unavailable(
    scheduler: SchedulerEmulator, scheduler_server: tuple[SchedulerEmulator, str]
) -> None:
    scheduler.holds.close()  # it takes the request and never answers while the test runs
    store = HttpBookingStore(scheduler_server[1], DEFAULT_TOKEN, timeout=0.3)
    try:
        async with asyncio.timeout(30):  # generous: only an ignored timeout gets this far
            assert (await refused(book(store, "Yoga", at(24, 18)))).reason == "unavailable"
    finally:
        await store.aclose()
        scheduler.holds.reset()


async def test_a_base_url_with_a_path_prefix(scheduler: SchedulerEmulator) -> None:
    # A scheduler mounted under a prefix: the adapter appends to the path, never replaces it.
    with serve_in_thread(Starlette(routes=[Mount("/api/v1", app=scheduler.app)])) as base_url:
        store = HttpBookingStore(base_url + "/api/v1", DEFAULT_TOKEN)
        try:
            booking = await book(store, "Yoga", at(24, 18))
        finally:
            await store.aclose()
    assert booking.status == "booked"
    assert scheduler.requests[0]["path"] == "/api/v1/bookings"
