"""Offline chat notifications: who is texted, when, how often, and what the text says."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from assistant.notifications import cap_release
from assistant.segments import count_segments
from assistant.settings import ConfigError, load_settings
from tests.support.clock import ManualClock as Clock

KEY = "chat-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
APP_URL = "https://chat.example.com"
BOB = "+14155550188"
NOW = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)  # 11:00 AM in Los Angeles, 2:00 PM in New York
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def chat_settings(make_settings: Callable[..., Any]) -> Callable[..., Any]:
    def build(**overrides: Any) -> Any:
        return make_settings(**{"chat_api_key": KEY, "app_base_url": APP_URL, **overrides})

    return build


async def add_user(
    app: Any, user_id: str, name: str, *, phone: str | None = None, verify: bool = True, **more: Any
):
    """Create a chat user; with a phone, opt in and (unless told not to) enter the code they were texted."""
    profile = {"name": name, **more}
    if phone:
        profile |= {"phone": phone, "smsOptIn": True}
    response = await app.client.put(f"/api/users/{user_id}", json=profile, headers=AUTH)
    assert response.status_code in (200, 201), response.text
    if phone and verify:
        code = re.search(r"\b(\d{6})\b", app.runtime.clients.gateway.sent_to(phone)[-1].body)[1]
        verified = await app.client.post(f"/api/users/{user_id}/verify", json={"code": code}, headers=AUTH)
        assert verified.json()["phoneVerified"] is True


async def post(app: Any, sender: str, body: str, *, to: str = "bob", chat: str = "c1") -> dict[str, Any]:
    response = await app.client.post(
        "/api/messages",
        json={"chatId": chat, "senderId": sender, "recipientId": to, "body": body},
        headers=AUTH,
    )
    assert response.status_code == 201, response.text
    return response.json()


def notifications(app: Any, phone: str = BOB) -> list[str]:
    """Texts to the phone other than the verification code."""
    return [
        text.body for text in app.runtime.clients.gateway.sent_to(phone) if "your code is" not in text.body
    ]


async def chat_people(app: Any) -> None:
    await add_user(app, "alice", "Alice")
    await add_user(app, "carol", "Carol")
    await add_user(app, "bob", "Bob", phone=BOB)


async def test_an_offline_verified_recipient_is_texted_once_with_the_sender_and_a_link(
    chat_settings, start_app
) -> None:
    async with start_app(chat_settings()) as app:
        await chat_people(app)
        posted = await post(app, "alice", "Hello Bob!")
        assert posted["notification"] == {"status": "sent", "reason": "sent"}
        assert notifications(app) == [
            "New message from Alice: Hello Bob!\nOpen: https://chat.example.com/chat/c1"
        ]
        (decision,) = await app.runtime.chat.log.decisions_for("bob")
        sms = app.runtime.clients.gateway.sent_to(BOB)[-1]
        assert (decision.chat_message_id, decision.status, decision.reason) == (
            posted["message"]["id"],
            "sent",
            "sent",
        )
        assert decision.sms_sid == sms.sid and decision.created_at is not None


async def test_a_long_message_is_previewed_up_to_a_whole_word_within_two_segments(
    chat_settings, start_app
) -> None:
    body = " ".join(f"word{n}" for n in range(120))
    async with start_app(chat_settings()) as app:
        await chat_people(app)
        await post(app, "alice", body)
    (text,) = notifications(app)
    assert count_segments(text).segments == 2 and count_segments(text).encoding == "GSM-7"
    first_line, link = text.split("\n")
    assert link == "Open: https://chat.example.com/chat/c1"
    preview = first_line.removeprefix("New message from Alice: ")
    assert preview.endswith("...") and body.startswith(preview.removesuffix("..."))
    assert body[len(preview) - 3] == " "  # cut between two words, not inside one
    assert len(preview) > 150  # and the room was used


async def test_messages_in_the_cooldown_are_held_then_sent_as_one_digest_without_what_was_read(
    clock, chat_settings, start_app
) -> None:
    async with start_app(chat_settings(), clock=clock) as app:
        await chat_people(app)
        await add_user(app, "dave", "Dave")
        await post(app, "alice", "Hello Bob!")
        clock.advance(seconds=10)
        held = await post(app, "alice", "Are you there?")
        assert held["notification"] == {
            "status": "held",
            "reason": "cooldown",
            "sendAt": (NOW + timedelta(seconds=60)).astimezone(ZoneInfo("America/Los_Angeles")).isoformat(),
        }
        clock.advance(seconds=10)
        await post(app, "carol", "Lunch?")
        clock.advance(seconds=10)
        read = await post(app, "dave", "Old news", chat="c2")
        await app.client.post(f"/api/messages/{read['message']['id']}/read", headers=AUTH)

        clock.now = NOW + timedelta(seconds=59)
        assert await app.runtime.chat.digests.send_due() == 0
        clock.now = NOW + timedelta(seconds=61)
        assert await app.runtime.chat.digests.send_due() == 1
        assert await app.runtime.chat.digests.send_due() == 0  # nothing is sent twice
        clock.advance(minutes=10)
        assert await app.runtime.chat.digests.send_due() == 0

        assert notifications(app)[1:] == [
            "2 new messages from Alice and Carol - open https://chat.example.com/chat/c1"
        ]
        decisions = await app.runtime.chat.log.decisions_for("bob")
        assert [(d.kind, d.status, d.reason) for d in decisions] == [
            ("message", "sent", "sent"),
            ("message", "held", "cooldown"),
            ("message", "held", "cooldown"),
            ("message", "held", "cooldown"),
            ("digest", "sent", "sent"),
        ]
        assert decisions[-1].sms_sid == app.runtime.clients.gateway.sent_to(BOB)[-1].sid


async def test_no_digest_at_all_when_the_recipient_came_back_online(clock, chat_settings, start_app) -> None:
    async with start_app(chat_settings(), clock=clock) as app:
        await chat_people(app)
        await post(app, "alice", "Hello Bob!")
        clock.advance(seconds=10)
        await post(app, "alice", "Still there?")
        clock.advance(seconds=5)
        await app.client.post("/api/presence", json={"userId": "bob", "online": True}, headers=AUTH)
        clock.advance(minutes=5)  # long offline again by the time the digest is due
        assert await app.runtime.chat.digests.send_due() == 0
        assert len(notifications(app)) == 1
        last = (await app.runtime.chat.log.decisions_for("bob"))[-1]
        assert (last.kind, last.status, last.reason) == ("digest", "skipped", "recipient_online")


async def test_an_online_recipient_is_not_texted_until_the_grace_period_has_passed(
    clock, chat_settings, start_app
) -> None:
    async with start_app(chat_settings(), clock=clock) as app:
        await chat_people(app)
        await app.client.post("/api/presence", json={"userId": "bob", "online": True}, headers=AUTH)
        assert (await post(app, "alice", "hi"))["notification"] == {
            "status": "skipped",
            "reason": "recipient_online",
        }
        clock.advance(seconds=25)
        await app.client.post("/api/presence", json={"userId": "bob", "online": False}, headers=AUTH)
        assert (await post(app, "alice", "hi?"))["notification"]["reason"] == "recipient_online"
        assert notifications(app) == []
        clock.advance(seconds=6)  # 31 s since the last online signal
        assert (await post(app, "alice", "hello?"))["notification"]["status"] == "sent"
        assert notifications(app) == [
            "New message from Alice: hello?\nOpen: https://chat.example.com/chat/c1"
        ]


async def test_a_recipient_who_texted_stop_is_never_texted(clock, chat_settings, start_app) -> None:
    async with start_app(chat_settings(), clock=clock) as app:
        await chat_people(app)
        await post(app, "alice", "Hello Bob!")
        clock.advance(seconds=10)
        await post(app, "alice", "held for the digest")
        await app.client.post("/sandbox/messages", json={"from": BOB, "body": "STOP"})
        await app.settle()
        stop_reply = app.runtime.clients.gateway.sent_to(BOB)[-1].body
        assert "no more texts" in stop_reply

        assert (await post(app, "carol", "hi"))["notification"] == {
            "status": "skipped",
            "reason": "opted_out",
        }
        clock.advance(minutes=5)
        assert await app.runtime.chat.digests.send_due() == 0
        assert (
            app.runtime.clients.gateway.sent_to(BOB)[-1].body == stop_reply
        )  # nothing after the confirmation
        assert [d.reason for d in await app.runtime.chat.log.decisions_for("bob")][-1] == "opted_out"


async def test_quiet_hours_defer_to_nine_in_the_recipients_zone_and_the_text_goes_then(
    clock, chat_settings, start_app
) -> None:
    clock.now = datetime(2026, 11, 24, 22, 30, tzinfo=NEW_YORK)
    async with start_app(chat_settings(), clock=clock) as app:
        await chat_people(app)
        await add_user(app, "bob", "Bob", timezone="America/New_York")
        deferred = await post(app, "alice", "Good night!")
        assert deferred["notification"] == {
            "status": "deferred",
            "reason": "quiet_hours",
            "sendAt": "2026-11-25T09:00:00-05:00",
        }
        clock.now = datetime(2026, 11, 25, 8, 59, tzinfo=NEW_YORK)
        assert await app.runtime.chat.digests.send_due() == 0 and notifications(app) == []
        clock.now = datetime(2026, 11, 25, 9, 0, tzinfo=NEW_YORK)
        await app.runtime.worker().sweep()  # what the worker runs every 15 seconds
        assert notifications(app) == [
            "New message from Alice: Good night!\nOpen: https://chat.example.com/chat/c1"
        ]


async def test_quiet_hours_follow_the_numbers_zone_when_the_user_has_none(
    clock, chat_settings, start_app
) -> None:
    london = "+442079460018"
    clock.now = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)  # 1:30 PM at the business, 9:30 PM in London
    async with start_app(chat_settings(), clock=clock) as app:
        await add_user(app, "alice", "Alice")
        await add_user(app, "dev", "Dev", phone=london)
        deferred = await post(app, "alice", "Cheers!", to="dev")
        assert deferred["notification"] == {
            "status": "deferred",
            "reason": "quiet_hours",
            "sendAt": "2026-11-25T09:00:00+00:00",  # 9:00 AM in London,
        }
        clock.now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
        await app.runtime.worker().sweep()
        assert len(notifications(app, london)) == 1


async def test_hourly_and_daily_caps_hold_texts_until_the_window_moves_on(
    clock, chat_settings, start_app
) -> None:
    settings = chat_settings(notify_cooldown_seconds=0, notify_hourly_cap=2, notify_daily_cap=3)
    async with start_app(settings, clock=clock) as app:
        await chat_people(app)
        assert [(await post(app, "alice", f"m{n}"))["notification"]["status"] for n in range(2)] == [
            "sent",
            "sent",
        ]
        capped = await post(app, "alice", "m2")
        assert (capped["notification"]["status"], capped["notification"]["reason"]) == ("held", "hourly_cap")
        clock.advance(hours=1)
        assert await app.runtime.chat.digests.send_due() == 1
        daily = await post(app, "alice", "m3")
        assert (daily["notification"]["reason"], daily["notification"]["sendAt"]) == (
            "daily_cap",
            (NOW + timedelta(days=1)).astimezone(ZoneInfo("America/Los_Angeles")).isoformat(),
        )
        assert len(notifications(app)) == 3


async def test_messages_arriving_together_text_the_recipient_once(chat_settings, start_app) -> None:
    async with start_app(chat_settings()) as app:
        await chat_people(app)
        answers = await asyncio.gather(*(post(app, "alice", f"burst {n}") for n in range(8)))
    statuses = sorted(answer["notification"]["status"] for answer in answers)
    assert statuses == ["held"] * 7 + ["sent"]
    assert len(notifications(app)) == 1


async def test_a_text_due_anyway_covers_the_messages_held_before_it(clock, chat_settings, start_app) -> None:
    async with start_app(chat_settings(), clock=clock) as app:
        await chat_people(app)
        await post(app, "alice", "one")
        clock.advance(seconds=30)
        await post(app, "carol", "two")
        clock.advance(seconds=31)  # the cooldown is over before any sweep has run
        assert (await post(app, "alice", "three"))["notification"]["status"] == "sent"
        assert await app.runtime.chat.digests.send_due() == 0
    assert notifications(app)[1:] == [
        "2 new messages from Carol and Alice - open https://chat.example.com/chat/c1"
    ]


@pytest.mark.parametrize(
    ("profile", "reason"),
    [
        ({"name": "Bob"}, "not_opted_in"),
        ({"name": "Bob", "smsOptIn": True}, "no_phone"),
        ({"name": "Bob", "smsOptIn": True, "phone": BOB}, "phone_unverified"),
        ({"name": "Bob", "smsOptIn": False, "phone": BOB}, "not_opted_in"),
    ],
)
async def test_users_who_cannot_be_texted_are_not(profile, reason, chat_settings, start_app) -> None:
    async with start_app(chat_settings()) as app:
        await app.client.put("/api/users/bob", json=profile, headers=AUTH)
        assert (await post(app, "alice", "hi"))["notification"] == {"status": "skipped", "reason": reason}
        assert notifications(app) == []


@pytest.mark.parametrize(
    ("code", "status", "reason"), [(21610, "skipped", "opted_out"), (21211, "failed", "send_failed")]
)
async def test_a_refused_send_is_recorded_as_such(code, status, reason, chat_settings, start_app) -> None:
    async with start_app(chat_settings()) as app:
        await chat_people(app)
        app.runtime.clients.gateway.fail_for(BOB, code)
        posted = await post(app, "alice", "hi")
        assert posted["notification"] == {"status": status, "reason": reason}
        assert await app.runtime.consent.is_opted_out(BOB) is (code == 21610)


def test_a_cap_releases_when_the_oldest_text_leaves_the_window() -> None:
    sent = [NOW - timedelta(minutes=50), NOW - timedelta(minutes=20), NOW - timedelta(minutes=5)]
    assert cap_release(sent, NOW, timedelta(hours=1), 4) is None
    assert cap_release(sent, NOW, timedelta(hours=1), 3) == NOW + timedelta(minutes=10)
    assert cap_release(sent, NOW, timedelta(hours=1), 2) == NOW + timedelta(minutes=40)


def test_quiet_hours_are_a_setting_that_can_be_off_and_must_be_well_formed(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env
    assert load_settings(quiet_hours="off").quiet_window is None
    assert load_settings(quiet_hours="22:30-7:00").quiet_window == (time(22, 30), time(7))
    with pytest.raises(ConfigError, match="QUIET_HOURS: '9pm-9am' must look like 21:00-09:00"):
        load_settings(quiet_hours="9pm-9am")
