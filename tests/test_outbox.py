"""The way out: a text cut off mid-send goes once, a refused one is retried in order, lost ones flagged."""

from __future__ import annotations

import asyncio

from assistant.runtime import Runtime, open_runtime
from assistant.sms.port import OutgoingSms
from storage.messages import InboundText
from storage.tables import Message

PHONE = "+14155550188"
BUSINESS = "+15005550006"


async def _staged_reply(runtime: Runtime, body: str, sid: str) -> Message:
    """A turn's reply recorded (and so claimed by its turn), as a worker leaves it if it dies right after."""
    inbound, _ = await runtime.messages.record_inbound(
        InboundText(sid=sid, from_number=PHONE, to_number=BUSINESS, body="hi", media=[])
    )
    reply = Message(
        direction="outbound", phone=PHONE, from_number=BUSINESS, to_number=PHONE, body=body, status="pending"
    )
    await runtime.messages.close_turn([inbound.id], state="answered", reply=reply)
    return reply


async def _reply(runtime: Runtime, body: str) -> Message:
    """A reply staged pending, the way staff replies and notifications are."""
    message = await runtime.sender.prepare(phone=PHONE, text=body, kind="staff", sender="")
    return await runtime.messages.add_outbound(message)


async def test_a_reply_whose_worker_died_before_sending_goes_once_however_many_passes_race(
    make_settings, clock
) -> None:
    async with open_runtime(make_settings(), clock=clock) as runtime:
        reply = await _staged_reply(runtime, "Hello!", "SM" + "1" * 32)
        early = await runtime.sender.deliver_due()  # it may still be on its way: left alone for now
        clock.advance(minutes=2)
        passes = await asyncio.gather(*(runtime.sender.deliver_due() for _ in range(3)))
        later = await runtime.sender.deliver_due()
        sent = runtime.clients.gateway.sent_to(PHONE)
        stored = await runtime.messages.get(reply.id)
    assert early == 0 and sum(passes) == 1 and later == 0
    assert [text.body for text in sent] == ["Hello!"]
    assert stored.status == "delivered" and stored.sid == sent[0].sid


async def test_a_reply_the_gateway_took_before_the_crash_is_recorded_not_sent_again(
    make_settings, clock
) -> None:
    async with open_runtime(make_settings(), clock=clock) as runtime:
        reply = await _staged_reply(runtime, "See you at 6.", "SM" + "2" * 32)
        # The hand-over reached the gateway; the process died before writing the SID down.
        taken = await runtime.clients.gateway.send(OutgoingSms(to=PHONE, body=reply.body))
        clock.advance(minutes=2)
        await runtime.sender.deliver_due()
        sent = runtime.clients.gateway.sent_to(PHONE)
        stored = await runtime.messages.get(reply.id)
    assert len(sent) == 1
    assert stored.sid == taken.sid and stored.status == "delivered"


async def test_texts_twilio_refuses_for_now_are_retried_later_in_order(
    twilio_settings, twilio, clock
) -> None:
    async with open_runtime(twilio_settings(), clock=clock) as runtime:
        twilio.fail_next(503, times=3)  # the first text and both of the gateway's quick retries
        first = await runtime.sender.deliver(await _reply(runtime, "First."))
        second = await runtime.sender.deliver(await _reply(runtime, "Second."))
        refused = len(twilio.requests)
        assert (first.outcome, second.outcome) == ("queued", "queued")
        assert await runtime.sender.deliver_due() == 0  # not due yet
        clock.advance(seconds=10)
        sent = await runtime.sender.deliver_due()
    assert refused == 3 and sent == 2
    assert [message["body"].split()[0] for message in twilio.messages] == ["First.", "Second."]


