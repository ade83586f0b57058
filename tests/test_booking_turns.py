"""Booking through conversation: the assistant really books, moves and cancels, and never over-claims."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.support.clock import ManualClock

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=LA)  # a Monday morning
TOMORROW = "2026-11-24"
ALICE = "+14155550401"
BOB = "+14155550402"


def clock() -> datetime:
    return NOW


def _bodies(twilio, phone: str) -> list[str]:
    return [m["body"] for m in twilio.messages if m["to"] == phone]


async def _booked(app, phone: str | None = None) -> list[dict]:
    """What `appointments list --json` shows, read in-process (the CLI itself is checked once below)."""
    return [
        {
            "id": b.id,
            "phone": b.phone,
            "service": b.service,
            "status": b.status,
            "start": b.start.astimezone(LA).isoformat(timespec="minutes"),
        }
        for b in await app.runtime.clients.bookings.listing(phone=phone)
    ]


def _appointments(database_url: str, phone: str | None = None) -> list[dict]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO", "OPENAI", "BOOKING"))}
    environment["DATABASE_URL"] = database_url
    args = ["appointments", "list", "--json"] + (["--phone", phone] if phone else [])
    result = subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def _say(app, phone: str, body: str) -> None:
    await app.text(body, phone=phone)
    await app.settle()


async def _alice_books_yoga(app, llm) -> dict:
    """Alice books tomorrow's 6 PM yoga; her one appointment."""
    llm.reply_with(f'[ACTION:SCHEDULE service="Yoga" start="{TOMORROW}T18:00"]')
    await _say(app, ALICE, "yoga tomorrow 6pm")
    (appointment,) = await _booked(app, ALICE)
    return appointment


async def test_two_bookings_in_one_reply_are_two_bookings(twilio, llm, twilio_settings, start_app) -> None:
    llm.reply_with(
        f'[ACTION:SCHEDULE service="Yoga" start="{TOMORROW}T18:00"] '
        f'[ACTION:SCHEDULE service="Spin" start="{TOMORROW}T07:00"]'
    )
    async with start_app(twilio_settings(), clock=clock) as app:
        await _say(app, ALICE, "yoga at 6pm and spin at 7am tomorrow please")
        booked = await _booked(app, ALICE)
    (body,) = _bodies(twilio, ALICE)
    assert sorted((b["service"], b["start"][11:16]) for b in booked) == [("Spin", "07:00"), ("Yoga", "18:00")]
    assert "Booked: Yoga" in body and "Booked: Spin" in body


async def test_the_llm_books_and_the_customer_gets_no_tag(twilio, llm, twilio_settings, start_app) -> None:
    llm.reply_with(f'Great, you\'re booked! [ACTION:SCHEDULE service="Yoga" start="{TOMORROW}T18:00"]')
    settings = twilio_settings()
    async with start_app(settings, clock=clock) as app:
        await _say(app, ALICE, "Can I do yoga tomorrow at 6pm?")

    (body,) = _bodies(twilio, ALICE)
    assert "[ACTION" not in body
    assert "Booked: Yoga, Tue Nov 24 6:00 PM" in body
    rows = _appointments(settings.database_url, ALICE)
    assert [(r["phone"], r["service"], r["start"], r["status"]) for r in rows] == [
        (ALICE, "Yoga", "2026-11-24T18:00-08:00", "booked")
    ]


@pytest.mark.parametrize(
    ("tag", "why"),
    [
        (f'[ACTION:SCHEDULE service="Yoga" start="{TOMORROW}T22:00"]', "closed"),
        (f'[ACTION:SCHEDULE service="Underwater Basket Weaving" start="{TOMORROW}T18:00"]', "unknown"),
        (f'[ACTION:SCHEDULE service="Personal Training" start="{TOMORROW}T09:00"]', "full"),
        ('[ACTION:SCHEDULE service="Yoga" start="2026-11-20T18:00"]', "past"),
        ('[ACTION:SCHEDULE service="Yoga" start="tomorrow evening"]', "invalid"),
    ],
)
async def test_refused_bookings_book_nothing_and_never_say_booked(
    tag, why, twilio, llm, twilio_settings, start_app
) -> None:
    settings = twilio_settings()
    async with start_app(settings, clock=clock) as app:
        llm.reply_with(f'Done! [ACTION:SCHEDULE service="Personal Training" start="{TOMORROW}T09:00"]')
        await _say(app, BOB, "training tomorrow 9am")  # Bob takes the only place
        llm.reply_with(f"Great, you're booked! {tag}")
        await _say(app, ALICE, "book me in")
        booked = await _booked(app)

    (body,) = _bodies(twilio, ALICE)
    assert "booked" not in body.lower() and "[ACTION" not in body
    assert [r["phone"] for r in booked] == [BOB]
    if why == "full":
        assert "Nearest open times:" in body


