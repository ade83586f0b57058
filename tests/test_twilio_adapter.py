"""The Twilio adapter driving the real `twilio` SDK against the local Twilio-compatible emulator."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from assistant.errors import InvalidRecipient, RecipientOptedOut, SmsError
from assistant.settings import Settings
from assistant.sms.port import OutgoingSms
from assistant.sms.twilio_adapter import TwilioGateway
from tests.emulators.server import free_port
from tests.emulators.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioEmulator

TO = "+14155550100"
FROM = "+15005550006"
SERVICE = "MG" + "ab" * 16
CALLBACK = "https://assistant.example/webhooks/twilio/status"


@pytest.fixture
def emulator(twilio: TwilioEmulator) -> TwilioEmulator:
    return twilio


@pytest.fixture
def base_url(twilio_server: tuple[TwilioEmulator, str]) -> str:
    return twilio_server[1]


def make_gateway(base_url: str, **overrides: object) -> TwilioGateway:
    options: dict[str, object] = {
        "from_number": FROM,
        "api_base_url": base_url,
        "status_callback_url": CALLBACK,
        "timeout": 2.0,
        "retry_delays": (0.05, 0.1),
    }
    options.update(overrides)
    account_sid = str(options.pop("account_sid", DEFAULT_ACCOUNT_SID))
    auth_token = str(options.pop("auth_token", DEFAULT_AUTH_TOKEN))
    return TwilioGateway(account_sid, auth_token, **options)  # type: ignore[arg-type]


@pytest.fixture
async def gateway(base_url: str) -> AsyncIterator[TwilioGateway]:
    gateway = make_gateway(base_url)
    yield gateway
    await gateway.aclose()


async def test_send_reaches_twilio_with_recipient_body_sender_and_callback(
    gateway: TwilioGateway, emulator: TwilioEmulator
) -> None:
    sent = await gateway.send(OutgoingSms(to=TO, body="Your yoga class is at 6pm."))

    assert sent.sid.startswith("SM") and len(sent.sid) == 34
    assert sent.status == "queued"
    assert sent.sender == FROM
    [form] = emulator.requests
    assert form == {"To": TO, "Body": "Your yoga class is at 6pm.", "From": FROM, "StatusCallback": CALLBACK}
    [message] = emulator.messages
    assert message["sid"] == sent.sid and message["to"] == TO and message["from"] == FROM


async def test_messaging_service_wins_over_phone_number(base_url: str, emulator: TwilioEmulator) -> None:
    gateway = make_gateway(base_url, messaging_service_sid=SERVICE, status_callback_url=None)
    try:
        sent = await gateway.send(OutgoingSms(to=TO, body="hi"))
    finally:
        await gateway.aclose()

    [form] = emulator.requests
    assert form == {"To": TO, "Body": "hi", "MessagingServiceSid": SERVICE}
    assert sent.sender == SERVICE


async def test_from_settings(base_url: str, emulator: TwilioEmulator) -> None:
    settings = Settings(
        twilio_account_sid=DEFAULT_ACCOUNT_SID,
        twilio_auth_token=DEFAULT_AUTH_TOKEN,
        twilio_phone_number=FROM,
        twilio_api_base_url=base_url,
        public_base_url="https://assistant.example/",
        twilio_timeout_seconds=2.0,
    )
    gateway = TwilioGateway.from_settings(settings)
    try:
        await gateway.send(OutgoingSms(to=TO, body="hello"))
    finally:
        await gateway.aclose()

    assert emulator.requests[0]["StatusCallback"] == CALLBACK
    assert emulator.requests[0]["From"] == FROM


@pytest.mark.parametrize("status, code", [(429, 20429), (503, 20503)])
async def test_rate_limit_or_unavailable_is_retried_and_sends_once(
    gateway: TwilioGateway, emulator: TwilioEmulator, status: int, code: int
) -> None:
    emulator.fail_next(status=status, code=code)

    sent = await gateway.send(OutgoingSms(to=TO, body="retry me"))

    assert len(emulator.requests) == 2
    assert [m["sid"] for m in emulator.messages] == [sent.sid]


async def test_gives_up_after_three_refusals(gateway: TwilioGateway, emulator: TwilioEmulator) -> None:
    emulator.fail_next(status=429, code=20429, times=5)

    with pytest.raises(SmsError) as caught:
        await gateway.send(OutgoingSms(to=TO, body="busy"))

    assert caught.value.code == 20429 and caught.value.retryable
    assert len(emulator.requests) == 3 and emulator.messages == []


async def test_server_error_is_not_retried(gateway: TwilioGateway, emulator: TwilioEmulator) -> None:
    emulator.fail_next(status=500)

    with pytest.raises(SmsError) as caught:
        await gateway.send(OutgoingSms(to=TO, body="maybe sent"))

    assert caught.value.code == 20500 and not caught.value.retryable
    assert len(emulator.requests) == 1


async def test_read_timeout_is_not_retried(base_url: str, emulator: TwilioEmulator) -> None:
    emulator.holds.close()  # the message is created, then the answer never comes while the test runs
    gateway = make_gateway(base_url, timeout=0.3)
    try:
        async with asyncio.timeout(30):  # generous: only an ignored timeout gets this far
            with pytest.raises(SmsError) as caught:
                await gateway.send(OutgoingSms(to=TO, body="slow"))
    finally:
        await gateway.aclose()
        emulator.holds.reset()

    # The emulator created the message before answering slowly: retrying would have sent it twice.
    assert not caught.value.retryable
    assert len(emulator.requests) == 1 and len(emulator.messages) == 1


async def test_opted_out_recipient(gateway: TwilioGateway, emulator: TwilioEmulator) -> None:
    emulator.reject(to=TO, code=21610)

    with pytest.raises(RecipientOptedOut) as caught:
        await gateway.send(OutgoingSms(to=TO, body="hello"))

    assert caught.value.code == 21610 and not caught.value.retryable
    assert len(emulator.requests) == 1


@pytest.mark.parametrize("code", [21211, 21408, 21612, 21614])
async def test_invalid_recipient(gateway: TwilioGateway, emulator: TwilioEmulator, code: int) -> None:
    emulator.reject(to=TO, code=code, message=f"The 'To' number {TO} is not a valid phone number.")

    with pytest.raises(InvalidRecipient) as caught:
        await gateway.send(OutgoingSms(to=TO, body="hello"))

    assert caught.value.code == code
    assert TO not in str(caught.value)


async def test_other_twilio_errors_keep_their_code(gateway: TwilioGateway, emulator: TwilioEmulator) -> None:
    emulator.fail_next(status=400, code=30007, message="Message filtered")

    with pytest.raises(SmsError) as caught:
        await gateway.send(OutgoingSms(to=TO, body="spammy"))

    assert type(caught.value) is SmsError and caught.value.code == 30007


async def test_bad_credentials(base_url: str, emulator: TwilioEmulator) -> None:
    gateway = make_gateway(base_url, auth_token="wrong-token")
    try:
        with pytest.raises(SmsError) as caught:
            await gateway.send(OutgoingSms(to=TO, body="hello"))
    finally:
        await gateway.aclose()

    assert caught.value.code == 20003 and not caught.value.retryable
    assert emulator.requests == []


async def test_an_unreachable_base_url_is_a_retryable_error(emulator: TwilioEmulator) -> None:
    gateway = make_gateway(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    try:
        async with asyncio.timeout(30):  # generous: the retries are bounded, so this is never reached
            with pytest.raises(SmsError) as caught:
                await gateway.send(OutgoingSms(to=TO, body="hello"))
    finally:
        await gateway.aclose()

    # Refused connections are retried, and then reported as safe to retry later: nothing was sent.
    assert caught.value.retryable


async def test_logs_mask_numbers_and_never_show_the_token(
    base_url: str, emulator: TwilioEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.reject(to=TO, code=21610)
    gateway = make_gateway(base_url)
    caplog.set_level(logging.DEBUG)
    try:
        await gateway.send(OutgoingSms(to="+14155550199", body="ok"))
        with pytest.raises(RecipientOptedOut):
            await gateway.send(OutgoingSms(to=TO, body="no"))
    finally:
        await gateway.aclose()

    assert "+1415***0100" in caplog.text
    assert TO not in caplog.text and "+14155550199" not in caplog.text
    assert DEFAULT_AUTH_TOKEN not in caplog.text


async def test_emulator_fetches_created_message(
    gateway: TwilioGateway, base_url: str, emulator: TwilioEmulator
) -> None:
    from twilio.http.async_http_client import AsyncTwilioHttpClient
    from twilio.rest import Client

    sent = await gateway.send(OutgoingSms(to=TO, body="fetch me"))
    http = AsyncTwilioHttpClient(timeout=2.0)
    env = {"TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID}  # keep TWILIO_EDGE/REGION from rewriting the host
    client = Client(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, http_client=http, environment=env)
    client.api.base_url = base_url
    try:
        fetched = await client.messages(sent.sid).fetch_async()
    finally:
        await http.close()

    assert fetched.sid == sent.sid and fetched.body == "fetch me" and fetched.num_segments == "1"


def test_gateway_needs_a_sender() -> None:
    with pytest.raises(ValueError, match="sender"):
        TwilioGateway(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)
