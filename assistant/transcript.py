"""The conversation the model is shown: one owner of the Redis window and its rebuild from the record."""

from __future__ import annotations

from collections.abc import Sequence

from actions.parser import neutralise
from storage.history import ConversationHistory, Turn
from storage.messages import MessageLog
from storage.tables import Message

# The image types OpenAI's vision models take; a phone's HEIC photo is only mentioned, like any file.
VISION_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png", "image/gif", "image/webp"})
# Outbound kinds the model takes part in; keyword answers, notifications and codes stay out.
CONVERSATIONAL_KINDS = frozenset({"reply", "reminder", "staff"})
# Reminder and staff rows the customer never got: the model never saw them live either.
NEVER_SENT = frozenset({"suppressed", "failed"})
# Inbound texts a turn answered, or that waited for staff during a takeover.
CONVERSATIONAL_TURN_STATES = frozenset({"answered", "staff"})


def words_of(message: Message) -> str:
    """What the customer wrote in one text, as data: trimmed, with any `[ACTION` defused."""
    return neutralise(message.body.strip())


def attachment_types(message: Message) -> list[str]:
    """The content types of what one text carried."""
    return [str(item.get("content_type", "unknown")) for item in message.media or []]


def images_of(message: Message) -> list[str]:
    """The URLs of the images one text carried that a vision model reads (it fetches them itself)."""
    return [
        str(item["url"])
        for item in message.media or []
        if str(item.get("content_type", "")).lower() in VISION_TYPES
        and str(item.get("url", "")).startswith(("https://", "http://"))
    ]


def customer_text(inbound: Sequence[Message]) -> str:
    """The burst of texts as one user message: data only, with media mentioned and tags defused."""
    lines: list[str] = []
    for message in inbound:
        if words := words_of(message):
            lines.append(words)
        if kinds := attachment_types(message):
            count, listed = len(kinds), ", ".join(kinds)
            lines.append(f"[The customer attached {count} file{'s' if count > 1 else ''}: {listed}]")
    return "\n".join(lines) or "(empty message)"


def turns_from_record(rows: Sequence[Message]) -> list[Turn]:
    """The conversation in `rows` (oldest first) exactly as it was shown live: bursts joined, text defused."""
    turns: list[Turn] = []
    burst: list[Message] = []
    for row in rows:
        if row.direction == "inbound":
            if row.turn_state in CONVERSATIONAL_TURN_STATES:
                burst.append(row)
            continue
        if row.kind not in CONVERSATIONAL_KINDS or not row.body:
            continue
        if row.kind != "reply" and row.status in NEVER_SENT:
            continue  # a reminder or staff text that never went was never added live (a reply always is)
        if burst:
            turns.append({"role": "user", "content": customer_text(burst)})
            burst = []
        turns.append({"role": "assistant", "content": row.body})
    if burst:
        turns.append({"role": "user", "content": customer_text(burst)})
    return turns


class Transcript:
    """What the model remembers of each conversation; every writer adds to it here, after recording.

    Redis keeps a window of the last turns; when it has none (expired, flushed) the window is rebuilt from
    the message log. A writer's turns are added only to a window that exists: a forgotten one is rebuilt
    whole on the next read, from a record that already holds them, so no line ever stands alone. Only a
    first contact's turn begins a window, being all there is.
    """

    def __init__(self, window: ConversationHistory, messages: MessageLog) -> None:
        self._window = window
        self._messages = messages

    async def recent(self, phone: str, *, first_contact: bool = False) -> list[Turn]:
        """The remembered turns with this phone, oldest first.

        `first_contact`: the record holds nothing of this number but the texts now waiting, so there is
        nothing to remember (and nothing to read).
        """
        if first_contact:
            return []
        remembered = await self._window.window(phone)
        if remembered is not None:
            return remembered
        size = self._window.size
        # Three rows per turn is enough to find `size` turns among keyword texts and bursts.
        turns = turns_from_record(await self._messages.recent(phone, size * 3))[-size:]
        await self._window.extend(phone, turns, begin=True)
        return turns

    async def add(self, phone: str, *turns: Turn, first_contact: bool = False) -> None:
        """Turns just recorded in the message log (call after the commit).

        `first_contact`: they are the number's whole conversation, so they begin its window (the next turn
        then reads them from Redis instead of rebuilding them from the record).
        """
        await self._window.extend(phone, turns, begin=first_contact)

    async def forget(self, phone: str) -> None:
        await self._window.forget(phone)
