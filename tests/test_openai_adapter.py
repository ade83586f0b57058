"""The OpenAI adapter driving the real `openai` SDK against the local OpenAI-compatible emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from assistant.errors import LLMError
from assistant.llm.openai_adapter import OpenAIChat
from assistant.llm.port import ChatMessage
from assistant.settings import Settings
from tests.emulators.openai import DEFAULT_REPLY, OpenAIEmulator
from tests.emulators.server import free_port, serve_in_thread

API_KEY = "sk-emulator-test"
MESSAGES: list[ChatMessage] = [
    {"role": "system", "content": "You are the assistant for Acme Fitness."},
    {"role": "user", "content": "When are you open?"},
]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[OpenAIEmulator, str]]:
    emulator = OpenAIEmulator(api_key=API_KEY)
    with serve_in_thread(emulator.app) as base_url:
        yield emulator, base_url


@pytest.fixture
def emulator(served: tuple[OpenAIEmulator, str]) -> OpenAIEmulator:
    served[0].reset()
    # Server-directed retry delays keep the retry tests fast without changing the SDK's behaviour.
    served[0].retry_after_ms = 10
    return served[0]


@pytest.fixture
def base_url(served: tuple[OpenAIEmulator, str]) -> str:
    return served[1] + "/v1"


def make_chat(base_url: str, **overrides: object) -> OpenAIChat:
    options: dict[str, object] = {
        "api_key": API_KEY,
        "model": "gpt-test",
        "base_url": base_url,
        "temperature": 0.3,
        "max_tokens": 99,
        "timeout_seconds": 2.0,
        "max_retries": 0,
    }
    options.update(overrides)
    return OpenAIChat(**options)  # type: ignore[arg-type]


@pytest.fixture
async def chat(base_url: str) -> AsyncIterator[OpenAIChat]:
    adapter = make_chat(base_url)
    yield adapter
    await adapter.aclose()


async def test_returns_the_reply_text(emulator: OpenAIEmulator, chat: OpenAIChat) -> None:
    emulator.reply_with("We're open 6 AM to 9 PM on weekdays.")

    assert (await chat.complete(MESSAGES)).text == "We're open 6 AM to 9 PM on weekdays."


async def test_request_carries_model_and_messages(emulator: OpenAIEmulator, chat: OpenAIChat) -> None:
    await chat.complete(MESSAGES)

    [body] = emulator.requests
    assert body["model"] == "gpt-test"
    assert body["temperature"] == 0.3
    assert body["max_tokens"] == 99
    assert body["messages"] == MESSAGES


async def test_scripted_replies_come_in_order(emulator: OpenAIEmulator, chat: OpenAIChat) -> None:
    emulator.script(["first", "second"])

    assert [(await chat.complete(MESSAGES)).text for _ in range(3)] == ["first", "second", DEFAULT_REPLY]


async def test_responder_sees_the_request_body(emulator: OpenAIEmulator, chat: OpenAIChat) -> None:
    emulator.respond(lambda body: f"you said: {body['messages'][-1]['content']}")

    assert (await chat.complete(MESSAGES)).text == "you said: When are you open?"


async def test_wrong_key_is_an_llm_error(emulator: OpenAIEmulator, base_url: str) -> None:
    adapter = make_chat(base_url, api_key="sk-wrong")
    try:
        with pytest.raises(LLMError, match="401"):
            await adapter.complete(MESSAGES)
    finally:
        await adapter.aclose()
    assert emulator.requests == []


async def test_server_errors_without_retries_fail_after_one_attempt(
    emulator: OpenAIEmulator, chat: OpenAIChat
) -> None:
    emulator.fail_next(status=500, times=5)

    with pytest.raises(LLMError, match="HTTP 500"):
        await chat.complete(MESSAGES)
    assert len(emulator.requests) == 1


async def test_one_retry_recovers_from_a_single_500(emulator: OpenAIEmulator, base_url: str) -> None:
    emulator.fail_next(status=500, times=1)
    emulator.reply_with("recovered")
    adapter = make_chat(base_url, max_retries=1)
    try:
        assert (await adapter.complete(MESSAGES)).text == "recovered"
    finally:
        await adapter.aclose()
    assert len(emulator.requests) == 2


async def test_retries_are_bounded(emulator: OpenAIEmulator, base_url: str) -> None:
    emulator.fail_next(status=503, times=10)
    adapter = make_chat(base_url, max_retries=1)
    try:
        with pytest.raises(LLMError, match="HTTP 503"):
            await adapter.complete(MESSAGES)
    finally:
        await adapter.aclose()
    assert len(emulator.requests) == 2


async def test_rate_limit_is_an_llm_error(emulator: OpenAIEmulator, chat: OpenAIChat) -> None:
    emulator.fail_next(status=429)

    with pytest.raises(LLMError, match="rate limited"):
        await chat.complete(MESSAGES)


async def test_a_server_that_never_answers_times_out(emulator: OpenAIEmulator, base_url: str) -> None:
    emulator.holds.close()  # it takes the request and never answers while the test runs
    adapter = make_chat(base_url, timeout_seconds=0.2, max_retries=0)
    try:
        async with asyncio.timeout(30):  # generous: only an ignored timeout gets this far
            with pytest.raises(LLMError, match="timed out"):
                await adapter.complete(MESSAGES)
    finally:
        await adapter.aclose()


@pytest.mark.parametrize("content", [None, "", "   "])
async def test_empty_content_is_an_llm_error(
    emulator: OpenAIEmulator, chat: OpenAIChat, content: str | None
) -> None:
    emulator.reply_with(content)

    with pytest.raises(LLMError, match="empty"):
        await chat.complete(MESSAGES)


async def test_unreachable_server_is_an_llm_error() -> None:
    adapter = make_chat(f"http://127.0.0.1:{free_port()}/v1")
    try:
        with pytest.raises(LLMError, match="unreachable"):
            await adapter.complete(MESSAGES)
    finally:
        await adapter.aclose()


async def test_concurrent_requests_overlap(emulator: OpenAIEmulator, chat: OpenAIChat) -> None:
    emulator.holds.until_concurrent(4)  # nobody is answered until all four are in flight together

    replies = await asyncio.gather(*(chat.complete(MESSAGES) for _ in range(4)))

    assert [reply.text for reply in replies] == [DEFAULT_REPLY] * 4
    assert emulator.holds.max_in_flight == 4


async def test_from_settings_uses_the_configured_endpoint(emulator: OpenAIEmulator, base_url: str) -> None:
    settings = Settings(
        openai_api_key=API_KEY,
        openai_base_url=base_url,
        llm_model="gpt-from-settings",
        llm_temperature=0.1,
        llm_max_tokens=42,
        llm_timeout_seconds=2,
        llm_max_retries=0,
    )
    adapter = OpenAIChat.from_settings(settings)
    try:
        assert (await adapter.complete(MESSAGES)).text == DEFAULT_REPLY
    finally:
        await adapter.aclose()
    [body] = emulator.requests
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("gpt-from-settings", 0.1, 42)
    assert adapter.name == "openai:gpt-from-settings"


async def test_aclose_closes_the_client(base_url: str) -> None:
    adapter = make_chat(base_url)

    await adapter.aclose()

    assert adapter._client.is_closed()