async def test_someone_elses_appointment_cannot_be_touched(twilio, llm, twilio_settings, start_app) -> None:
    settings = twilio_settings()
    async with start_app(settings, clock=clock) as app:
        appointment = await _alice_books_yoga(app, llm)
        for tag in (
            f'[ACTION:CANCEL appointment="{appointment["id"]}"]',
            f'[ACTION:UPDATE appointment="{appointment["id"]}" start="{TOMORROW}T19:00"]',
        ):
            llm.reply_with(f"Sure, done! {tag}")
            await _say(app, BOB, f"cancel appointment {appointment['id']}")
            llm.reply_with("Okay.")
            await _say(app, BOB, "YES")
        after = await _booked(app)

    assert after == [appointment]
    assert all("Reply YES" not in body and "Cancelled" not in body for body in _bodies(twilio, BOB))


async def test_cancelling_your_own_asks_first_then_yes_cancels(
    twilio, llm, twilio_settings, start_app
) -> None:
    settings = twilio_settings()
    async with start_app(settings, clock=clock) as app:
        appointment = await _alice_books_yoga(app, llm)

        llm.reply_with(f'I\'ve cancelled it! [ACTION:CANCEL appointment="{appointment["id"]}"]')
        await _say(app, ALICE, "I can't make it to yoga tomorrow, please cancel it")
        question = _bodies(twilio, ALICE)[-1]
        assert question == "Reply YES to cancel Yoga, Tue Nov 24 6:00 PM (#1)."
        assert (await _booked(app, ALICE))[0]["status"] == "booked"

        requests_before = len(llm.requests)
        await _say(app, ALICE, "Yes")
        assert len(llm.requests) == requests_before  # the YES is handled without the LLM
        after = await _booked(app, ALICE)

    assert _bodies(twilio, ALICE)[-1] == f"Cancelled: Yoga, Tue Nov 24 6:00 PM (#{appointment['id']})."
    assert after[0]["status"] == "cancelled"


async def test_anything_but_yes_drops_the_pending_change(twilio, llm, twilio_settings, start_app) -> None:
    settings = twilio_settings()
    async with start_app(settings, clock=clock) as app:
        appointment = await _alice_books_yoga(app, llm)
        llm.reply_with(f'[ACTION:UPDATE appointment="{appointment["id"]}" start="{TOMORROW}T19:00"]')
        await _say(app, ALICE, "move it to 7")
        assert _bodies(twilio, ALICE)[-1].startswith("Reply YES to move Yoga (#1) from Tue Nov 24 6:00 PM to")
        llm.reply_with("No problem, it stays as it is.")
        await _say(app, ALICE, "actually never mind")
        await _say(app, ALICE, "yes")  # too late: the question was dropped
        after = await _booked(app, ALICE)

    assert after[0]["start"] == "2026-11-24T18:00-08:00"


@pytest.mark.parametrize("answer", ["No", "nope!", "never mind"])
async def test_no_to_a_cancel_keeps_the_appointment_and_says_which(
    answer, twilio, llm, twilio_settings, start_app
) -> None:
    settings = twilio_settings()
    async with start_app(settings, clock=clock) as app:
        appointment = await _alice_books_yoga(app, llm)
        llm.reply_with(f'[ACTION:CANCEL appointment="{appointment["id"]}"]')
        await _say(app, ALICE, "cancel my yoga")
        requests_before = len(llm.requests)
        await _say(app, ALICE, answer)
        assert len(llm.requests) == requests_before  # answered without the LLM
        kept = _bodies(twilio, ALICE)[-1]
        llm.reply_with("Anything else?")
        await _say(app, ALICE, "yes")  # the question is gone: nothing is cancelled now
        after = await _booked(app, ALICE)

    assert kept == f"OK, I won't cancel it: Yoga, Tue Nov 24 6:00 PM (#{appointment['id']}) stays as it is."
    assert after[0]["status"] == "booked"


