"""Reminders go out at their lead times, exactly once, never when cancelled, never to an opted-out number."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from actions.booking_backend import Booking, BookingRefused
from assistant import settings as settings_module
from assistant.business import load_business
from assistant.reminders import Reminders, lead_text, when_text
from assistant.runtime import Runtime, open_runtime
from assistant.settings import Settings
from storage.database import session_factory
from storage.messages import InboundText
from storage.tables import Appointment, Customer, Message, ReminderSend
from tests.support.clock import ManualClock as Clock

PHONE = "+14155550142"
BUSINESS_NUMBER = "+15005550006"
# Tue Nov 24 2026, 6:00 PM in Los Angeles (the example business's zone).
START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


class ListStore:
    """A list-backed booking store: just what reminders read, plus cancel and move to change it."""

    name = "list"

    def __init__(self) -> None:
        self.bookings: dict[str, Booking] = {}

    def add(self, start: datetime, *, booked_at: datetime, phone: str = PHONE, id: str = "42") -> Booking:
        booking = Booking(id, phone, "Yoga", start, start + timedelta(hours=1), "booked", booked_at)
        self.bookings[id] = booking
        return booking

    def change(self, id: str, **fields: Any) -> None:
        self.bookings[id] = dataclasses.replace(self.bookings[id], **fields)

    async def listing(self, *, phone: str | None = None) -> list[Booking]:
        found = [b for b in self.bookings.values() if phone in (None, b.phone)]
        return sorted(found, key=lambda booking: booking.start)

    async def get(self, *, phone: str, appointment_id: str) -> Booking:
        booking = self.bookings.get(appointment_id)
        if booking is None or booking.phone != phone:
            raise BookingRefused("not_found", "no such appointment")
        return booking

    async def aclose(self) -> None:
        return None


class StaleListing(ListStore):
    """A backend whose listing lags: it still lists as booked what `get` already knows is cancelled."""

    def __init__(self, listed: list[Booking]) -> None:
        super().__init__()
        self.listed = listed

    async def listing(self, *, phone: str | None = None) -> list[Booking]:
        return self.listed


@pytest.fixture
async def runtime(make_settings: Callable[..., Settings], clock: Clock) -> AsyncIterator[Runtime]:
    async with open_runtime(make_settings(), clock=clock) as opened:
        yield opened


def reminders(runtime: Runtime, store: Any, clock: Clock, **kwargs: Any) -> Reminders:
    kwargs.setdefault("quiet_hours", runtime.clients.settings.quiet_window)
    return Reminders(
        bookings=store,
        sessions=session_factory(runtime.clients.engine),
        sender=runtime.sender,
        renderer=runtime.renderer,
        transcript=runtime.transcript,
        business=runtime.clients.business,
        clock=clock,
        **kwargs,
    )


def texts(runtime: Runtime) -> list[str]:
    return [text.body for text in runtime.clients.gateway.sent_to(PHONE)]  # type: ignore[attr-defined]


async def reminder_rows(runtime: Runtime) -> dict[int, int | None]:
    async with session_factory(runtime.clients.engine)() as session:
        rows = await session.scalars(select(ReminderSend))
        return {row.lead_minutes: row.message_id for row in rows}


async def test_each_lead_time_sends_one_reminder_however_often_and_wherever_it_runs(runtime: Runtime) -> None:
    clock = Clock(START - timedelta(days=3))
    store = ListStore()
    store.add(START, booked_at=clock.now)
    one, two = reminders(runtime, store, clock), reminders(runtime, store, clock)

    assert await one.send_due() == 0  # three days ahead: nothing yet
    clock.set(START - timedelta(hours=23, minutes=59))  # the first sweep after the 24 h mark
    assert await one.send_due() == 1
    assert await one.send_due() == 0
    assert await asyncio.gather(one.send_due(), two.send_due()) == [0, 0]
    assert len(texts(runtime)) == 1
    assert "Yoga is tomorrow at 6:00 PM" in texts(runtime)[0]

    clock.set(START - timedelta(hours=1, minutes=59))
    results = await asyncio.gather(one.send_due(), two.send_due())
    assert sorted(results) == [0, 1]
    assert await one.send_due() == 0
    assert len(texts(runtime)) == 2
    assert "Yoga is today at 6:00 PM" in texts(runtime)[1]

    rows = await reminder_rows(runtime)
    assert set(rows) == {24 * 60, 120} and all(rows.values())


async def test_workers_racing_on_the_same_reminder_send_it_once(runtime: Runtime) -> None:
    clock = Clock(START - timedelta(hours=23))
    store = ListStore()
    store.add(START, booked_at=START - timedelta(days=5))
    workers = [reminders(runtime, store, clock) for _ in range(4)]
    assert sum(await asyncio.gather(*(worker.send_due() for worker in workers))) == 1
    assert len(texts(runtime)) == 1


async def test_the_text_names_service_and_local_time_and_never_says_cancel(runtime: Runtime) -> None:
    clock = Clock(START - timedelta(hours=23))
    store = ListStore()
    store.add(START, booked_at=START - timedelta(days=5))
    await reminders(runtime, store, clock).send_due()
    body = texts(runtime)[0]
    assert body.startswith("Acme Fitness: reminder, your Yoga is tomorrow at 6:00 PM.")
    assert "cancel" not in body.lower()
    async with session_factory(runtime.clients.engine)() as session:
        message = await session.scalar(select(Message).where(Message.kind == "reminder"))
    assert message is not None and message.to_number == PHONE and message.status == "delivered"
    assert message.details == {
        "appointment": "42",
        "lead_minutes": 24 * 60,
        "send_before": START.isoformat(),
        "timezone": "America/Los_Angeles",  # the zone quiet hours are kept in, should it go later
    }


async def test_a_reply_to_a_reminder_continues_the_conversation(runtime: Runtime) -> None:
    clock = Clock(START - timedelta(hours=23))
    store = ListStore()
    store.add(START, booked_at=START - timedelta(days=5))
    await reminders(runtime, store, clock).send_due()
    remembered = await runtime.transcript.recent(PHONE)
    assert remembered[-1] == {"role": "assistant", "content": texts(runtime)[0]}


async def test_a_cancelled_appointment_gets_no_reminder(runtime: Runtime) -> None:
    clock = Clock(START - timedelta(days=3))
    store = ListStore()
    store.add(START, booked_at=clock.now)
    store.change("42", status="cancelled")
    for moment in (START - timedelta(hours=23), START - timedelta(hours=1)):
        clock.set(moment)
        assert await reminders(runtime, store, clock).send_due() == 0
    assert texts(runtime) == [] and await reminder_rows(runtime) == {}


async def test_a_cancellation_after_the_listing_still_wins(runtime: Runtime) -> None:
    clock = Clock(START - timedelta(hours=23))
    booked = Booking(
        "42", PHONE, "Yoga", START, START + timedelta(hours=1), "booked", START - timedelta(days=5)
    )
    store = StaleListing([booked])
    store.bookings["42"] = dataclasses.replace(booked, status="cancelled")
    assert await reminders(runtime, store, clock).send_due() == 0
    assert texts(runtime) == [] and await reminder_rows(runtime) == {}


async def test_an_opted_out_number_gets_no_reminder(runtime: Runtime) -> None:
    clock = Clock(START - timedelta(hours=23))
    store = ListStore()
    store.add(START, booked_at=START - timedelta(days=5))
    await runtime.consent.record(PHONE, "opt_out", source="keyword")
    assert await reminders(runtime, store, clock).send_due() == 0
    assert texts(runtime) == []
    async with session_factory(runtime.clients.engine)() as session:
        message = await session.scalar(select(Message).where(Message.kind == "reminder"))
    assert message is not None and message.status == "suppressed"
    # Recorded, so it is not retried (and sent) after they opt back in for another reason.
    assert await reminder_rows(runtime) == {24 * 60: message.id}


async def test_booked_inside_both_windows_gets_no_reminder(runtime: Runtime) -> None:
    clock = Clock(START - timedelta(hours=1))
    store = ListStore()
    store.add(START, booked_at=clock.now)
    for moment in (clock.now, START - timedelta(minutes=30), START - timedelta(minutes=1)):
        clock.set(moment)
        assert await reminders(runtime, store, clock).send_due() == 0
    assert texts(runtime) == []
    assert await reminder_rows(runtime) == {24 * 60: None, 120: None}


async def test_booked_ten_hours_ahead_gets_only_the_two_hour_reminder(runtime: Runtime) -> None:
    clock = Clock(START - timedelta(hours=10))
    store = ListStore()
    store.add(START, booked_at=clock.now)
    sender = reminders(runtime, store, clock)
    assert await sender.send_due() == 0
    clock.set(START - timedelta(hours=1, minutes=59))
    assert await sender.send_due() == 1
    assert await sender.send_due() == 0
    assert len(texts(runtime)) == 1 and "today at 6:00 PM" in texts(runtime)[0]
    rows = await reminder_rows(runtime)
    assert rows[24 * 60] is None and rows[120] is not None


async def test_a_late_sweep_sends_only_the_shortest_due_reminder(runtime: Runtime) -> None:
    clock = Clock(START - timedelta(days=3))
    store = ListStore()
    store.add(START, booked_at=clock.now)
    clock.set(START - timedelta(minutes=90))  # the worker was down through both lead times
    assert await reminders(runtime, store, clock).send_due() == 1
    assert len(texts(runtime)) == 1
    rows = await reminder_rows(runtime)
    assert rows[24 * 60] is None and rows[120] is not None


async def test_a_moved_appointment_is_reminded_for_its_new_time(runtime: Runtime) -> None:
    clock = Clock(START - timedelta(hours=23))
    store = ListStore()
    store.add(START, booked_at=START - timedelta(days=5))
    sender = reminders(runtime, store, clock)
    assert await sender.send_due() == 1
    later = START + timedelta(days=2)
    store.change("42", start=later, end=later + timedelta(hours=1))
    assert await sender.send_due() == 0
    clock.set(later - timedelta(hours=23))
    assert await sender.send_due() == 1
    assert "Yoga is tomorrow at 6:00 PM" in texts(runtime)[1]


async def test_past_appointments_and_other_leads(runtime: Runtime) -> None:
    clock = Clock(START + timedelta(minutes=5))
    store = ListStore()
    store.add(START, booked_at=START - timedelta(days=5))
    assert await reminders(runtime, store, clock).send_due() == 0  # already started
    clock.set(START - timedelta(minutes=20))
    assert await reminders(runtime, store, clock, leads=[timedelta(minutes=30)]).send_due() == 1
    assert await reminders(runtime, store, clock, leads=()).send_due() == 0


NEW_YORK, LOS_ANGELES = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")
# Wed Nov 25 2026, 11:30 AM in New York, 8:30 AM in Los Angeles, 4:30 PM in London; a 3 h reminder is
# planned for 8:30 AM in New York (inside its quiet hours, which end before the start), 5:30 AM in Los
# Angeles (inside them, and they end after the start) and 1:30 PM in London (outside them).
EARLY = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)
THREE_HOURS = [timedelta(hours=3)]


async def add_customer(runtime: Runtime, phone: str, timezone: str | None) -> None:
    async with session_factory(runtime.clients.engine)() as session, session.begin():
        session.add(Customer(phone=phone, name="Dana", timezone=timezone))


@pytest.mark.parametrize(
    ("phone", "timezone", "goes_at"),
    [
        # The customer's own zone wins over the number's (a 415 number, but she lives in New York): the
        # quiet hours end at 9:00 AM there, still before the start, so it goes then.
        (PHONE, "America/New_York", datetime(2026, 11, 25, 9, 0, tzinfo=NEW_YORK)),
        # No zone on file: a London number keeps London's hours, and 1:30 PM there is not quiet.
        ("+442079460018", None, EARLY - timedelta(hours=3)),
        # A number with no known zone keeps the business's: 9:00 AM in Los Angeles is after the start, so
        # it goes just before the quiet hours began, the evening before.
        ("+447700900123", None, datetime(2026, 11, 24, 20, 50, tzinfo=LOS_ANGELES)),
    ],
)
async def test_a_reminder_in_the_customers_quiet_hours_moves_in_their_zone_and_goes_once(
    runtime: Runtime, phone: str, timezone: str | None, goes_at: datetime
) -> None:
    await add_customer(runtime, phone, timezone)
    clock = Clock(EARLY - timedelta(days=3))
    store = ListStore()
    store.add(EARLY, booked_at=clock.now, phone=phone)
    one, two = (reminders(runtime, store, clock, leads=THREE_HOURS) for _ in range(2))

    clock.set(goes_at - timedelta(minutes=1))
    assert await one.send_due() == 0
    clock.set(goes_at)
    assert sorted(await asyncio.gather(one.send_due(), two.send_due())) == [0, 1]
    # Later sweeps, through the planned moment and up to the start, send nothing more.
    for moment in (goes_at + timedelta(minutes=1), EARLY - timedelta(hours=3), EARLY - timedelta(minutes=1)):
        clock.set(moment)
        assert await asyncio.gather(one.send_due(), two.send_due()) == [0, 0]
    assert len(runtime.clients.gateway.sent_to(phone)) == 1  # type: ignore[attr-defined]
    rows = await reminder_rows(runtime)
    assert list(rows) == [180] and rows[180] is not None


async def test_a_late_sweep_in_quiet_hours_waits_for_their_end_and_sends_only_the_shortest_lead(
    runtime: Runtime,
) -> None:
    await add_customer(runtime, PHONE, "America/New_York")
    start = datetime(2026, 11, 25, 10, 0, tzinfo=NEW_YORK)
    clock = Clock(start - timedelta(days=3))
    store = ListStore()
    store.add(start, booked_at=clock.now)
    sender = reminders(runtime, store, clock)
    # The worker was down from before the 24 h reminder until 11:00 PM: no text in the night...
    clock.set(datetime(2026, 11, 24, 23, 0, tzinfo=NEW_YORK))
    assert await sender.send_due() == 0
    clock.set(datetime(2026, 11, 25, 8, 59, tzinfo=NEW_YORK))
    assert await sender.send_due() == 0
    # ...then at 9:00 AM the 2 h reminder (moved there from 8:00 AM) goes, and the 24 h one never does.
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=NEW_YORK))
    assert await sender.send_due() == 1
    assert await sender.send_due() == 0
    assert len(texts(runtime)) == 1
    rows = await reminder_rows(runtime)
    assert rows[24 * 60] is None and rows[120] is not None


async def test_quiet_hours_off_leaves_reminders_at_their_lead_times(runtime: Runtime) -> None:
    await add_customer(runtime, PHONE, "America/New_York")
    clock = Clock(EARLY - timedelta(hours=3))  # 8:30 AM in New York
    store = ListStore()
    store.add(EARLY, booked_at=EARLY - timedelta(days=5))
    assert await reminders(runtime, store, clock, leads=THREE_HOURS, quiet_hours=None).send_due() == 1


async def test_booked_after_the_moment_a_reminder_was_moved_to_needs_none(runtime: Runtime) -> None:
    # Booked at 10:00 PM for 8:30 AM: the 2 h reminder would have moved to 8:50 PM, before the booking.
    start = datetime(2026, 11, 25, 8, 30, tzinfo=LOS_ANGELES)
    clock = Clock(datetime(2026, 11, 24, 22, 0, tzinfo=LOS_ANGELES))
    store = ListStore()
    store.add(start, booked_at=clock.now)
    sender = reminders(runtime, store, clock)
    for moment in (clock.now, start - timedelta(hours=2), start - timedelta(minutes=1)):
        clock.set(moment)
        assert await sender.send_due() == 0
    assert texts(runtime) == []
    assert await reminder_rows(runtime) == {24 * 60: None, 120: None}


async def add_appointment(
    runtime: Runtime, *, booked_at: datetime, phone: str = PHONE, status: str = "booked"
):
    async with session_factory(runtime.clients.engine)() as session, session.begin():
        session.add(
            Appointment(
                phone=phone,
                service="Yoga",
                start_at=START,
                end_at=START + timedelta(hours=1),
                status=status,
                created_at=booked_at,
            )
        )


def wired(runtime: Runtime) -> None:
    if not hasattr(runtime, "reminders"):
        pytest.skip("reminders are not wired into the runtime yet (see the wiring notes)")


async def test_reminders_read_the_built_in_store(runtime: Runtime) -> None:
    builtin = pytest.importorskip("assistant.bookings.builtin")
    clock = Clock(START - timedelta(hours=23))
    await add_appointment(runtime, booked_at=START - timedelta(days=5))
    await add_appointment(
        runtime, booked_at=START - timedelta(days=5), phone="+14155550143", status="cancelled"
    )
    store = builtin.SqlBookingStore(session_factory(runtime.clients.engine), runtime.clients.business, clock)
    assert await reminders(runtime, store, clock).send_due() == 1
    assert len(texts(runtime)) == 1 and runtime.clients.gateway.sent_to("+14155550143") == []  # type: ignore[attr-defined]


async def test_the_built_in_store_tells_reminders_when_it_was_booked(runtime: Runtime) -> None:
    builtin = pytest.importorskip("assistant.bookings.builtin")
    clock = Clock(START - timedelta(minutes=30))
    await add_appointment(runtime, booked_at=START - timedelta(hours=1))
    store = builtin.SqlBookingStore(session_factory(runtime.clients.engine), runtime.clients.business, clock)
    assert await reminders(runtime, store, clock).send_due() == 0
    assert texts(runtime) == [] and await reminder_rows(runtime) == {24 * 60: None, 120: None}


async def test_the_worker_sweep_sends_due_reminders(make_settings: Callable[..., Settings]) -> None:
    clock = Clock(START - timedelta(hours=23))
    async with open_runtime(make_settings(), clock=clock) as runtime:
        wired(runtime)
        await add_appointment(runtime, booked_at=START - timedelta(days=5))
        worker = runtime.worker()
        await worker.sweep()
        await worker.sweep()
        assert len(texts(runtime)) == 1


async def test_reminder_leads_come_from_settings(make_settings: Callable[..., Settings]) -> None:
    clock = Clock(START - timedelta(minutes=20))
    async with open_runtime(make_settings(reminder_leads="30m"), clock=clock) as runtime:
        wired(runtime)
        await add_appointment(runtime, booked_at=START - timedelta(days=5))
        assert await runtime.reminders.send_due() == 1  # type: ignore[attr-defined]
        rows = await reminder_rows(runtime)
        assert list(rows) == [30] and rows[30] is not None


async def test_a_reply_to_a_reminder_reaches_the_llm_with_the_reminder_before_it(
    make_settings: Callable[..., Settings], openai_server: tuple[Any, str], llm: Any
) -> None:
    settings = make_settings(openai_api_key="test-key", openai_base_url=openai_server[1] + "/v1")
    clock = Clock(START - timedelta(hours=23))
    async with open_runtime(settings, clock=clock) as runtime:
        wired(runtime)
        await add_appointment(runtime, booked_at=START - timedelta(days=5))
        assert await runtime.reminders.send_due() == 1  # type: ignore[attr-defined]
        reminder = texts(runtime)[0]
        await runtime.transcript.forget(PHONE)  # Redis lost it: the history is rebuilt from SQL
        llm.reply_with("See you then!")
        await runtime.messages.record_inbound(
            InboundText(
                sid="SM" + "7" * 32, from_number=PHONE, to_number=BUSINESS_NUMBER, body="thanks!", media=[]
            )
        )
        await runtime.conversation.answer(await runtime.messages.pending_turn(PHONE))
    chat = llm.requests[-1]["messages"]
    assert chat[-2:] == [{"role": "assistant", "content": reminder}, {"role": "user", "content": "thanks!"}]


def parse(text: str) -> tuple[timedelta, ...]:
    if not hasattr(settings_module, "parse_leads"):
        pytest.skip("REMINDER_LEADS parsing is not in settings yet (see the wiring notes)")
    return settings_module.parse_leads(text)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "leads"),
    [
        ("24h,2h", (timedelta(hours=24), timedelta(hours=2))),
        ("2h, 1d, 90m", (timedelta(days=1), timedelta(hours=2), timedelta(minutes=90))),
        ("30m", (timedelta(minutes=30),)),
        ("off", ()),
    ],
)
def test_parse_leads(text: str, leads: tuple[timedelta, ...]) -> None:
    assert parse(text) == leads


@pytest.mark.parametrize("text", ["24", "2 weeks", "0h", "24h;2h", "-2h", ""])
def test_parse_leads_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="must look like"):
        parse(text)


def test_a_bad_reminder_lead_setting_stops_start_up(make_settings: Callable[..., Settings]) -> None:
    parse("24h")
    with pytest.raises(ValidationError, match="'2 weeks' must look like"):
        make_settings(reminder_leads="24h,2 weeks")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (START - timedelta(hours=2), "today at 6:00 PM"),
        (START - timedelta(hours=20), "tomorrow at 6:00 PM"),
        (START - timedelta(days=3), "Tue Nov 24 at 6:00 PM"),
    ],
)
def test_when_is_said_in_local_time(now: datetime, expected: str) -> None:
    assert when_text(START, now, load_business(None)) == expected


def test_lead_text() -> None:
    leads = [timedelta(days=1), timedelta(hours=2), timedelta(hours=1), timedelta(minutes=90)]
    assert [lead_text(lead) for lead in leads] == [
        "24 hours",
        "2 hours",
        "1 hour",
        "90 minutes",
    ]
