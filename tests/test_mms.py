"""MMS out: the business file's images go with FAQ answers and actions, priced as MMS, checked before."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.business import DEFAULT_BUSINESS_FILE, load_business
from assistant.errors import SmsError
from assistant.pricing import SmsPrices
from assistant.settings import ConfigError
from assistant.sms.media import MediaError, MediaInspector, urls_to_send
from assistant.sms.port import OutgoingSms
from assistant.sms.sandbox import SandboxOutbox
from assistant.sms.twilio_adapter import TwilioGateway
from tests.conftest import BUSINESS_NUMBER
from tests.emulators.server import free_port
from tests.emulators.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

CUSTOMER = "+14155550123"
UK_CUSTOMER = "+447700900123"
WHERE = "where are you located?"
WHERE_KEYWORDS = 'keywords = ["where are you", "located", "location", "address"'


def business_file(tmp_path: Path, faq_media: list[str] = (), extra: str = "", table: str = "") -> Path:
    """The example business, with these images on its "where are you located?" answer; `extra` keys
    go at the top, a `table` at the end."""
    text = DEFAULT_BUSINESS_FILE.read_text()
    assert WHERE_KEYWORDS in text
    listed = ", ".join(f'"{url}"' for url in faq_media)
    text = text.replace(WHERE_KEYWORDS, f"media = [{listed}]\n{WHERE_KEYWORDS}")
    path = tmp_path / "business.toml"
    path.write_text(f"{extra}\n{text}\n{table}\n")
    return path


def offline(twilio_settings, **values):
    """Production Twilio adapter on the emulator, the offline engine answering (it quotes FAQ answers)."""
    return twilio_settings(openai_api_key=None, openai_base_url=None, **values)


async def test_an_faq_answer_with_a_map_goes_as_an_mms_priced_as_one(
    twilio, twilio_settings, start_app, media, tmp_path
) -> None:
    host, base = media
    path = business_file(tmp_path, [base + "map.png"])
    async with start_app(offline(twilio_settings, business_config=path)) as app:
        assert ("HEAD", "map.png") in host.requests  # checked once, at start-up
        await app.text(WHERE)
        await app.settle()
        reply = next(m for m in await app.runtime.messages.listing() if m.direction == "outbound")

    (created,) = twilio.messages
    assert "500 Market St" in created["body"] and created["num_media"] == "1"
    assert created["sid"].startswith("MM")
    assert twilio.request_media == [[base + "map.png"]] and twilio.media[created["sid"]] == [base + "map.png"]
    assert reply.media == [{"url": base + "map.png", "content_type": "image/png", "size": 40_000}]
    assert reply.price == 0.02  # one MMS, not segments x the SMS price


async def test_other_answers_stay_plain_sms(twilio, twilio_settings, start_app, media, tmp_path) -> None:
    path = business_file(tmp_path, [media[1] + "map.png"])
    async with start_app(offline(twilio_settings, business_config=path)) as app:
        await app.text("is there parking?")
        await app.settle()

    assert twilio.messages[0]["num_media"] == "0" and twilio.request_media == [[]]


async def test_outside_the_us_and_canada_the_link_ends_the_text(
    twilio, twilio_settings, start_app, media, tmp_path
) -> None:
    url = media[1] + "map.png"
    async with start_app(offline(twilio_settings, business_config=business_file(tmp_path, [url]))) as app:
        await app.text(WHERE, phone=UK_CUSTOMER)
        await app.settle()
        reply = next(m for m in await app.runtime.messages.listing() if m.direction == "outbound")

    (created,) = twilio.messages
    assert created["num_media"] == "0" and url in created["body"] and twilio.request_media == [[]]
    assert "500 Market St" in created["body"]
    assert reply.media == [] and reply.price == pytest.approx(0.08 * reply.segments)


async def test_the_business_file_sets_the_mms_price(
    twilio, twilio_settings, start_app, media, tmp_path
) -> None:
    path = business_file(tmp_path, [media[1] + "map.png"], extra="mms_prices = { US = 0.025 }")
    async with start_app(offline(twilio_settings, business_config=path)) as app:
        await app.text(WHERE)
        await app.settle()
        reply = next(m for m in await app.runtime.messages.listing() if m.direction == "outbound")

    assert reply.media and reply.price == 0.025


def test_prices_an_mms_once_where_one_goes_and_as_sms_elsewhere() -> None:
    prices = SmsPrices(0.0083, mms_overrides={"CA": 0.03})
    assert prices.estimate(CUSTOMER, 3, mms=True) == 0.02
    assert prices.estimate("+16135550100", 1, mms=True) == 0.03
    assert prices.estimate(UK_CUSTOMER, 2, mms=True) == 0.16  # no MMS price there: its SMS segments


async def test_an_action_that_succeeds_sends_its_images(
    twilio, llm, twilio_settings, start_app, media, tmp_path
) -> None:
    url = media[1] + "entrance.jpg"
    llm.reply_with('[ACTION:INFO topic="address"]')
    path = business_file(tmp_path, table=f'[action_media]\nINFO = ["{url}"]')
    async with start_app(twilio_settings(business_config=path)) as app:
        await app.text("what's your address")
        await app.settle()

    assert twilio.request_media == [[url]] and "500 Market St" in twilio.messages[0]["body"]


@pytest.mark.parametrize(
    ("name", "wrong"),
    [
        ("menu.pdf", "application/pdf; an MMS can carry JPEG, PNG or GIF images"),
        ("poster.jpg", "come to 6.0 MB; Twilio takes at most 5 MB"),
        ("gone.png", "answered HTTP 404"),
    ],
)
async def test_business_file_media_that_cannot_go_stops_start_up(
    twilio_settings, start_app, media, tmp_path, name, wrong
) -> None:
    path = business_file(tmp_path, [media[1] + name])
    with pytest.raises(ConfigError, match="faq 'Where are you located\\?'") as refused:
        async with start_app(offline(twilio_settings, business_config=path)):
            pass
    assert wrong in str(refused.value)


def test_more_than_ten_media_or_a_plain_http_url_is_refused_when_the_file_is_read(tmp_path) -> None:
    eleven = [f"https://cdn.example.com/{n}.png" for n in range(11)]
    with pytest.raises(ConfigError, match=r"faq\.0\.media: 11 media given; an MMS carries at most 10"):
        load_business(business_file(tmp_path, eleven))
    with pytest.raises(ConfigError, match="is not an https:// URL"):
        load_business(business_file(tmp_path, ["http://cdn.example.com/map.png"]))


async def test_an_action_media_for_no_such_action_stops_start_up(
    twilio_settings, start_app, tmp_path
) -> None:
    path = business_file(tmp_path, table='[action_media]\nREFUND = ["https://cdn.example.com/a.png"]')
    with pytest.raises(ConfigError, match="action_media: no action named REFUND"):
        async with start_app(offline(twilio_settings, business_config=path)):
            pass


async def test_an_image_host_down_at_start_up_leaves_the_answer_as_plain_sms(
    twilio, twilio_settings, start_app, tmp_path
) -> None:
    down = f"http://127.0.0.1:{free_port()}/map.png"  # nothing listens there
    async with start_app(offline(twilio_settings, business_config=business_file(tmp_path, [down]))) as app:
        await app.text(WHERE)
        await app.settle()

    assert "500 Market St" in twilio.messages[0]["body"] and twilio.request_media == [[]]


async def test_the_inspector_measures_a_file_whose_server_refuses_head(media) -> None:
    inspector = MediaInspector(timeout=5.0)
    try:
        (found,) = await inspector.inspect([media[1] + "studio.gif"])
        with pytest.raises(MediaError, match=r"come to 6\.0 MB"):
            await inspector.inspect([media[1] + "half.jpg", media[1] + "half.jpg?copy"])
    finally:
        await inspector.aclose()
    assert (found.content_type, found.size) == ("image/gif", 300_000)
    assert ("GET", "studio.gif") in media[0].requests


async def test_the_twilio_adapter_sends_every_media_url(twilio, twilio_server) -> None:
    gateway = TwilioGateway(
        DEFAULT_ACCOUNT_SID,
        DEFAULT_AUTH_TOKEN,
        from_number=BUSINESS_NUMBER,
        api_base_url=twilio_server[1],
        retry_delays=(),
    )
    urls = ("https://cdn.example.com/a.png", "https://cdn.example.com/b.jpg")
    try:
        sent = await gateway.send(OutgoingSms(to=CUSTOMER, body="", media=urls))
        with pytest.raises(SmsError, match="HTTP 400") as refused:
            many = tuple(f"https://cdn.example.com/{n}.png" for n in range(11))
            await gateway.send(OutgoingSms(to=CUSTOMER, body="hi", media=many))
    finally:
        await gateway.aclose()
    assert sent.sid.startswith("MM") and twilio.media[sent.sid] == list(urls)
    assert twilio.messages[0]["num_media"] == "2" and refused.value.code == 21623


async def test_the_sandbox_keeps_what_an_mms_carried() -> None:
    outbox = SandboxOutbox()
    await outbox.send(OutgoingSms(to=CUSTOMER, body="Map attached", media=("https://cdn.example.com/m.png",)))
    assert outbox.sent_to(CUSTOMER)[0].media == ("https://cdn.example.com/m.png",)


def test_recorded_media_are_checked_again_right_before_sending() -> None:
    good = {"url": "https://cdn.example.com/m.png", "content_type": "image/png", "size": 1000}
    assert urls_to_send([good]) == ("https://cdn.example.com/m.png",)
    with pytest.raises(SmsError, match="media refused before sending") as refused:
        urls_to_send([{**good, "content_type": "video/mp4"}])
    assert not refused.value.retryable
