"""The language-model port: what the conversation engine needs from any LLM."""

from __future__ import annotations

from typing import Literal, Protocol, TypedDict

from assistant.llm.facts import TurnFacts


class ChatMessage(TypedDict):
    """One message of a chat-completion conversation."""

    role: Literal["system", "user", "assistant"]
    content: str


class ChatModel(Protocol):
    """Answers a conversation with the assistant's next message (may contain [ACTION:...] tags)."""

    name: str

    async def complete(self, messages: list[ChatMessage], facts: TurnFacts | None = None) -> str:
        """Return the reply text; raise `assistant.errors.LLMError` when no answer can be had.

        `facts` are the turn's facts as data; an LLM reads them in the system prompt instead.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