async def test_moving_your_own_after_yes(twilio, llm, twilio_settings, start_app) -> None:
    settings = twilio_settings()
    async with start_app(settings, clock=clock) as app:
        appointment = await _alice_books_yoga(app, llm)
        llm.reply_with(f'[ACTION:UPDATE appointment="{appointment["id"]}" start="{TOMORROW}T19:00"]')
        await _say(app, ALICE, "move it to 7")
        await _say(app, ALICE, "YES")
        after = await _booked(app, ALICE)

    assert _bodies(twilio, ALICE)[-1] == f"Moved: Yoga, Tue Nov 24 7:00 PM (#{appointment['id']})."
    assert after[0]["start"] == "2026-11-24T19:00-08:00"


@pytest.mark.parametrize(("minutes_later", "moved"), [(1, True), (11, False)])
async def test_a_question_redis_lost_is_read_back_from_the_reply_until_it_expires(
    minutes_later, moved, twilio, llm, twilio_settings, start_app
) -> None:
    now = ManualClock(NOW)
    async with start_app(twilio_settings(confirmation_ttl_seconds=600), clock=now) as app:
        appointment = await _alice_books_yoga(app, llm)
        llm.reply_with(f'[ACTION:UPDATE appointment="{appointment["id"]}" start="{TOMORROW}T19:00"]')
        await _say(app, ALICE, "move it to 7")
        await app.runtime.clients.redis.flushdb()  # Redis restarted, or a one-shot `simulate` has a new one
        now.advance(minutes=minutes_later)
        llm.reply_with("Sorry, what would you like to do?")
        await _say(app, ALICE, "YES")
        after = await _booked(app, ALICE)

    assert after[0]["start"] == ("2026-11-24T19:00-08:00" if moved else "2026-11-24T18:00-08:00")
    if moved:
        assert _bodies(twilio, ALICE)[-1] == f"Moved: Yoga, Tue Nov 24 7:00 PM (#{appointment['id']})."


async def test_the_next_prompt_lists_upcoming_appointments(twilio, llm, twilio_settings, start_app) -> None:
    async with start_app(twilio_settings(), clock=clock) as app:
        llm.reply_with(f'[ACTION:SCHEDULE service="Yoga" start="{TOMORROW}T18:00"]')
        await _say(app, ALICE, "yoga tomorrow 6pm")
        llm.reply_with("See you then!")
        await _say(app, ALICE, "what do I have booked?")
    system = llm.requests[-1]["messages"][0]["content"]
    assert f"Yoga {TOMORROW}T18:00" in system and "- #" in system


async def test_the_offline_engine_books_too(make_settings, start_app) -> None:
    settings = make_settings()
    async with start_app(settings, clock=clock) as app:
        await app.client.post("/sandbox/messages", json={"from": ALICE, "body": "book spin tomorrow at 7am"})
        await app.settle()
        reply = (await app.runtime.messages.listing(phone=ALICE, limit=1))[0]
        after = await _booked(app, ALICE)
    assert reply.body.startswith("Booked: Spin, Tue Nov 24 7:00 AM (#1).")  # said once
    assert after[0]["service"] == "Spin"


async def test_the_offline_engine_finds_appointments_whatever_the_system_template_says(
    make_settings, start_app
) -> None:
    """A staff edit of system.j2 that drops the appointment list must not break the fallback."""
    settings = make_settings()
    async with start_app(settings, clock=clock) as app:
        await app.client.post("/sandbox/messages", json={"from": ALICE, "body": "book spin tomorrow at 7am"})
        await app.settle()
        versions = app.runtime.renderer.source.versions
        await versions.save(
            "system", "You are the assistant for {{ business.name }}. Be brief.", author="staff"
        )
        await app.client.post("/sandbox/messages", json={"from": ALICE, "body": "please cancel my spin"})
        await app.settle()
        reply = (await app.runtime.messages.listing(phone=ALICE, limit=1))[0]
    assert reply.body == "Reply YES to cancel Spin, Tue Nov 24 7:00 AM (#1)."


async def test_the_prompt_labels_each_time_with_its_own_zone(twilio, llm, twilio_settings, start_app) -> None:
    """The business's time under the business's zone, and the customer's own time beside their zone."""
    async with start_app(twilio_settings(), clock=clock) as app:
        await app.runtime.customers.upsert(
            [{"phone": ALICE, "name": "Alice", "timezone": "America/New_York"}]
        )
        llm.reply_with("Hi Alice!")
        await _say(app, ALICE, "hi")
    system = llm.requests[-1]["messages"][0]["content"]
    assert "Time zone: America/Los_Angeles. It is now Monday, November 23, 2026 10:00 AM PST." in system
    assert "time zone: America/New_York (their time now: Monday, November 23, 2026 01:00 PM EST)." in system
