"""MMS in: with LLM_VISION=on a customer's images reach the model as image parts; off, it is told of them."""

from __future__ import annotations

import httpx
import pytest

from assistant.settings import ConfigError, load_settings

PHOTO = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
IMAGE = {"NumMedia": "1", "MediaUrl0": PHOTO, "MediaContentType0": "image/jpeg"}


async def test_with_vision_on_the_image_reaches_the_model_as_an_image_part(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.reply_with("That looks like our Sutter St entrance.")
    async with start_app(twilio_settings(llm_vision=True)) as app:
        await app.text("is this the right door?", **IMAGE)
        await app.settle()

    content = llm.requests[0]["messages"][-1]["content"]
    assert content[0]["type"] == "text" and "is this the right door?" in content[0]["text"]
    assert content[1] == {"type": "image_url", "image_url": {"url": PHOTO}}
    assert twilio.messages[0]["body"].startswith("That looks like our Sutter St entrance.")


async def test_only_the_turns_own_images_go_and_earlier_turns_stay_text(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.reply_with("Got it.")
    async with start_app(twilio_settings(llm_vision=True)) as app:
        await app.text("here", **IMAGE)
        await app.settle()
        await app.text("and now?")
        await app.settle()

    later = llm.requests[1]["messages"]
    assert all(isinstance(message["content"], str) for message in later)
    assert "[The customer attached 1 file: image/jpeg]" in later[1]["content"]


async def test_a_file_a_model_cannot_read_is_only_mentioned(twilio, llm, twilio_settings, start_app) -> None:
    llm.reply_with("Thanks.")
    heic = {"NumMedia": "1", "MediaUrl0": PHOTO, "MediaContentType0": "image/heic"}
    async with start_app(twilio_settings(llm_vision=True)) as app:
        await app.text("photo", **heic)
        await app.settle()

    assert isinstance(llm.requests[0]["messages"][-1]["content"], str)


async def test_with_vision_off_the_model_is_told_an_image_came(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.reply_with("Thanks for the photo.")
    async with start_app(twilio_settings()) as app:
        await app.text("", **IMAGE)
        await app.settle()

    content = llm.requests[0]["messages"][-1]["content"]
    assert content == "[The customer attached 1 file: image/jpeg]"


async def test_when_the_model_fails_the_offline_engine_says_it_got_the_image_and_offers_a_person(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.fail_next(500, times=5)
    async with start_app(twilio_settings(llm_vision=True)) as app:
        await app.text("", **IMAGE)
        await app.settle()

    assert twilio.messages[0]["body"].startswith(
        "Thanks for the picture! I can't see images here. Reply AGENT"
    )


def test_llm_vision_reads_on_and_off() -> None:
    assert load_settings(llm_vision="on").llm_vision is True
    assert load_settings(llm_vision="off").llm_vision is False
    with pytest.raises(ConfigError, match="LLM_VISION"):
        load_settings(llm_vision="sometimes")


async def test_the_emulator_refuses_a_malformed_content_part(llm, openai_server) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 3}]}]}
    async with httpx.AsyncClient() as client:
        refused = await client.post(openai_server[1] + "/v1/chat/completions", json=body)
    assert refused.status_code == 400 and "messages[0].content[0]" in refused.text
