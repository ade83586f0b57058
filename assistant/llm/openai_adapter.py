"""The real LLM adapter: any OpenAI-compatible chat-completions endpoint through the official `openai` SDK."""

from __future__ import annotations

from typing import Any

import aiohttp
import openai
from openai import AsyncOpenAI, DefaultAioHttpClient
from openai.types.chat import ChatCompletion

from assistant.errors import LLMError
from assistant.llm.facts import TurnFacts
from assistant.llm.port import ChatMessage
from assistant.settings import ConfigError, Settings
from assistant.shaping import printable


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
    ) -> None:
        self.name = f"openai:{model}"
        self.model = model
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
        )

    async def complete(self, messages: list[ChatMessage], facts: TurnFacts | None = None) -> str:
        """Ask the model for the next assistant message (the facts are in its system prompt already)."""
        body = {
            "model": self.model,
            "messages": list(messages),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
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
        except openai.APIStatusError as exc:
            raise LLMError(f"LLM returned HTTP {exc.status_code}") from exc
        except openai.OpenAIError as exc:
            raise LLMError(f"LLM error: {type(exc).__name__}") from exc
        except Exception as exc:  # a 200 with a body the SDK can't read (truncated JSON, a wrong shape)
            raise LLMError(f"LLM gave an unreadable answer: {type(exc).__name__}") from exc
        return _content(completion)

    async def aclose(self) -> None:
        """Close the SDK's HTTP connection pool."""
        await self._client.close()


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
