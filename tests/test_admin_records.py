"""The console's record pages: appointments, customers, a thread's bookings, notifications, opt-outs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from actions.booking_backend import BookingRequest
from tests.support.staff import add_staff, sign_in

AUTH = {"Authorization": "Bearer chat-test-key"}
ALICE, BEN, CARA = "+14155550101", "+14155550102", "+14155550103"
LA = ZoneInfo("America/Los_Angeles")
RAW_UTC = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\bUTC\b|\+00:00")


async def _signed_in(app) -> None:
    await add_staff(app.runtime)
    await sign_in(app.client)


async def _page(app, path: str) -> str:
    response = await app.client.get(path)
    assert response.status_code == 200, response.text
    assert not RAW_UTC.search(response.text), f"{path} shows a raw UTC time"
    return response.text


def _row(page: str, marker: str) -> str:
    """The table row (or report line) holding `marker`, its white space collapsed as a browser shows it."""
    before, after = page.split(marker, 1)
    start = max(before.rfind("<tr"), before.rfind("<li"))
    return " ".join((before[start:] + marker + re.split(r"</tr>|</li>", after, maxsplit=1)[0]).split())


async def _book(app, phone: str, service: str, local: datetime, **more) -> str:
    booking = await app.runtime.clients.bookings.book(
        BookingRequest(phone=phone, service=service, start=local.replace(tzinfo=LA), **more)
    )
    return booking.id


async def test_appointments_upcoming_soonest_first_then_past_and_cancelled(
    twilio, llm, twilio_settings, start_app, clock
) -> None:
    llm.reply_with('You are booked! [ACTION:SCHEDULE service="Yoga" start="2026-11-25T18:00"]')
    async with start_app(twilio_settings()) as app:
        await app.runtime.customers.upsert([{"phone": ALICE, "name": "Alice Park"}])
        await app.text("book yoga tomorrow at 6pm", phone=ALICE)
        await app.settle()
        await _book(app, BEN, "Spin", datetime(2026, 11, 24, 17, 0))
        await _book(app, BEN, "Personal Training", datetime(2026, 11, 26, 9, 0))
        cancelled = await _book(app, CARA, "Yoga", datetime(2026, 11, 27, 8, 0))
        await app.runtime.clients.bookings.cancel(phone=CARA, appointment_id=cancelled)
        clock.advance(hours=8)  # 7:00 PM: Ben's spin class is over
        await _signed_in(app)
        upcoming = await _page(app, "/admin/appointments")
        past = await _page(app, "/admin/appointments?show=past")
        gone = await _page(app, "/admin/appointments?show=cancelled")

    assert "Upcoming (2)" in upcoming and "Past (1)" in upcoming and "Cancelled (1)" in upcoming
    assert upcoming.index("Wed Nov 25, 6:00 PM PST") < upcoming.index("Thu Nov 26, 9:00 AM PST")
    yoga = _row(upcoming, "Wed Nov 25, 6:00 PM PST")
    assert 'href="/admin/conversations/%2B14155550101">Alice Park</a>' in yoga
    assert "Yoga" in yoga and "booked</span>" in yoga and "by the assistant" in yoga
    training = _row(upcoming, "Thu Nov 26, 9:00 AM PST")
    assert "Personal Training" in training and "not recorded" in training
    assert "Spin" not in upcoming and "Spin" in past and "Tue Nov 24, 5:00 PM PST" in past
    assert "Fri Nov 27, 8:00 AM PST" in gone and "cancelled</span>" in gone and "Spin" not in gone


async def test_customers_with_tier_zone_consent_and_last_text_searchable_and_paged(
    make_settings, start_app, clock
) -> None:
    async with start_app(make_settings()) as app:
        await app.runtime.customers.upsert(
            [
                {"phone": ALICE, "name": "Alice Park", "tier": "gold", "timezone": "America/Chicago"},
                {"phone": BEN, "name": "Ben Ortiz"},
                *({"phone": f"+1415555{2000 + n}", "name": f"Walk-in {n}"} for n in range(55)),
            ]
        )
        await app.client.post("/sandbox/messages", json={"from": ALICE, "body": "what are your hours?"})
        await app.settle()
        clock.advance(minutes=5)
        await app.client.post("/sandbox/messages", json={"from": BEN, "body": "STOP"})
        await app.settle()
        await _signed_in(app)
        first = await _page(app, "/admin/customers")
        second = await _page(app, "/admin/customers?page=2")
        found = await _page(app, "/admin/customers?q=%28415%29+555-0101")
        by_name = await _page(app, "/admin/customers?q=ortiz")

    assert "Showing 1–50 of 57 customers" in first and "Showing 51–57 of 57" in second
    assert first.index("Ben Ortiz") < first.index("Alice Park")  # the latest to text first
    alice = _row(first, "Alice Park</a>")
    assert "gold" in alice and "America/Chicago" in alice and "opted in" in alice
    assert "Tue Nov 24, 11:00 AM PST" in alice and "to them" in alice  # the assistant answered last
    ben = _row(first, "Ben Ortiz</a>")
    assert "opted out" in ben and "Tue Nov 24, 11:05 AM PST" in ben and "the business's" in ben
    assert "never texted" in _row(second, "Walk-in 0</a>")
    assert "Alice Park" in found and "Ben Ortiz" not in found and "of 1 customer" in found
    assert "Ben Ortiz" in by_name and "Alice Park" not in by_name


async def test_a_thread_shows_the_customers_bookings(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        await app.client.post("/sandbox/messages", json={"from": ALICE, "body": "hi"})
        await app.settle()
        await _book(app, ALICE, "Spin", datetime(2026, 11, 28, 9, 0))
        await _book(app, BEN, "Yoga", datetime(2026, 11, 25, 18, 0))
        await _signed_in(app)
        thread = await _page(app, "/admin/conversations/%2B14155550101")

    card = thread.split('id="bookings-title"')[1].split("</section>")[0]
    assert "Spin" in card and "Sat Nov 28, 9:00 AM PST" in card and "booked</span>" in card
    assert "Yoga" not in card  # Ben's, not Alice's


async def test_chat_notifications_are_kept_apart_from_customer_conversations(
    make_settings, start_app
) -> None:
    async with start_app(make_settings(chat_api_key="chat-test-key")) as app:
        await app.client.post("/sandbox/messages", json={"from": ALICE, "body": "hi"})
        await app.settle()
        profile = {"name": "Bob Lee", "phone": BEN, "smsOptIn": True}
        await app.client.put("/api/users/bob", json=profile, headers=AUTH)
        code = re.search(r"\b(\d{6})\b", app.runtime.clients.gateway.sent_to(BEN)[-1].body)[1]
        await app.client.post("/api/users/bob/verify", json={"code": code}, headers=AUTH)
        message = {"chatId": "c1", "senderId": "alice", "recipientId": "bob", "body": "Lunch at noon?"}
        posted = await app.client.post("/api/messages", json=message, headers=AUTH)
        assert posted.json()["notification"]["status"] == "sent"
        await _signed_in(app)
        conversations = await _page(app, "/admin/conversations")
        notices = await _page(app, "/admin/notifications")
        thread = await _page(app, "/admin/conversations/%2B14155550102")

    assert ALICE in conversations and BEN not in conversations
    decision = _row(notices, "Lunch at noon?")
    assert "Bob Lee" in decision and "texted</span>" in decision and "Tue Nov 24, 11:00 AM PST" in decision
    assert "phone verification code (not shown)" in notices and code not in notices
    assert "Lunch at noon" not in thread.split('id="messages-title"')[1].split("</section>")[0]
    assert "2 texts to this number from the chat app" in thread


async def test_the_opt_out_history_reads_like_a_report(make_settings, start_app, clock) -> None:
    async with start_app(make_settings()) as app:
        await app.runtime.customers.upsert([{"phone": ALICE, "name": "Alice Park"}])
        await app.client.post("/sandbox/messages", json={"from": ALICE, "body": "STOP"})
        await app.settle()
        clock.set(datetime(2026, 11, 25, 17, 30, tzinfo=UTC))
        await app.client.post("/sandbox/messages", json={"from": ALICE, "body": "start"})
        await app.settle()
        await app.client.post("/sandbox/messages", json={"from": BEN, "body": "please unsubscribe me"})
        await app.settle()
        await _signed_in(app)
        current = await _page(app, "/admin/optouts")
        history = await _page(app, "/admin/optouts?history=1")

    assert "<strong>1</strong> number opted out now" in current
    assert "<strong>1</strong> opted back in" in current and "<strong>2</strong> opt-outs recorded" in current
    assert current.index(BEN) < current.index("Alice Park")  # opted out first
    assert "Since Wed Nov 25, 9:30 AM PST" in _row(current, "Alice Park</a>")
    assert history.index("“start”") < history.index("“STOP”")  # newest first
    stop = _row(history, "“STOP”")
    assert "opted out</span>" in stop and "On Tue Nov 24, 11:00 AM PST, texted a keyword" in stop
    assert "Confirmation texted." in stop
    assert "texted a phrase that means it: “please unsubscribe me”" in history
