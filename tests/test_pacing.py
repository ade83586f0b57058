"""Pacing: send slots per sender shared through Redis, replies first, proactive texts take what is left."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from assistant.pacing import SendPacing
from assistant.runtime import RATE_HEADROOM, Runtime, open_runtime
from assistant.sender import PACED
from assistant.settings import ConfigError, load_settings
from storage.clock import system_clock
from storage.outbox import Outbox
from storage.pacing import Pacer
from storage.redis import connect_redis
from storage.tables import Message
from tests.conftest import TEST_NOW
from tests.support.clock import ManualClock
from tests.support.waiting import eventually

SENDER = "+15005550006"


async def _staged(runtime: Runtime, phone: str, text: str, kind: str) -> Message:
    """A text staged pending, the way notifications and staff replies are."""
    message = await runtime.sender.prepare(phone=phone, text=text, kind=kind, sender="", texted_before=True)
    return await runtime.messages.add_outbound(message)


async def test_reservations_at_2_per_second_land_half_a_second_apart(redis, clock: ManualClock) -> None:
    pacer = Pacer(redis, sender=SENDER, rate=2, clock=clock)
    slots = [await pacer.reserve(1) for _ in range(6)]
    assert [(slot - TEST_NOW).total_seconds() for slot in slots] == [0, 0.5, 1, 1.5, 2, 2.5]


async def test_a_three_segment_text_uses_three_tokens(redis, clock: ManualClock) -> None:
    pacer = Pacer(redis, sender=SENDER, rate=2, clock=clock)
    first, after = await pacer.reserve(3), await pacer.reserve(1)
    assert (first, after) == (TEST_NOW, TEST_NOW + timedelta(seconds=1.5))


async def test_a_proactive_text_takes_only_a_free_slot_and_reserves_nothing(
    redis, clock: ManualClock
) -> None:
    pacer = Pacer(redis, sender=SENDER, rate=2, clock=clock)
    assert await pacer.take(1) is None  # free now: taken
    assert await pacer.take(1) == TEST_NOW + timedelta(seconds=0.5)  # none free: when one frees
    # The refusal reserved nothing: a reply still gets the very next slot.
    assert await pacer.reserve(1) == TEST_NOW + timedelta(seconds=0.5)
    clock.advance(seconds=1)
    assert await pacer.take(1) is None


async def test_senders_are_paced_apart(redis, clock: ManualClock) -> None:
    one, other = (Pacer(redis, sender=name, rate=1, clock=clock) for name in (SENDER, "MG" + "0" * 32))
    assert [await one.reserve(1), await other.reserve(1)] == [TEST_NOW, TEST_NOW]


async def test_two_workers_on_one_redis_share_the_limit(redis_url: str, clock: ManualClock) -> None:
    # Two clients, as two processes have; memory:// is private to a process, so there they share one.
    first = connect_redis(redis_url)
    second = connect_redis(redis_url) if redis_url.startswith("redis") else first
    try:
        workers = [Pacer(client, sender=SENDER, rate=2, clock=clock) for client in (first, second)]
        slots = await asyncio.gather(*(workers[index % 2].reserve(1) for index in range(10)))
    finally:
        await first.aclose()
        if second is not first:
            await second.aclose()
    offsets = sorted((slot - TEST_NOW).total_seconds() for slot in slots)
    assert offsets == [index * 0.5 for index in range(10)]


def test_the_rate_comes_from_the_sender_type_unless_set() -> None:
    assert load_settings().send_rate == 1.0
    assert load_settings(sender_type="toll_free").send_rate == 3.0
    assert load_settings(sender_type="short_code").send_rate == 100.0
    assert load_settings(sender_type="short_code", send_rate_per_second=2.5).send_rate == 2.5
    with pytest.raises(ConfigError, match="SENDER_TYPE: must be one of long_code, toll_free, short_code"):
        load_settings(sender_type="landline")
    with pytest.raises(ConfigError, match="SEND_RATE_PER_SECOND"):
        load_settings(send_rate_per_second=-1)


async def test_proactive_texts_without_a_free_slot_wait_pending_and_all_go_once(
    twilio_settings, twilio, clock: ManualClock
) -> None:
    # No retry window at all: a text waiting for a slot is not a failed attempt, so it is never dropped.
    settings = twilio_settings(send_rate_per_second=10, send_retry_window_seconds=0)
    phones = [f"+1415555{index:04d}" for index in range(5)]
    async with open_runtime(settings, clock=clock) as runtime:
        staged = [
            await _staged(runtime, phone, f"News {index}", "notification")
            for index, phone in enumerate(phones)
        ]
        outcomes = [await runtime.sender.deliver(message) for message in staged]
        assert [delivery.outcome for delivery in outcomes] == ["sent"] + ["queued"] * 4
        assert {delivery.reason for delivery in outcomes[1:]} == {PACED}
        waiting = [await runtime.messages.get(message.id) for message in staged[1:]]
        assert {(m.status, m.attempts, m.next_attempt_at) for m in waiting} == {
            ("pending", 0, TEST_NOW + timedelta(seconds=0.1 / (1 - RATE_HEADROOM)))
        }
        assert await runtime.sender.deliver_due() == 0  # not due before a slot frees
        passes = 0
        while len(twilio.messages) < len(phones) and passes < 20:
            clock.advance(seconds=0.1)
            await runtime.sender.deliver_due()
            passes += 1
        stored = [await runtime.messages.get(message.id) for message in staged]
    bodies = [message["body"] for message in twilio.messages]
    assert sorted(bodies) == [f"News {index}" for index in range(5)]  # none lost, none twice
    assert {message.status for message in stored} == {"queued"}


async def test_a_reply_behind_50_notifications_goes_within_one_token_interval(
    twilio_settings, twilio
) -> None:
    rate = 20.0  # a 50 ms token interval: the backlog takes 2.5 s, the reply must not wait for it
    # The waits are real, so this runs on the real clock: quiet hours, which follow the hour, are off.
    settings = twilio_settings(send_rate_per_second=rate, quiet_hours="off")
    async with open_runtime(settings, clock=system_clock) as runtime:
        # Notified together, as the notifier does: each handed over at once; those without a free slot (all
        # but the first) wait pending.
        staged = [
            await _staged(runtime, f"+1415666{i:04d}", f"Notice {i}", "notification") for i in range(50)
        ]
        await asyncio.gather(*(runtime.sender.deliver(message) for message in staged))
        backlog = asyncio.create_task(runtime.sender.deliver_due())
        await eventually(lambda: _count(twilio), until=lambda sent: sent >= 5, what="the backlog to start")
        reply = await _staged(runtime, "+14155550123", "Yes, we open at 9.", "reply")
        asked = time.monotonic()
        delivery = await runtime.sender.deliver(reply)
        index = next(i for i, m in enumerate(twilio.messages) if m["body"].startswith("Yes, we open"))
        waited = twilio.created[index] - asked
        ahead = index
        await backlog
        while await runtime.sender.deliver_due():  # a pass waits at most so long; the rest go in the next
            pass
    assert delivery.sent
    # One token interval, plus the send path's own time (three SQL transactions and the HTTP request).
    assert waited <= 1 / rate + 0.5, f"the reply waited {waited:.3f} s"
    assert ahead < 40, f"{ahead} notifications went before the reply"
    assert len(twilio.messages) == 51 and len({m["body"] for m in twilio.messages}) == 51
    # Never faster than the rate: 51 texts at 20/s span at least 50 intervals.
    assert twilio.created[-1] - twilio.created[0] >= 50 / rate - 0.01


async def _count(twilio) -> int:
    return len(twilio.messages)


async def test_a_long_wait_for_a_slot_keeps_the_claim_fresh_so_the_outbox_never_takes_it_over(
    make_settings,
) -> None:
    async with open_runtime(make_settings(), clock=system_clock) as runtime:
        # An outbox that takes a claim quiet for 0.3 s for a crashed hand-over; the slot is 1 s away.
        outbox = Outbox(runtime.clients.engine, clock=system_clock, consent_scope="sms", stale_seconds=0.3)
        pacer = Pacer(runtime.clients.redis, sender=SENDER, rate=1, clock=system_clock)
        pacing = SendPacing(pacer, outbox, clock=system_clock)
        reply = await _staged(runtime, "+14155550123", "On its way.", "reply")
        assert await outbox.claim(reply)
        await pacer.reserve(1)  # the slot before it is taken
        waiting = asyncio.create_task(pacing.turn(reply))
        seen: list[int] = []

        async def watched() -> bool:
            seen.extend(message.id for message in await outbox.due())
            return waiting.done()

        await eventually(watched, until=bool, timeout=10, what="the reply's slot")
        turn = await waiting
    assert turn.go and turn.at is not None
    assert reply.id not in seen
