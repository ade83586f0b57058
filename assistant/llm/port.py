"""The language-model port: what the conversation engine needs from any LLM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict

from assistant.llm.facts import TurnFacts


class ChatMessage(TypedDict):
    """One message of a chat-completion conversation."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call a model made to a tool, its arguments as the model wrote them (JSON, maybe malformed)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's reply and what asking for it used: tokens read and written, and their cost in USD."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0


class Toolbox(Protocol):
    """The actions a model may call natively in one turn, run through the same guards as text tags."""

    def definitions(self) -> list[dict[str, Any]]:
        """The tools to offer, as OpenAI function definitions."""
        ...

    async def run(self, call: ToolCall) -> str:
        """Carry out one call; the result the model reads next (JSON)."""
        ...


class ChatModel(Protocol):
    """Answers a conversation with the assistant's next message (may contain [ACTION:...] tags)."""

    name: str

    async def complete(
        self, messages: list[ChatMessage], facts: TurnFacts | None = None, tools: Toolbox | None = None
    ) -> Completion:
        """Return the reply (and its usage); raise `assistant.errors.LLMError` when no answer can be had.

        `facts` are the turn's facts as data; an LLM reads them in the system prompt instead. `tools`, when
        given, may be offered to a model that calls tools natively; its calls run before the reply is written.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
