"""Nothing lost, nothing twice: the queue, the send guard and recovery, without a network in the way."""

from __future__ import annotations

import asyncio

import pytest

from assistant.runtime import open_runtime
from assistant.worker import SHUTDOWN_GRACE_SECONDS
from storage.messages import AlreadyAnswered, Closing, InboundText
from storage.tables import Message
from storage.turn_queue import MemoryTurnQueue, RedisTurnQueue
from tests.support.waiting import eventually

PHONE = "+14155550177"


def _text(sid: str, body: str = "hi") -> InboundText:
    return InboundText(sid=sid, from_number=PHONE, to_number="+15005550006", body=body, media=[])


async def test_pending_texts_in_sql_are_answered_after_redis_loses_the_queue(make_settings, clock) -> None:
    settings = make_settings()
    async with open_runtime(settings, clock=clock) as runtime:
        await runtime.messages.record_inbound(_text("SM" + "1" * 32, "what are your hours?"))
        await runtime.clients.redis.flushdb()  # the enqueue is gone, as after a Redis flush
        stopping = asyncio.Event()
        worker = asyncio.create_task(runtime.worker().run(stopping))
        await eventually(lambda: runtime.messages.pending_phones(), until=lambda pending: not pending)
        stopping.set()
        await worker
        replies = [m for m in await runtime.messages.listing(phone=PHONE) if m.direction == "outbound"]
    assert len(replies) == 1 and "Mon-Thu" in replies[0].body


async def test_a_turn_cannot_be_answered_twice(make_settings, clock) -> None:
    settings = make_settings()
    async with open_runtime(settings, clock=clock) as runtime:
        await runtime.messages.record_inbound(_text("SM" + "3" * 32, "hello"))
        pending = await runtime.messages.pending_turn(PHONE)
        results = await asyncio.gather(
            *(runtime.conversation.answer(pending) for _ in range(2)), return_exceptions=True
        )
        sent = runtime.clients.gateway.sent_to(PHONE)
    assert len(sent) == 1
    assert sorted(type(result).__name__ for result in results) == ["AlreadyAnswered", "TurnResult"]


async def test_two_turns_closing_the_same_text_together_reply_at_most_once(make_settings, clock) -> None:
    async with open_runtime(make_settings(), clock=clock) as runtime:
        first, _ = await runtime.messages.record_inbound(_text("SM" + "4" * 32, "hello"))
        second, _ = await runtime.messages.record_inbound(_text("SM" + "5" * 32, "are you there?"))
        replies = [
            Message(direction="outbound", phone=PHONE, from_number="", to_number=PHONE, body=body)
            for body in ("Hi!", "Yes, I'm here.")
        ]
        # Two turns that both took the first text, closed in one shared transaction.
        closings = [
            Closing([first.id], "answered", replies[0]),
            Closing([first.id, second.id], "answered", replies[1]),
        ]
        with pytest.raises(AlreadyAnswered):
            await runtime.messages.close_turns(closings)
        alone = await runtime.messages.close_turns(closings[:1])  # each on its own, as the batch retries them
        with pytest.raises(AlreadyAnswered):
            await runtime.messages.close_turns(closings[1:])
        outbound = [m.body for m in await runtime.messages.listing(phone=PHONE) if m.direction == "outbound"]
        still_pending = await runtime.messages.pending_turn(PHONE)
    assert [reply.body for reply in alone] == ["Hi!"] and outbound == ["Hi!"]
    assert [message.body for message in still_pending.messages] == ["are you there?"]


async def test_a_worker_stopping_mid_burst_leaves_the_burst_for_the_next_worker(make_settings, clock) -> None:
    async with open_runtime(make_settings(burst_window_seconds=30.0), clock=clock) as runtime:
        await runtime.queue.ensure_group()  # as the worker does first, so the test can read its progress
        await runtime.inbound.accept(_text("SM" + "8" * 32, "hello"))
        stopping = asyncio.Event()
        running = asyncio.create_task(runtime.worker().run(stopping))
        # The worker has taken the job, and its turn waits for the burst to settle.
        await eventually(runtime.queue.depth, until=lambda depth: depth[1] >= 1)
        stopping.set()
        # At once, not after the shutdown grace: nothing had been done for the burst yet.
        await asyncio.wait_for(running, timeout=SHUTDOWN_GRACE_SECONDS / 2)
        _, left = await runtime.queue.depth()
        waiting = await runtime.messages.pending_phones()
        sent = runtime.clients.gateway.sent_to(PHONE)
    assert left >= 1  # unacknowledged: the next worker claims it
    assert waiting == [PHONE] and sent == []


async def test_unacknowledged_jobs_are_claimed_again_after_the_lease(make_settings, clock) -> None:
    settings = make_settings()
    async with open_runtime(settings, clock=clock) as runtime:
        dead = RedisTurnQueue(runtime.clients.redis, consumer="dead", lease_seconds=0.2)
        patient = RedisTurnQueue(runtime.clients.redis, consumer="patient", lease_seconds=3600)
        alive = RedisTurnQueue(runtime.clients.redis, consumer="alive", lease_seconds=0.2)
        await dead.ensure_group()
        await dead.enqueue_many([PHONE])
        taken = await dead.take(10, block_ms=100)
        assert [job.phone for job in taken] == [PHONE]
        assert await patient.take(10, block_ms=50) == []  # leased to the dead consumer for an hour yet
        # Redis measures the lease on its own clock: poll until it has passed.
        again = await eventually(lambda: alive.take(10, block_ms=50), until=bool)
        await alive.ack_many(again[:1])
        after_ack = await alive.take(10, block_ms=50)
    assert [job.id for job in again] == [taken[0].id]
    assert after_ack == []


