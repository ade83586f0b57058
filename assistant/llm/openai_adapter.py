"""The real LLM adapter: any OpenAI-compatible chat-completions endpoint through the official `openai` SDK."""

from __future__ import annotations

from typing import Any, cast

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

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
        # The SDK owns retries (with backoff and Retry-After); the timeout bounds each attempt.
        self._client = AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=max_retries
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
        try:
            completion = await self._client.chat.completions.create(
                model=self.model,
                messages=cast("list[ChatCompletionMessageParam]", list(messages)),
                temperature=self.temperature,
                max_tokens=self.max_tokens,
            )
        # Order matters: the timeout is a connection error, and rate limits are status errors.
        except openai.APITimeoutError as exc:
            raise LLMError("LLM timed out") from exc
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


def _content(completion: Any) -> str:
    """The first choice's text, or `LLMError` when the model gave none."""
    choices = getattr(completion, "choices", None) or []
    message = getattr(choices[0], "message", None) if choices else None
    content = getattr(message, "content", None)
    if not isinstance(content, str) or not printable(content).strip():
        raise LLMError("LLM returned an empty reply")
    return printable(content).strip()
