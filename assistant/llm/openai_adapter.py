"""The real LLM adapter: any OpenAI-compatible chat-completions endpoint through the official `openai` SDK."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import openai
from openai import AsyncOpenAI, DefaultAioHttpClient
from openai.types.chat import ChatCompletion

from assistant.errors import LLMError
from assistant.llm.facts import TurnFacts
from assistant.llm.port import ChatMessage, Completion, Toolbox, ToolCall
from assistant.settings import ConfigError, Settings, ToolMode
from assistant.shaping import printable

logger = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 3  # rounds of tool calls before the model must answer in words


class OpenAIChat:
    """A `ChatModel` backed by `AsyncOpenAI`; every SDK failure surfaces as `LLMError`."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        temperature: float = 0.7,
        max_tokens: int = 150,
        timeout_seconds: float = 20.0,
        max_retries: int = 1,
        tools: ToolMode = "auto",
        prices: tuple[float, float] = (0.0, 0.0),  # USD per million tokens read, written
        vision: bool = False,
    ) -> None:
        self.name = f"openai:{model}"
        # On: the turn's images go to the model as image parts; off, it reads only that they came.
        self.vision = vision
        self.model = model
        self.tools = tools
        self._prices = prices
        # auto: offered until the endpoint says it doesn't take them.
        self._offer_tools = tools != "off"
        self.temperature = temperature
        self.max_tokens = max_tokens
        # The SDK owns retries (with backoff and Retry-After); the timeout bounds each attempt. Its aiohttp
        # transport, because a worker keeps hundreds of calls in flight: httpx's pool checks every open
        # connection on each request, which was an eighth of a turn's CPU.
        self._client = AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_seconds,
            max_retries=max_retries,
            http_client=DefaultAioHttpClient(),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIChat:
        """Build the adapter from the service settings (requires OPENAI_API_KEY)."""
        if not settings.openai_api_key:
            raise ConfigError("the LLM adapter needs OPENAI_API_KEY")
        return cls(
            api_key=settings.openai_api_key,
            model=settings.llm_model,
            base_url=settings.openai_base_url,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
            timeout_seconds=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,
            tools=settings.llm_tools,
            prices=(settings.llm_input_price, settings.llm_output_price),
            vision=settings.llm_vision,
        )

    async def complete(
        self, messages: list[ChatMessage], facts: TurnFacts | None = None, tools: Toolbox | None = None
    ) -> Completion:
        """Ask the model for the next assistant message (the facts are in its system prompt already).

        With `tools` (and tool calls on), the model may call them first, for a few rounds; each call's
        result goes back to it, and its last message is the reply. The usage is every round's together.
        """
        chat: list[dict[str, Any]] = list(messages)
        if self.vision and facts is not None and facts.images:
            chat = _with_images(chat, facts.images)
        asked: list[ChatCompletion] = []
        if tools is None or not self._offer_tools:
            return self._completion(await self._post(chat), asked)
        definitions = tools.definitions()
        for _ in range(MAX_TOOL_ROUNDS):
            try:
                completion = await self._post(chat, definitions)
            except LLMError as exc:
                if self.tools != "auto" or not _tools_refused(exc):
                    raise
                # The endpoint doesn't take tools: text tags from now on, for this model.
                logger.warning("%s does not take tools (%s); using text action tags", self.name, exc)
                self._offer_tools = False
                return self._completion(await self._post(chat), asked)
            calls = _tool_calls(completion)
            if not calls:
                return self._completion(completion, asked)
            asked.append(completion)
            chat.append(_assistant_calling(completion, calls))
            for call in calls:
                chat.append({"role": "tool", "tool_call_id": call.id, "content": await tools.run(call)})
        # Rounds used up: the reply from what the calls returned, with no more calls allowed.
        return self._completion(await self._post(chat, definitions, tool_choice="none"), asked)

    def _completion(self, last: ChatCompletion, earlier: list[ChatCompletion]) -> Completion:
        """The reply in `last`, with the tokens all rounds used (from their `usage`) and what they cost."""
        text = _content(last)
        read = written = 0
        for completion in (*earlier, last):
            usage = getattr(completion, "usage", None)
            read += getattr(usage, "prompt_tokens", 0) or 0
            written += getattr(usage, "completion_tokens", 0) or 0
        cost = (read * self._prices[0] + written * self._prices[1]) / 1_000_000
        return Completion(text, prompt_tokens=read, completion_tokens=written, cost=cost)

    async def _post(
        self, chat: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None, tool_choice: str = "auto"
    ) -> ChatCompletion:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": chat,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if tools:
            body["tools"], body["tool_choice"] = tools, tool_choice
        try:
            # The SDK's own client (auth, retries, timeouts, errors, the typed ChatCompletion back), posting
            # the body as it is: `chat.completions.create` first walks every message through each of its
            # TypedDict variants, 0.2 ms of CPU per message for plain strings it leaves unchanged, which
            # was a third of a returning customer's turn.
            completion = await self._client.post("/chat/completions", cast_to=ChatCompletion, body=body)
        # Order matters: the timeout is a connection error, and rate limits are status errors.
        except openai.APITimeoutError as exc:
            raise LLMError("LLM unreachable" if _refused(exc) else "LLM timed out") from exc
        except openai.APIConnectionError as exc:
            raise LLMError("LLM unreachable") from exc
        except openai.RateLimitError as exc:
            raise LLMError("LLM rate limited (429)") from exc
        except openai.BadRequestError as exc:
            raise LLMError(f"LLM returned HTTP 400: {_error_message(exc)}") from exc
        except openai.APIStatusError as exc:
            raise LLMError(f"LLM returned HTTP {exc.status_code}") from exc
        except openai.OpenAIError as exc:
            raise LLMError(f"LLM error: {type(exc).__name__}") from exc
        except Exception as exc:  # a 200 with a body the SDK can't read (truncated JSON, a wrong shape)
            raise LLMError(f"LLM gave an unreadable answer: {type(exc).__name__}") from exc
        return completion

    async def aclose(self) -> None:
        """Close the SDK's HTTP connection pool."""
        await self._client.close()


