"""When a claimed text may go at its sender's rate: replies wait for a slot, proactive texts come back."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from assistant.text_kinds import TAKES_FREE_SLOTS
from storage.clock import Clock
from storage.outbox import Outbox
from storage.pacing import Pacer
from storage.tables import Message

# The checks between a slot and the send (consent, the stamp, the budget: one SQL transaction) take a
# varying time, a long one under load; texts go at their slot plus this, so they leave evenly spaced
# whatever the checks took. (At most a token interval: a fast sender's slots are short.)
CHECKS_ALLOWANCE = timedelta(seconds=0.2)


@dataclass(frozen=True, slots=True)
class Turn:
    """Whether a claimed text may go; when to hand it over, or when to try again (or never: taken over)."""

    go: bool
    at: datetime | None = None  # go: hand it over at this moment, after the checks
    later: datetime | None = None  # no free slot: back to pending until then


TAKEN = Turn(go=False)


class SendPacing:
    """Gives each claimed text its send slot: a reply waits for the next one, a proactive text takes a free
    one or none."""

    def __init__(
        self,
        pacer: Pacer | None,
        outbox: Outbox,
        *,
        clock: Clock,
        senders: Mapping[str, Pacer | None] | None = None,
    ) -> None:
        self._pacer = pacer  # the default sender's (None: unpaced)
        # Each country's own number or sender ID, by the `from_number` its texts record: its own bucket
        # (None: unpaced), never the default's.
        self._senders = dict(senders or {})
        self._outbox = outbox
        self._clock = clock
        pacers = [one for one in (pacer, *self._senders.values()) if one is not None]
        # The longest allowance of any sender's: hand_over_at never sleeps more than a text's own allowance
        # on the real clock (its moment is its slot plus that), this only bounds a clock that stands still.
        self._allowance = max((min(CHECKS_ALLOWANCE, one.interval) for one in pacers), default=timedelta(0))

    async def turn(self, message: Message) -> Turn:
        """One Redis round trip; a reply then sleeps until its slot, keeping its claim fresh."""
        pacer = self._senders.get(message.from_number, self._pacer)  # a stored None: unpaced
        if pacer is None:
            return Turn(go=True)  # an unpaced sender: nothing to wait for
        allowance = min(CHECKS_ALLOWANCE, pacer.interval)
        if message.kind in TAKES_FREE_SLOTS:
            now = self._clock()
            free_at = await pacer.take(message.segments or 1)
            return Turn(go=True, at=now + allowance) if free_at is None else Turn(go=False, later=free_at)
        slot = await pacer.reserve(message.segments or 1)
        if not await self._wait_until(message, slot):
            return TAKEN
        return Turn(go=True, at=slot + allowance)

    async def hand_over_at(self, moment: datetime) -> None:
        """Sleep the rest of the checks' allowance: the text leaves at its slot plus the allowance."""
        remaining = (moment - self._clock()).total_seconds()
        if remaining > 0:
            await asyncio.sleep(min(remaining, self._allowance.total_seconds()))

    async def _wait_until(self, message: Message, slot: datetime) -> bool:
        """Sleep until `slot`; False if another sender took the text over meanwhile.

        The claim counts as quiet from its last stamp: a wait longer than the outbox's `stale_seconds` would
        look like a crash, and the outbox would check the text with the gateway and send it itself. So a long
        wait re-stamps the claim every third of that (`reclaim`, which also says if it is still ours).
        """
        # The delay is read from the clock once and slept off in real time: the wait is the product
        # pacing itself, and a test clock that stands still must not make it endless.
        remaining = (slot - self._clock()).total_seconds()
        step = self._outbox.stale_seconds / 3
        while remaining > 0:
            pause = min(remaining, step)
            await asyncio.sleep(pause)
            remaining -= pause
            if remaining > 0 and not await self._outbox.reclaim(message):
                return False
        return True
