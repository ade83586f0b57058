"""The Twilio webhook edge: signatures, dedupe, status callbacks, fallback."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from assistant.http.signature import signature_of
from storage.tables import Message, MessageEvent
from tests.conftest import BUSINESS_NUMBER


async def _count(app, table) -> int:
    async with app.runtime.clients.engine.connect() as connection:
        return await connection.scalar(select(func.count()).select_from(table))


def _inbound(body: str = "hello") -> dict[str, str]:
    return {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "From": "+14155550123",
        "To": BUSINESS_NUMBER,
        "Body": body,
    }


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"Body": "Grüße 👋 & = + %20", "From": "+14155550123", "NumMedia": "0", "OptOutType": ""},
        {f"MediaUrl{n}": f"https://api.twilio.com/m/{n}" for n in range(11)},  # MediaUrl10 sorts before 2
        {"b": "1", "B": "2", "a_": "3", "a": "4"},
    ],
)
def test_our_signature_is_the_sdks(form: dict[str, str]) -> None:
    url = "https://example.com/webhooks/twilio/sms?x=1"
    assert signature_of("token", url, form) == RequestValidator("token").compute_signature(url, form)


async def test_forged_signature_is_refused_and_nothing_stored(twilio, twilio_settings, start_app) -> None:
    async with start_app(twilio_settings()) as app:
        params = _inbound()
        forged = await app.twilio_post("/webhooks/twilio/sms", params, signature="bm90IGEgc2lnbmF0dXJl")
        missing = await app.client.post("/webhooks/twilio/sms", data=params)
        tampered_sig = app.signature("/webhooks/twilio/sms", params)
        tampered = await app.twilio_post(
            "/webhooks/twilio/sms", {**params, "Body": "changed"}, signature=tampered_sig
        )
        assert (forged.status_code, missing.status_code, tampered.status_code) == (403, 403, 403)
        assert "signature" in forged.text.lower()
        assert await _count(app, Message.__table__) == 0
    assert twilio.messages == []


async def test_signature_covers_the_query_string(twilio, twilio_settings, start_app) -> None:
    async with start_app(twilio_settings()) as app:
        params = _inbound()
        path = "/webhooks/twilio/sms?tenant=acme"
        good = await app.twilio_post(path, params)
        bad = await app.twilio_post(path, params, signature=app.signature("/webhooks/twilio/sms", params))
        assert (good.status_code, bad.status_code) == (200, 403)


async def test_forwarded_headers_only_from_trusted_proxies(twilio, twilio_settings, start_app) -> None:
    # Without PUBLIC_BASE_URL the signed URL is rebuilt from the request; the ASGI test client's address is
    # 127.0.0.1, a trusted proxy by default, so its X-Forwarded-* headers are believed.
    params = _inbound()
    from twilio.request_validator import RequestValidator

    signature = RequestValidator("emulator-auth-token").compute_signature(
        "https://public.example.org/webhooks/twilio/sms", params
    )
    headers = {
        "X-Twilio-Signature": signature,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "public.example.org",
    }
    async with start_app(twilio_settings(public_base_url=None)) as app:
        trusted = await app.client.post("/webhooks/twilio/sms", data=params, headers=headers)
    async with start_app(twilio_settings(public_base_url=None, trusted_proxies="127.0.0.0/8")) as app:
        trusted_range = await app.client.post("/webhooks/twilio/sms", data=params, headers=headers)
    async with start_app(twilio_settings(public_base_url=None, trusted_proxies="10.9.9.9")) as app:
        untrusted = await app.client.post("/webhooks/twilio/sms", data=params, headers=headers)
    assert (trusted.status_code, trusted_range.status_code, untrusted.status_code) == (200, 200, 403)


async def test_without_twilio_credentials_webhooks_say_so(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        for path in ("/webhooks/twilio/sms", "/webhooks/twilio/status", "/webhooks/twilio/fallback"):
            response = await app.client.post(path, data=_inbound())
            assert response.status_code == 403
            assert "Twilio is not configured" in response.text


async def test_missing_fields_are_a_clear_400(twilio, twilio_settings, start_app) -> None:
    async with start_app(twilio_settings()) as app:
        no_from = {key: value for key, value in _inbound().items() if key != "From"}
        response = await app.twilio_post("/webhooks/twilio/sms", no_from)
        assert response.status_code == 400 and response.text == "From is required"
        bad_media = {**_inbound(), "NumMedia": "lots"}
        response = await app.twilio_post("/webhooks/twilio/sms", bad_media)
        assert response.status_code == 400 and "NumMedia" in response.text
        assert await _count(app, Message.__table__) == 0


async def test_redelivery_changes_nothing(twilio, llm, twilio_settings, start_app) -> None:
    llm.reply_with("Hi!")
    async with start_app(twilio_settings()) as app:
        params = _inbound()
        first = await app.twilio_post("/webhooks/twilio/sms", params)
        await app.settle()
        again = await app.twilio_post("/webhooks/twilio/sms", params)
        await app.settle()
        assert first.text == again.text and again.status_code == 200
        assert await _count(app, Message.__table__) == 2  # one inbound, one reply
    assert len(llm.requests) == 1 and len(twilio.messages) == 1


async def _status(app, sid: str, status: str, error_code: str | None = None):
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": app.settings.twilio_account_sid}
    if error_code:
        params["ErrorCode"] = error_code
    return await app.twilio_post("/webhooks/twilio/status", params)


async def test_status_only_moves_forward(twilio, llm, twilio_settings, start_app) -> None:
    llm.reply_with("Hi!")
    async with start_app(twilio_settings()) as app:
        await app.text("hello")
        await app.settle()
        sid = twilio.messages[0]["sid"]
        for status in ("delivered", "sent", "queued", "sending"):
            assert (await _status(app, sid, status)).status_code == 200
        reply = (await app.runtime.messages.listing(limit=1))[0]
        assert reply.sid == sid and reply.status == "delivered"
        events = await app.runtime.outbox.events_for(sid)
        assert [event.status for event in events] == ["delivered", "sent", "queued", "sending"]
        await _status(app, sid, "read")
        assert (await app.runtime.messages.get(reply.id)).status == "read"


async def test_failed_status_keeps_the_error_code(twilio, llm, twilio_settings, start_app) -> None:
    llm.reply_with("Hi!")
    async with start_app(twilio_settings()) as app:
        await app.text("hello")
        await app.settle()
        sid = twilio.messages[0]["sid"]
        await _status(app, sid, "undelivered", "30007")
        reply = (await app.runtime.messages.listing(limit=1))[0]
        assert (reply.status, reply.error_code) == ("undelivered", 30007)


async def test_status_for_an_unknown_sid_is_accepted_and_kept(twilio, twilio_settings, start_app) -> None:
    async with start_app(twilio_settings()) as app:
        response = await _status(app, "SM" + "0" * 32, "delivered")
        assert response.status_code == 200
        assert await _count(app, MessageEvent.__table__) == 1


async def test_the_fallback_records_the_text_and_the_assistant_answers_it(
    twilio, llm, twilio_settings, start_app
) -> None:
    """Twilio calls the fallback when the primary URL failed; if we can take the text now, we answer it."""
    llm.reply_with("We open at 6am.")
    async with start_app(twilio_settings()) as app:
        params = _inbound("when do you open?")
        response = await app.twilio_post("/webhooks/twilio/fallback", params)
        again = await app.twilio_post("/webhooks/twilio/sms", params)  # the primary's own try got through
        await app.settle()
        assert await _count(app, Message.__table__) == 2  # the text once, and its reply
    assert (response.status_code, again.status_code) == (200, 200) and "<Message>" not in response.text
    assert [message["body"] for message in twilio.messages] == ["We open at 6am. Reply STOP to opt out."]


async def test_values_too_long_to_keep_are_refused_naming_the_field(
    twilio, llm, twilio_settings, start_app
) -> None:
    async with start_app(twilio_settings()) as app:
        long_from = await app.text("hi", phone="+1" + "4" * 39)
        long_sid = await app.text("hi", sid="SM" + "a" * 88)
        long_status = await _status(app, "SM" + "b" * 32, "x" * 30)
        stored = await _count(app, Message.__table__)
    assert (long_from.status_code, long_from.text) == (400, "From must be at most 32 characters")
    assert (long_sid.status_code, long_sid.text) == (400, "MessageSid must be at most 64 characters")
    assert (long_status.status_code, long_status.text) == (400, "MessageStatus must be at most 24 characters")
    assert stored == 0


async def test_a_body_with_nul_and_a_partially_delivered_status_are_kept(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.reply_with("Hi!")
    async with start_app(twilio_settings()) as app:
        taken = await app.text("hel\x00lo\u202e there")
        await app.settle()
        inbound = (await app.runtime.messages.listing(limit=2))[-1]
        sid = twilio.messages[0]["sid"]
        status = await _status(app, sid, "partially_delivered")
        events = await app.runtime.outbox.events_for(sid)
    assert taken.status_code == 200 and inbound.body == "hello there"
    assert status.status_code == 200 and [event.status for event in events] == ["partially_delivered"]