async def test_a_stop_before_the_retry_means_the_retry_never_goes(twilio_settings, twilio, clock) -> None:
    async with open_runtime(twilio_settings(), clock=clock) as runtime:
        twilio.fail_next(429, times=3)
        queued = await runtime.sender.deliver(await _reply(runtime, "Your code is 123456."))
        await runtime.consent.record(PHONE, "opt_out", source="keyword", raw_text="STOP", matched="STOP")
        clock.advance(seconds=10)
        await runtime.sender.deliver_due()
        stored = (await runtime.messages.listing(phone=PHONE))[0]
    assert queued.outcome == "queued"
    assert twilio.messages == []
    assert stored.status == "suppressed"


async def test_a_send_that_timed_out_after_twilio_took_it_is_not_sent_twice(
    twilio_settings, twilio, clock
) -> None:
    async with open_runtime(twilio_settings(twilio_timeout_seconds=0.5), clock=clock) as runtime:
        twilio.clock = clock
        twilio.holds.close()  # Twilio creates the message, and the answer never comes back in time
        delivery = await runtime.sender.deliver(await _reply(runtime, "Booked: Yoga, Tue 6:00 PM."))
        twilio.holds.open()
        # Each pass checks with Twilio before sending again; on a loaded machine the check itself can miss
        # the short timeout, which only puts the check off to a later pass.
        for _ in range(5):
            clock.advance(seconds=600)
            await runtime.sender.deliver_due()
            stored = (await runtime.messages.listing(phone=PHONE))[0]
            if stored.sid is not None:
                break
    assert delivery.outcome == "queued"
    assert len(twilio.messages) == 1
    assert stored.sid == twilio.messages[0]["sid"] and stored.status == "queued"


async def test_a_text_that_cannot_go_within_the_retry_window_is_flagged_for_staff(
    twilio_settings, twilio, clock
) -> None:
    async with open_runtime(twilio_settings(send_retry_window_seconds=0), clock=clock) as runtime:
        await runtime.customers.ensure(PHONE)
        twilio.fail_next(503, times=3)
        delivery = await runtime.sender.deliver(await _reply(runtime, "We open at 6."))
        customer = await runtime.customers.by_phone(PHONE)
        stored = (await runtime.messages.listing(phone=PHONE))[0]
    assert delivery.outcome == "failed" and stored.status == "failed"
    assert customer.needs_staff and "could not be sent" in customer.needs_staff_reason
    assert "503" in customer.needs_staff_reason


async def test_a_text_after_one_a_dead_worker_left_half_sent_waits_and_goes_after_it(
    make_settings, clock
) -> None:
    async with open_runtime(make_settings(), clock=clock) as runtime:
        await _staged_reply(runtime, "First answer.", "SM" + "6" * 32)  # its worker died here
        second = await _staged_reply(runtime, "Second answer.", "SM" + "7" * 32)
        held = await runtime.sender.deliver(second, claimed=True)
        assert held.outcome == "queued" and runtime.clients.gateway.sent_to(PHONE) == []
        clock.advance(minutes=2)
        await runtime.sender.deliver_due()  # the first is checked with the gateway and sent...
        await runtime.sender.deliver_due()  # ...which lets the second go
        sent = [text.body for text in runtime.clients.gateway.sent_to(PHONE)]
        stored = await runtime.messages.get(second.id)
    assert sent == ["First answer.", "Second answer."] and stored.status == "delivered"


async def test_a_turn_that_stalls_after_its_reply_was_taken_over_does_not_send_it_again(
    make_settings, clock
) -> None:
    async with open_runtime(make_settings(), clock=clock) as runtime:
        reply = await _staged_reply(runtime, "See you Tuesday.", "SM" + "8" * 32)
        # Its worker stalls (a long GC pause, a starved machine) for longer than any hand-over takes...
        clock.advance(minutes=2)
        taken_over = await runtime.sender.deliver_due()  # ...so the outbox checks the gateway and sends it
        late = await runtime.sender.deliver(reply, claimed=True)  # then the stalled worker carries on
        sent = runtime.clients.gateway.sent_to(PHONE)
        stored = await runtime.messages.get(reply.id)
    assert taken_over == 1 and late.outcome == "taken"
    assert [text.body for text in sent] == ["See you Tuesday."]
    assert stored.sid == sent[0].sid