def _with_images(chat: list[dict[str, Any]], images: tuple[str, ...]) -> list[dict[str, Any]]:
    """The chat with its last user message as content parts: the words, then each image."""
    # The URL as Twilio gave it: OpenAI fetches it (an account that requires HTTP auth for media URLs
    # keeps it from doing so; the request then fails and the offline engine answers instead).
    for index in range(len(chat) - 1, -1, -1):
        if chat[index]["role"] == "user":
            parts = [{"type": "text", "text": chat[index]["content"]}]
            parts += [{"type": "image_url", "image_url": {"url": url}} for url in images]
            return [*chat[:index], {**chat[index], "content": parts}, *chat[index + 1 :]]
    return chat


def _tool_calls(completion: ChatCompletion) -> list[ToolCall]:
    choices = getattr(completion, "choices", None) or []
    message = getattr(choices[0], "message", None) if choices else None
    return [
        ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments or "")
        for call in getattr(message, "tool_calls", None) or []
        if getattr(call, "function", None) is not None
    ]


def _assistant_calling(completion: ChatCompletion, calls: list[ToolCall]) -> dict[str, Any]:
    """The model's tool-calling message, as the next request must repeat it."""
    return {
        "role": "assistant",
        "content": completion.choices[0].message.content,
        "tool_calls": [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in calls
        ],
    }


def _tools_refused(error: LLMError) -> bool:
    """A 400 that says the endpoint or model doesn't take tools (servers word it many ways)."""
    text = str(error).lower()
    return "http 400" in text and "tool" in text


def _error_message(error: openai.APIStatusError) -> str:
    """The server's own words for a refused request, cut short (they never quote our secrets)."""
    body = error.body if isinstance(error.body, dict) else {}
    return str(body.get("message") or error.message)[:200]


def _refused(error: BaseException) -> bool:
    """Whether a "timeout" was in fact a connection refused or a name not found: the aiohttp transport
    reports those as connect timeouts."""
    cause = error.__cause__
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectorError):
            return True
        cause = cause.__cause__
    return False


def _content(completion: Any) -> str:
    """The first choice's text, or `LLMError` when the model gave none."""
    choices = getattr(completion, "choices", None) or []
    message = getattr(choices[0], "message", None) if choices else None
    content = getattr(message, "content", None)
    if not isinstance(content, str) or not printable(content).strip():
        raise LLMError("LLM returned an empty reply")
    return printable(content).strip()
