"""The spending budget: staff told at 80 % and 100 %, proactive texts held, replies and STOP going on,
and what was held going out once the budget allows; and the delivery-rate alert."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from storage.tables import Message
from tests.conftest import RunningApp
from tests.emulators.twilio import TwilioEmulator
from tests.test_metrics import value

KEY = "chat-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
CUSTOMER = "+14155550123"
BOB = "+14155550188"
STAFF = "+14155550199"


def budget_settings(twilio_settings: Callable[..., Any], **overrides: Any) -> Any:
    values = {
        "chat_api_key": KEY,
        "app_base_url": "https://chat.example.com",
        "sms_segment_price": 0.01,
        "daily_budget": 0.10,
        "staff_alert_numbers": STAFF,
    }
    return twilio_settings(**(values | overrides))


def texts_to(twilio: TwilioEmulator, phone: str) -> list[str]:
    """What Twilio was asked to text to `phone`, in order."""
    return [text["body"] for text in twilio.messages if text["to"] == phone]


async def add_bob(app: RunningApp, twilio: TwilioEmulator) -> None:
    """Bob uses the chat app, has opted in to texts and entered the code he was texted."""
    profile = {"name": "Bob", "phone": BOB, "smsOptIn": True}
    assert (await app.client.put("/api/users/bob", json=profile, headers=AUTH)).status_code == 201
    await app.settle()
    code = re.search(r"\b(\d{6})\b", texts_to(twilio, BOB)[-1])[1]
    await app.client.post("/api/users/bob/verify", json={"code": code}, headers=AUTH)
    await app.client.put("/api/users/alice", json={"name": "Alice"}, headers=AUTH)


async def message_bob(app: RunningApp, body: str) -> dict[str, Any]:
    posted = {"chatId": "c1", "senderId": "alice", "recipientId": "bob", "body": body}
    response = await app.client.post("/api/messages", json=posted, headers=AUTH)
    assert response.status_code == 201, response.text
    return response.json()


async def customer_texts(app: RunningApp, twilio: TwilioEmulator, body: str) -> str:
    """The customer texts; returns the reply they got."""
    before = len(texts_to(twilio, CUSTOMER))
    assert (await app.text(body, phone=CUSTOMER)).status_code == 200
    await app.settle()
    texts = texts_to(twilio, CUSTOMER)
    assert len(texts) == before + 1, f"no reply to {body!r}"
    return texts[-1]


async def watch_pass(app: RunningApp, twilio: TwilioEmulator, clock: Any) -> list[str]:
    """A worker's sweep once the budget's figures are fresh; returns the texts staff have had so far."""
    clock.advance(seconds=10)
    await app.runtime.worker().sweep()
    await app.settle()
    return [text.split(" Reply STOP")[0] for text in texts_to(twilio, STAFF)]


async def rows(app: RunningApp, phone: str) -> list[Message]:
    async with app.runtime.clients.sessions() as session:
        query = select(Message).where(Message.phone == phone).order_by(Message.id)
        return list(await session.scalars(query))


async def test_a_spent_daily_budget_holds_a_notification_but_not_a_reply_or_the_stop_confirmation(
    twilio_settings, start_app, twilio, clock
) -> None:
    async with start_app(budget_settings(twilio_settings)) as app:
        await add_bob(app, twilio)  # his verification code: the first $0.01 of today's $0.10
        staff: list[str] = []
        asked = 0
        while (await app.runtime.budget.state()).today.share < 0.8:
            asked += 1
            await customer_texts(app, twilio, f"question number {asked}")
            staff = await watch_pass(app, twilio, clock)
        spent = (await app.runtime.budget.state()).today.spent.total
        assert staff == [
            f"Acme Fitness assistant: {spent / 0.10:.0%} of today's budget is spent (${spent:.2f} of $0.10)."
        ]
        while (await app.runtime.budget.state()).today.share < 1:
            asked += 1
            await customer_texts(app, twilio, f"question number {asked}")
            staff = await watch_pass(app, twilio, clock)
        assert len(staff) == 2 and staff[1].startswith("Acme Fitness assistant: today's budget is spent")
        assert "notifications, digests and reminders are held until it allows" in staff[1]

        texts_to_bob = len(texts_to(twilio, BOB))
        posted = await message_bob(app, "Are we still on for tonight?")
        await app.settle()
        assert posted["notification"] == {"status": "sent", "reason": "budget_spent"}
        held = (await rows(app, BOB))[-1]
        assert len(texts_to(twilio, BOB)) == texts_to_bob  # not texted
        assert held.kind == "notification" and held.status == "held"
        assert held.details["held"].startswith("held: today's budget of $0.10 is spent")

        scraped = (await app.client.get("/metrics")).text
        assert value(scraped, "sms_held_texts") == 1
        assert value(scraped, "sms_budget_usd", period="today") == 0.1
        assert value(scraped, "sms_budget_spent_ratio", period="today") >= 1
        assert value(scraped, "sms_spend_usd", period="today", what="sms") == pytest.approx(
            (await app.runtime.budget.state()).today.spent.sms
        )
        assert await customer_texts(app, twilio, "do you have yoga classes?")  # replies go on
        assert "unsubscribed" in (await customer_texts(app, twilio, "STOP")).lower()  # and STOP is confirmed
        assert len(await watch_pass(app, twilio, clock)) == 2  # each threshold told once

        clock.advance(days=1)  # a new business day: the budget allows again
        await app.runtime.sender.deliver_due()
        texts = texts_to(twilio, BOB)
    assert len(texts) == texts_to_bob + 1 and "Are we still on for tonight?" in texts[-1]


async def test_what_the_budget_held_overnight_waits_for_the_end_of_quiet_hours(
    twilio_settings, start_app, twilio, clock
) -> None:
    async with start_app(budget_settings(twilio_settings, daily_budget=0.02)) as app:
        await add_bob(app, twilio)  # his code: $0.01
        await customer_texts(app, twilio, "question number 1")  # $0.01: today's budget is spent
        clock.advance(seconds=10)
        texts_to_bob = len(texts_to(twilio, BOB))
        await message_bob(app, "See you tomorrow at 10?")
        await app.settle()
        assert (await rows(app, BOB))[-1].status == "held"

        clock.set(datetime(2026, 11, 25, 8, 5, tzinfo=UTC))  # 00:05 in Los Angeles: a new budget day
        await app.runtime.sender.deliver_due()
        held = (await rows(app, BOB))[-1]
        assert len(texts_to(twilio, BOB)) == texts_to_bob  # not texted at midnight
        assert held.status == "held" and held.details["held"] == "held: quiet hours where the recipient is"

        clock.set(datetime(2026, 11, 25, 17, 1, tzinfo=UTC))  # 09:01 in Los Angeles, where +1 415 is
        await app.runtime.sender.deliver_due()
        texts = texts_to(twilio, BOB)
    assert len(texts) == texts_to_bob + 1 and "See you tomorrow at 10?" in texts[-1]


async def test_with_a_hard_stop_a_reply_waits_too_and_says_so(
    twilio_settings, start_app, twilio, clock
) -> None:
    settings = budget_settings(twilio_settings, daily_budget=0.02, budget_hard_stop=True)
    async with start_app(settings) as app:
        for asked in range(2):  # $0.01 each
            await customer_texts(app, twilio, f"question number {asked}")
        clock.advance(seconds=10)
        sent = len(texts_to(twilio, CUSTOMER))
        assert (await app.text("and your prices?", phone=CUSTOMER)).status_code == 200
        await app.settle()
        reply = (await rows(app, CUSTOMER))[-1]
        assert reply.direction == "outbound" and reply.status == "held"
        assert "budget of $0.02 is spent" in reply.details["held"]
        assert len(texts_to(twilio, CUSTOMER)) == sent
        # An opt-out is confirmed whatever the budget.
        assert (await app.text("STOP", phone=CUSTOMER)).status_code == 200
        await app.settle()
        confirmation = texts_to(twilio, CUSTOMER)[-1]
        assert "unsubscribed" in confirmation.lower()


async def test_a_held_reminder_whose_appointment_has_begun_is_dropped_not_sent_late(
    twilio_settings, start_app, twilio, clock
) -> None:
    async with start_app(budget_settings(twilio_settings)) as app:
        sender, outbox = app.runtime.sender, app.runtime.outbox
        start = clock() + timedelta(hours=2)
        reminder = await sender.prepare(phone=CUSTOMER, text="Yoga in 2 hours", kind="reminder", sender="")
        reminder.details = {"send_before": start.isoformat()}
        await app.runtime.messages.add_outbound(reminder)
        assert await outbox.claim(reminder)
        await outbox.hold(reminder, reason="held: today's budget of $0.10 is spent ($0.10)")
        clock.advance(hours=3)
        assert await outbox.release_held(["reminder"]) == (0, 1)
        (row,) = await rows(app, CUSTOMER)
    assert row.status == "canceled" and texts_to(twilio, CUSTOMER) == []


async def test_deliveries_under_95_percent_of_the_last_sends_alert_staff_once(
    twilio_settings, start_app, twilio, clock
) -> None:
    async with start_app(twilio_settings(staff_alert_numbers=STAFF)) as app:
        for number in range(20):
            assert (await app.text("hello", phone=f"+1415555{number:04d}")).status_code == 200
        await app.settle()
        replies = [row for row in await _outbound(app) if row.kind == "reply"]
        assert len(replies) == 20
        for index, reply in enumerate(replies):
            failed = index < 2  # 18 of 20 delivered: 90 %
            params = {
                "MessageSid": reply.sid,
                "MessageStatus": "undelivered" if failed else "delivered",
                "AccountSid": app.settings.twilio_account_sid,
                **({"ErrorCode": "30003"} if failed else {}),
            }
            assert (await app.twilio_post("/webhooks/twilio/status", params)).status_code == 200
        await app.runtime.worker().sweep()
        await app.runtime.worker().sweep()
        await app.settle()
        alerts = texts_to(twilio, STAFF)
    assert len(alerts) == 1
    assert alerts[0].startswith(
        "Acme Fitness assistant: only 90% of the last 20 texts with a known outcome were delivered (2 failed)"
    )


async def _outbound(app: RunningApp) -> list[Message]:
    async with app.runtime.clients.sessions() as session:
        query = select(Message).where(Message.direction == "outbound").order_by(Message.id)
        return list(await session.scalars(query))
