"""The digest job: held chat notifications go out as one text once sending is allowed again."""

from __future__ import annotations

import logging

from assistant.notifier import Notifier
from storage.chat import ChatLog, CoverageLost
from storage.clock import Clock

log = logging.getLogger(__name__)


class Digests:
    """Run from the worker's sweep; safe from any number of workers (one lock per recipient, one text)."""

    def __init__(self, *, chat: ChatLog, notifier: Notifier, clock: Clock) -> None:
        self._chat = chat
        self._notifier = notifier
        self._clock = clock

    async def send_due(self) -> int:
        """Release every recipient whose held messages are due; returns how many texts went."""
        sent = 0
        for recipient_id in await self._chat.due_recipients(self._clock()):
            try:
                sent += await self._notifier.release(recipient_id)
            except CoverageLost:
                log.info(
                    "a held message for chat user %r was read meanwhile; deciding again next sweep",
                    recipient_id,
                )
            except Exception:
                # One recipient's trouble (say, a template error) must not hold up everyone else's digest.
                log.exception("digest for chat user %r failed; trying again next sweep", recipient_id)
        return sent