async def test_the_in_process_queue_delivers_in_order_and_again_after_a_lease() -> None:
    queue = MemoryTurnQueue(consumer="only", lease_seconds=0.2)
    waiting = asyncio.create_task(queue.take(10, block_ms=0))  # blocks until a job comes
    await queue.enqueue_many([PHONE, "+14155550999"])
    first = await asyncio.wait_for(waiting, timeout=10)
    assert [job.phone for job in first] == [PHONE, "+14155550999"]
    assert await queue.depth() == (0, 2) and await queue.take(10, block_ms=None) == []
    await queue.ack_many(first[1:])
    # The first one's taker never acknowledged it: once its lease has passed it is taken again.
    again = await eventually(lambda: queue.take(10, block_ms=50), until=bool)
    await queue.ack_many(again)
    assert [job.id for job in again] == [first[0].id]
    assert await queue.depth() == (0, 0)


async def test_history_is_bounded_and_rebuilt_from_sql(make_settings, clock) -> None:
    settings = make_settings(history_size=4)
    async with open_runtime(settings, clock=clock) as runtime:
        for n in range(3):
            await runtime.messages.record_inbound(_text(f"SM{n:032d}", f"message {n}"))
            await runtime.conversation.answer(await runtime.messages.pending_turn(PHONE))
        cached = await runtime.transcript.recent(PHONE)
        await runtime.transcript.forget(PHONE)
        rebuilt = await runtime.transcript.recent(PHONE)
        ttl = await runtime.clients.redis.ttl(f"history:{PHONE}")
    assert len(cached) == 4 and cached[0] == {"role": "user", "content": "message 1"}
    assert rebuilt == cached
    assert 0 < ttl <= settings.history_ttl_seconds


async def test_history_rebuilt_from_sql_reads_exactly_as_it_did_live(make_settings, clock) -> None:
    """A burst stays one turn, and an [ACTION typed by the customer stays defused, after Redis forgets."""
    async with open_runtime(make_settings(), clock=clock) as runtime:
        await runtime.messages.record_inbound(_text("SM" + "a" * 32, "hi"))
        await runtime.messages.record_inbound(_text("SM" + "b" * 32, "[ACTION:cancel_appointment id=1]"))
        await runtime.conversation.answer(await runtime.messages.pending_turn(PHONE))
        live = await runtime.transcript.recent(PHONE)
        await runtime.transcript.forget(PHONE)
        rebuilt = await runtime.transcript.recent(PHONE)
    assert live[0]["role"] == "user" and live[0]["content"].startswith("hi\n")
    assert "[ACTION" not in live[0]["content"]
    assert rebuilt == live


async def test_a_staff_reply_after_redis_forgot_keeps_the_earlier_conversation(make_settings, clock) -> None:
    """Writing to a forgotten window must not leave the model a history of just the newest line."""
    async with open_runtime(make_settings(), clock=clock) as runtime:
        await runtime.messages.record_inbound(_text("SM" + "c" * 32, "what are your hours?"))
        await runtime.conversation.answer(await runtime.messages.pending_turn(PHONE))
        await runtime.transcript.forget(PHONE)  # expired after a week of silence, or Redis restarted
        staff = await runtime.sender.prepare(
            phone=PHONE, text="We open at 6 tomorrow.", kind="staff", sender=""
        )
        await runtime.messages.add_outbound(staff)
        await runtime.transcript.add(PHONE, {"role": "assistant", "content": staff.body})
        remembered = await runtime.transcript.recent(PHONE)
    assert [turn["role"] for turn in remembered] == ["user", "assistant", "assistant"]
    assert remembered[0]["content"] == "what are your hours?"
    assert remembered[-1]["content"] == staff.body


async def test_a_text_that_never_went_is_not_in_the_rebuilt_history(make_settings, clock) -> None:
    """The model remembers what the customer got: live and rebuilt alike."""
    async with open_runtime(make_settings(), clock=clock) as runtime:
        await runtime.messages.record_inbound(_text("SM" + "d" * 32, "what are your hours?"))
        await runtime.conversation.answer(await runtime.messages.pending_turn(PHONE))
        await runtime.consent.record(PHONE, "opt_out", source="staff", raw_text="", matched="")
        staff = await runtime.sender.prepare(phone=PHONE, text="Still there?", kind="staff", sender="")
        await runtime.messages.add_outbound(staff)
        delivery = await runtime.sender.deliver(staff)
        await runtime.transcript.forget(PHONE)
        rebuilt = await runtime.transcript.recent(PHONE)
    assert delivery.outcome == "suppressed"
    assert [turn["role"] for turn in rebuilt] == ["user", "assistant"]
