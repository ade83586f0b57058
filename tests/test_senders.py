"""Senders per destination country: a country's own number, or a one-way sender ID, for every kind of text."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from assistant.business import DEFAULT_BUSINESS_FILE, load_business
from assistant.errors import InvalidRecipient
from assistant.runtime import Runtime, open_runtime
from assistant.sender import PACED
from assistant.senders import CountrySender, Senders
from assistant.settings import ConfigError, Settings
from assistant.sms.port import OutgoingSms
from assistant.sms.twilio_adapter import TwilioGateway
from tests.conftest import BUSINESS_NUMBER
from tests.emulators.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioEmulator
from tests.support.clock import ManualClock
from tests.support.staff import add_staff, sign_in, token
from tests.test_reminders import START, ListStore, reminders

UK_NUMBER = "+447700100200"  # the business's own UK Twilio number
DE_ID = "AcmeFit"  # its alphanumeric sender ID for Germany
UK_CUSTOMER = "+447400123456"
DE_CUSTOMER = "+4915123456789"
US_CUSTOMER = "+14155550142"
SERVICE_SID = "MG" + "0" * 32
KEY = "chat-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
SENDERS = f'GB = "{UK_NUMBER}"\nDE = "{DE_ID}"\n'
ONE_WAY_LINE = f"Replies and STOP: text {BUSINESS_NUMBER}."


def business_file(tmp_path: Path, senders: str = SENDERS, extra: str = "") -> Path:
    """The example business with these senders (and any other tables)."""
    path = tmp_path / "business.toml"
    path.write_text(f"{DEFAULT_BUSINESS_FILE.read_text()}\n{extra}\n[senders]\n{senders}", encoding="utf-8")
    return path


@pytest.fixture
def intl_settings(twilio_settings: Callable[..., Settings], tmp_path: Path) -> Callable[..., Settings]:
    """Twilio settings (the emulators) for a business with a UK number and a German sender ID."""

    def build(**overrides: Any) -> Settings:
        path = business_file(tmp_path, extra="[sms_prices]\nGB = 0.05\n")
        values = {"business_config": path, "quiet_hours": "off", "chat_api_key": KEY, **overrides}
        return twilio_settings(**values)

    return build


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ('DE = "Acme-Fit!"', "DE sender 'Acme-Fit!' is neither a number in E.164"),
        ('DE = "AcmeFitness2"', "DE sender 'AcmeFitness2' is neither"),  # 12 characters
        ('DE = "2024"', "DE sender '2024' is neither"),  # digits only
        ('US = "AcmeFit"', "US sender 'AcmeFit' is an alphanumeric sender ID, and US numbers can't"),
        ('CA = "AcmeFit"', "CA numbers can't get texts from one: use a number"),
        ('GB = "+14155550100"', "GB sender '+14155550100' is a +1 number, not one of GB's (+44)"),
        ('GB = "+44 7700 100200"', "must be written in E.164: +447700100200"),
        ('GB = "+4470"', "GB sender '+4470' is not a valid phone number"),
        ('UK = "+447700100200"', "'UK' is not a region code"),
        ('GB = { sender = "+447700100200", rate = -1 }', "GB: rate: Input should be greater than or equal"),
    ],
)
def test_an_invalid_sender_fails_at_load_naming_it(tmp_path: Path, entry: str, said: str) -> None:
    path = business_file(tmp_path, entry)
    with pytest.raises(ConfigError) as raised:
        load_business(path)
    assert str(raised.value).startswith(f"business config {path}: senders: ")
    assert said in str(raised.value)


def test_a_sender_id_needs_a_number_for_its_replies(
    intl_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = intl_settings(twilio_phone_number=None, twilio_messaging_service_sid=SERVICE_SID)
    with pytest.raises(ConfigError, match=r"senders\.DE is an alphanumeric sender ID.*TWILIO_PHONE_NUMBER"):
        Senders.from_settings(settings, load_business(settings.business_config).senders)


def test_each_kind_of_text_gets_the_recipients_countrys_sender() -> None:
    senders = Senders(
        BUSINESS_NUMBER,
        {"GB": CountrySender(sender=UK_NUMBER), "DE": CountrySender(sender=DE_ID)},
        reply_number=BUSINESS_NUMBER,
    )
    for kind in ("reminder", "notification", "digest", "verification", "staff_alert", "reply", "staff"):
        assert senders.choose(UK_CUSTOMER, kind) == UK_NUMBER
        assert senders.choose(US_CUSTOMER, kind) == BUSINESS_NUMBER
    # A sender ID can't be texted back: only texts that expect no answer go from it.
    for kind in ("reminder", "notification", "digest", "verification", "staff_alert"):
        assert senders.choose(DE_CUSTOMER, kind) == DE_ID
    for kind in ("reply", "staff", "help", "opt_out"):
        assert senders.choose(DE_CUSTOMER, kind) == BUSINESS_NUMBER
    # An answer goes from the number they texted, whatever their country.
    assert senders.choose(US_CUSTOMER, "reply", texted=UK_NUMBER) == UK_NUMBER
    assert senders.choose(UK_CUSTOMER, "reply", texted=BUSINESS_NUMBER) == BUSINESS_NUMBER
    # phonenumbers places this +44 number in Guernsey: the GB sender serves it, as it has none of its own.
    assert senders.choose("+447911123456", "reminder") == UK_NUMBER
    # Only a country's own sender is named to the gateway; the default (or a pool number) goes its own way.
    assert (senders.explicit(UK_NUMBER), senders.explicit(DE_ID)) == (UK_NUMBER, DE_ID)
    assert (senders.explicit(BUSINESS_NUMBER), senders.explicit("+15005550001")) == (None, None)


async def test_a_uk_number_is_answered_from_the_uk_sender(
    twilio: TwilioEmulator, llm, intl_settings: Callable[..., Settings], start_app
) -> None:
    llm.reply_with("We open at 6am.")
    async with start_app(intl_settings()) as app:
        await app.text("when do you open?", phone=UK_CUSTOMER, To=UK_NUMBER)
        await app.text("when do you open?", phone=US_CUSTOMER, To=UK_NUMBER)
        await app.text("when do you open?", phone="+14155550143")  # the default number
        await app.settle()
        rows = {row.to_number: row for row in await app.runtime.messages.listing(limit=10)}
        # STOP works the same on the UK number, and its confirmation comes from it too.
        await app.text("STOP", phone=UK_CUSTOMER, To=UK_NUMBER)
        await app.settle()
        assert await app.runtime.consent.is_opted_out(UK_CUSTOMER)
    sent = [(r["To"], r.get("From"), r.get("MessagingServiceSid")) for r in twilio.requests]
    # Answered concurrently, in any order; the STOP confirmation last.
    assert sorted(sent[:3]) == [
        (US_CUSTOMER, UK_NUMBER, None),
        ("+14155550143", BUSINESS_NUMBER, None),
        (UK_CUSTOMER, UK_NUMBER, None),
    ]
    assert sent[3:] == [(UK_CUSTOMER, UK_NUMBER, None)]
    assert (rows[UK_CUSTOMER].from_number, rows[US_CUSTOMER].from_number) == (UK_NUMBER, UK_NUMBER)
    # Priced by the recipient's country: GB's price from the business file, one segment.
    assert rows[UK_CUSTOMER].segments == 1 and rows[UK_CUSTOMER].price == pytest.approx(0.05)
    assert rows[US_CUSTOMER].price == pytest.approx(0.0083)


async def test_a_staff_reply_goes_from_the_number_the_customer_texted(
    twilio: TwilioEmulator, llm, intl_settings: Callable[..., Settings], start_app
) -> None:
    llm.reply_with("Hello!")
    async with start_app(intl_settings()) as app:
        await app.text("can a person call me?", phone=UK_CUSTOMER, To=UK_NUMBER)
        await app.settle()
        await add_staff(app.runtime)
        await sign_in(app.client)
        thread = f"/admin/conversations/{quote(UK_CUSTOMER)}"
        sent = await app.client.post(
            f"{thread}/reply", data={"csrf_token": await token(app.client), "body": "Hi, this is Dana."}
        )
        assert "done=sent" in sent.headers["location"]
    assert [(m["body"], m["from"]) for m in twilio.messages][-1] == ("Hi, this is Dana.", UK_NUMBER)


async def test_the_uk_number_wins_over_a_messaging_service(
    twilio: TwilioEmulator, llm, twilio_settings: Callable[..., Settings], tmp_path: Path, start_app
) -> None:
    llm.reply_with("Hello!")
    settings = twilio_settings(
        business_config=business_file(tmp_path, f'GB = "{UK_NUMBER}"'),
        twilio_phone_number=None,
        twilio_messaging_service_sid=SERVICE_SID,
    )
    async with start_app(settings) as app:
        await app.text("hi", phone=UK_CUSTOMER, To=UK_NUMBER)
        await app.text("hi", phone=US_CUSTOMER, To="+15005550001")  # a number in the service's pool
        await app.settle()
    sent = {
        request["To"]: (request.get("From"), request.get("MessagingServiceSid"))
        for request in twilio.requests
    }
    assert sent == {UK_CUSTOMER: (UK_NUMBER, None), US_CUSTOMER: (None, SERVICE_SID)}


async def test_a_reminder_to_germany_goes_from_the_sender_id_naming_the_reply_number(
    twilio: TwilioEmulator, intl_settings: Callable[..., Settings]
) -> None:
    clock = ManualClock(START - timedelta(days=3))
    store = ListStore()
    store.add(START, booked_at=clock.now, phone=DE_CUSTOMER, id="1")
    store.add(START, booked_at=clock.now, phone=US_CUSTOMER, id="2")
    async with open_runtime(intl_settings(), clock=clock) as runtime:
        clock.set(START - timedelta(hours=23, minutes=59))
        assert await reminders(runtime, store, clock).send_due() == 2
        rows = {row.to_number: row for row in await runtime.messages.listing(limit=10)}
    sent = {request["To"]: request for request in twilio.requests}
    assert sent[DE_CUSTOMER]["From"] == DE_ID and "MessagingServiceSid" not in sent[DE_CUSTOMER]
    # One-way: the reminder's "text us here" can't be answered to AcmeFit, so it says where to text.
    assert sent[DE_CUSTOMER]["Body"].endswith(ONE_WAY_LINE) and "Reply STOP" not in sent[DE_CUSTOMER]["Body"]
    assert sent[US_CUSTOMER]["From"] == BUSINESS_NUMBER
    assert sent[US_CUSTOMER]["Body"].endswith("Reply STOP to opt out.")
    assert (rows[DE_CUSTOMER].from_number, rows[US_CUSTOMER].from_number) == (DE_ID, BUSINESS_NUMBER)


async def test_a_code_and_a_notification_to_germany_go_from_the_sender_id(
    twilio: TwilioEmulator, intl_settings: Callable[..., Settings], start_app
) -> None:
    async with start_app(intl_settings()) as app:
        saved = await app.client.put(
            "/api/users/hans", json={"name": "Hans", "phone": DE_CUSTOMER, "smsOptIn": True}, headers=AUTH
        )
        assert saved.json()["verification"] == "code_sent"
        code = re.search(r"\b(\d{6})\b", twilio.messages[-1]["body"])
        assert code is not None
        verified = await app.client.post("/api/users/hans/verify", json={"code": code[1]}, headers=AUTH)
        assert verified.json()["phoneVerified"] is True
        posted = await app.client.post(
            "/api/messages",
            json={"chatId": "c1", "senderId": "anna", "recipientId": "hans", "body": "Hallo!"},
            headers=AUTH,
        )
        assert posted.json()["notification"]["status"] == "sent"
    first, notification = twilio.messages
    assert (first["from"], notification["from"]) == (DE_ID, DE_ID)
    assert first["body"].endswith(ONE_WAY_LINE)  # a first text says how to opt out, and where
    assert notification["body"].startswith("New message from anna: Hallo!")
    assert ONE_WAY_LINE not in notification["body"]  # it asks for no reply


def _text(key: bytes | str) -> str:
    return key.decode() if isinstance(key, bytes) else key


async def _notify(runtime: Runtime, phone: str) -> str:
    message = await runtime.sender.prepare(phone=phone, text="News", kind="notification", texted_before=True)
    return (await runtime.sender.deliver(await runtime.messages.add_outbound(message))).reason or "sent"


async def test_the_uk_senders_pacing_is_independent_of_the_us_one(
    twilio: TwilioEmulator, intl_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    # 1 segment a second each, on a clock that stands still: one free slot per sender.
    async with open_runtime(intl_settings(send_rate_per_second=1), clock=clock) as runtime:
        first_us, first_uk = await _notify(runtime, US_CUSTOMER), await _notify(runtime, UK_CUSTOMER)
        second_us, second_uk = await _notify(runtime, "+14155550143"), await _notify(runtime, "+447400123457")
        third_us = await _notify(runtime, "+14155550144")
        # A sender ID has its own bucket too.
        de = await _notify(runtime, DE_CUSTOMER)
        keys = sorted(_text(key) for key in await runtime.clients.redis.keys("pace:*"))
    assert (first_us, first_uk, de) == ("sent", "sent", "sent")
    assert (second_us, second_uk, third_us) == (PACED, PACED, PACED)
    assert [request["From"] for request in twilio.requests] == [BUSINESS_NUMBER, UK_NUMBER, DE_ID]
    assert keys == [f"pace:{key}" for key in sorted((BUSINESS_NUMBER, UK_NUMBER, DE_ID))]


async def test_a_country_sender_at_rate_0_is_unpaced_not_paced_as_the_default(
    twilio: TwilioEmulator, twilio_settings: Callable[..., Settings], tmp_path: Path, clock: ManualClock
) -> None:
    path = business_file(tmp_path, f'GB = {{ sender = "{UK_NUMBER}", rate = 0 }}\n')
    settings = twilio_settings(business_config=path, quiet_hours="off", send_rate_per_second=1)
    async with open_runtime(settings, clock=clock) as runtime:
        uk = [await _notify(runtime, phone) for phone in (UK_CUSTOMER, "+447400123457", "+447400123458")]
        us = [await _notify(runtime, phone) for phone in (US_CUSTOMER, "+14155550143")]
    assert (uk, us) == (["sent"] * 3, ["sent", PACED])


async def test_a_country_senders_rate_comes_from_the_business_file(
    twilio_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    path = business_file(tmp_path, f'GB = {{ sender = "{UK_NUMBER}", rate = 10 }}\nDE = "{DE_ID}"\n')
    senders = Senders.from_settings(twilio_settings(send_rate_per_second=3), load_business(path).senders)
    assert (senders.default_rate, senders.own_rates()) == (3, {UK_NUMBER: 10, DE_ID: 1})
    # SEND_RATE_PER_SECOND=0 turns pacing off for every sender without a rate of its own.
    unpaced = Senders.from_settings(twilio_settings(send_rate_per_second=0), load_business(path).senders)
    assert (unpaced.default_rate, unpaced.own_rates()) == (0, {UK_NUMBER: 10, DE_ID: 0})


async def test_the_sandbox_records_each_texts_sender(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(business_config=business_file(tmp_path), quiet_hours="off")
    async with open_runtime(settings) as runtime:
        for phone in (DE_CUSTOMER, UK_CUSTOMER, US_CUSTOMER):
            await _notify(runtime, phone)
        outbox = runtime.clients.gateway
        senders = {text.to: text.sender for text in outbox.sent}  # type: ignore[attr-defined]
        stored = {row.to_number: row.from_number for row in await runtime.messages.listing(limit=10)}
    assert senders == {DE_CUSTOMER: DE_ID, UK_CUSTOMER: UK_NUMBER, US_CUSTOMER: "+15005550006"}
    assert stored == senders


async def test_the_adapter_sends_from_the_named_sender_and_twilio_refuses_an_id_to_the_us(
    twilio: TwilioEmulator, twilio_server: tuple[TwilioEmulator, str]
) -> None:
    gateway = TwilioGateway(
        DEFAULT_ACCOUNT_SID,
        DEFAULT_AUTH_TOKEN,
        messaging_service_sid=SERVICE_SID,
        api_base_url=twilio_server[1],
        retry_delays=(),
    )
    try:
        sent = await gateway.send(OutgoingSms(to=DE_CUSTOMER, body="Hallo", sender=DE_ID))
        default = await gateway.send(OutgoingSms(to=US_CUSTOMER, body="Hi"))
        with pytest.raises(InvalidRecipient) as refused:
            await gateway.send(OutgoingSms(to=US_CUSTOMER, body="Hi", sender=DE_ID))
    finally:
        await gateway.aclose()
    assert (sent.sender, default.sender, refused.value.code) == (DE_ID, SERVICE_SID, 21612)
    assert [(r.get("From"), r.get("MessagingServiceSid")) for r in twilio.requests[:2]] == [
        (DE_ID, None),
        (None, SERVICE_SID),
    ]
