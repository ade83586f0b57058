"""Forged webhooks are rate-limited per client address; Twilio's signed ones never are."""

from __future__ import annotations

import asyncio
import logging
import uuid

import httpx
from sqlalchemy import func, select

from assistant.http.forgery_limiter import ForgeryLimiter
from assistant.http.webhooks import MAX_BODY_BYTES
from storage.redis import connect_redis
from storage.tables import Message
from tests.conftest import BUSINESS_NUMBER, TEST_NOW
from tests.support.clock import ManualClock

FORGED = "bm90IGEgc2lnbmF0dXJl"  # base64, the length of a real one, signed by nobody
ATTACKER = "203.0.113.7"
CUSTOMER = "+14155550123"
PATHS = ("/webhooks/twilio/sms", "/webhooks/twilio/status", "/webhooks/twilio/fallback")


def _inbound(body: str = "hello") -> dict[str, str]:
    return {"MessageSid": "SM" + uuid.uuid4().hex, "From": CUSTOMER, "To": BUSINESS_NUMBER, "Body": body}


async def _forged(app, client: str = ATTACKER, path: str = "/webhooks/twilio/sms") -> httpx.Response:
    # The test client's own address is a trusted proxy, so X-Forwarded-For names the caller.
    headers = {"X-Twilio-Signature": FORGED, "X-Forwarded-For": client}
    return await app.client.post(path, data=_inbound(), headers=headers)


async def _signed(app, params: dict[str, str], client: str = ATTACKER) -> httpx.Response:
    headers = {"X-Twilio-Signature": app.signature("/webhooks/twilio/sms", params), "X-Forwarded-For": client}
    return await app.client.post("/webhooks/twilio/sms", data=params, headers=headers)


async def _inbound_count(app) -> int:
    async with app.runtime.clients.engine.connect() as connection:
        query = select(func.count()).select_from(Message).where(Message.direction == "inbound")
        return await connection.scalar(query)


async def test_a_thousand_forged_requests_in_5_s_get_429s_while_a_signed_text_among_them_is_answered(
    twilio, llm, twilio_settings, start_app, clock: ManualClock
) -> None:
    async with start_app(twilio_settings()) as app:
        limit = app.settings.webhook_forged_limit
        statuses: list[int] = []
        waits: set[int] = set()
        signed = None
        # 1,000 forged requests in ten bursts of 100, half a second apart by the test clock: 5 s in all. The
        # signed text arrives in the middle of the sixth burst, from the same address.
        for burst in range(10):
            sends = [_forged(app) for _ in range(100)]
            if burst == 5:
                params = _inbound("what are your hours?")
                sends.insert(50, _signed(app, params))
            answers = await asyncio.gather(*sends)
            if burst == 5:
                signed = answers.pop(50)
            statuses += [answer.status_code for answer in answers]
            waits |= {int(answer.headers["retry-after"]) for answer in answers if answer.status_code == 429}
            refused = [answer for answer in answers if answer.status_code == 429]
            assert all("X-Twilio-Signature" in answer.text for answer in refused)
            clock.advance(seconds=0.5)
        assert signed is not None and signed.status_code == 200
        assert (statuses.count(403), statuses.count(429), len(statuses)) == (limit, 1000 - limit, 1000)
        window = app.settings.webhook_forged_window_seconds
        assert waits and all(window - 5 <= wait <= window for wait in waits)  # until the window ends
        await app.settle()
        assert await _inbound_count(app) == 1  # not one forged request reached the database
        texts = await app.runtime.messages.listing(phone=CUSTOMER)
        assert [text.body for text in texts if text.direction == "inbound"] == ["what are your hours?"]
    assert [message["to"] for message in twilio.messages] == [CUSTOMER]


async def test_once_the_window_passes_forged_requests_get_403_again_and_are_counted_anew(
    twilio, twilio_settings, start_app, clock: ManualClock
) -> None:
    settings = twilio_settings(webhook_forged_limit=3, webhook_forged_window_seconds=60)
    async with start_app(settings) as app:
        assert [(await _forged(app)).status_code for _ in range(4)] == [403, 403, 403, 429]
        clock.advance(seconds=20)
        refused = await _forged(app)
        assert refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        assert wait == 40
        clock.advance(seconds=wait)
        assert [(await _forged(app)).status_code for _ in range(4)] == [403, 403, 403, 429]


async def test_another_address_is_not_affected(twilio, twilio_settings, start_app) -> None:
    async with start_app(twilio_settings(webhook_forged_limit=2)) as app:
        assert [(await _forged(app)).status_code for _ in range(3)] == [403, 403, 429]
        assert [(await _forged(app, client="198.51.100.4")).status_code for _ in range(3)] == [403, 403, 429]
        assert (await _forged(app)).status_code == 429


async def test_every_webhook_route_counts_towards_one_limit(twilio, twilio_settings, start_app) -> None:
    async with start_app(twilio_settings(webhook_forged_limit=1)) as app:
        answers = [await _forged(app, path=path) for path in PATHS]
        assert [answer.status_code for answer in answers] == [403, 429, 429]
        assert all(answer.headers["retry-after"].isdigit() for answer in answers[1:])


async def test_a_signed_status_callback_from_a_limited_address_goes_through(
    twilio, twilio_settings, start_app
) -> None:
    async with start_app(twilio_settings(webhook_forged_limit=1)) as app:
        await _forged(app)
        assert (await _forged(app)).status_code == 429
        params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
        path = "/webhooks/twilio/status"
        headers = {"X-Twilio-Signature": app.signature(path, params), "X-Forwarded-For": ATTACKER}
        answer = await app.client.post(path, data=params, headers=headers)
        assert answer.status_code == 200


async def test_the_body_is_bounded_and_a_long_text_still_fits(twilio, twilio_settings, start_app) -> None:
    async with start_app(twilio_settings(webhook_forged_limit=1)) as app:
        huge = _inbound("x" * MAX_BODY_BYTES)
        too_large = await _signed(app, huge)
        assert too_large.status_code == 413 and f"{MAX_BODY_BYTES} bytes" in too_large.text
        assert (await _signed(app, huge)).status_code == 429  # not Twilio's either: it counts
        # Twilio's longest text, every character percent-encoded to 9 bytes, is far inside the bound.
        longest = _inbound("\u20ac" * 1600)
        assert (await _signed(app, longest, client="198.51.100.4")).status_code == 200
        assert await _inbound_count(app) == 1


async def test_without_redis_the_limit_fails_open_and_says_so_once(caplog) -> None:
    # Nothing listens on port 1: every count fails at once, as with a Redis that is down.
    redis = connect_redis("redis://127.0.0.1:1/0")
    limiter = ForgeryLimiter(redis, clock=ManualClock(TEST_NOW), limit=1, window_seconds=60)
    with caplog.at_level(logging.WARNING, logger="assistant.http.forgery_limiter"):
        waits = [await limiter.refuse(ATTACKER) for _ in range(5)]
    await redis.aclose()
    assert waits == [0] * 5  # refused with 403 by the signature check, never 429
    assert [record.getMessage() for record in caplog.records] == [
        "forged webhooks go unlimited while Redis is away (ConnectionError)"
    ]


async def test_the_limit_is_shared_through_redis(redis) -> None:
    clock = ManualClock(TEST_NOW)
    # Two limiters on one Redis stand for two web processes.
    first, second = (ForgeryLimiter(redis, clock=clock, limit=2, window_seconds=60) for _ in range(2))
    assert [await first.refuse(ATTACKER), await second.refuse(ATTACKER)] == [0, 0]
    assert await first.refuse(ATTACKER) == await second.refuse(ATTACKER) == 60
