"""The one way in for a customer's text: the webhook, the sandbox and `simulate` all `accept` it here."""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from assistant.errors import OUTAGES
from assistant.gate import OPTED_OUT, ConsentEvent, consent_event, decided_details
from assistant.keywords import KeywordSet, classify_phrase
from assistant.logs import mask_phone
from assistant.metrics import INBOUND
from storage.batching import Coalescer
from storage.consent import ConsentBook
from storage.messages import InboundText, MessageLog
from storage.parked import ParkedTexts
from storage.tables import Message
from storage.turn_queue import TurnQueue

log = logging.getLogger(__name__)

MAX_BATCH = 200


class Parked(enum.Enum):
    """A text that must wait for its number's parked texts to be recorded first."""

    FIRST = "first"


PARKED_FIRST = Parked.FIRST


def _created(result: tuple[int, bool] | Parked) -> bool:
    return result is not PARKED_FIRST and result[1]


class Inbound:
    """Records a text (once per MessageSid), applies its opt-out or opt-in at once, and queues its turn."""

    def __init__(
        self,
        *,
        messages: MessageLog,
        consent: ConsentBook,
        keywords: KeywordSet,
        queue: TurnQueue,
        parked: ParkedTexts,
    ) -> None:
        self._messages = messages
        self._parked = parked
        self._consent = consent
        self._keywords = keywords
        self._queue = queue
        # Concurrent webhooks share their round trips: per batch, one Redis look for parked texts, one
        # transaction, one Redis call to queue the turns. Where the database writes in parallel, two batches
        # at once, so each one's round trips overlap the other's, the second only once 8 texts wait (on
        # PostgreSQL, measured: about 15 % more texts a second than one batch at a time, 4 % more than a
        # second batch for any text; three or four at once were no better). SQLite, one writer at a time,
        # does best with one (about 20 % more than with two). (Concurrent webhooks have no order; one sent
        # after another's 200 comes later.)
        in_flight = 2 if messages.parallel_writes else 1
        self._recorded = Coalescer(
            self._record_many, max_batch=MAX_BATCH, in_flight=in_flight, overlap_from=8
        )

    async def accept(self, text: InboundText) -> tuple[int, bool]:
        """The recorded text's id and whether it is new. STOP has taken effect by the time this returns.

        The opt-out commits in the same transaction as the text, so Twilio's 200 (and any chat notification
        asked for a moment later) comes after it; the worker still sends the one confirmation.
        """
        if await self._consent_event(text) is None:  # nearly every text: batched with whatever else arrives
            recorded = await self._recorded.submit(text)
            if recorded is not PARKED_FIRST:
                return recorded
            parked_first = True
        else:
            parked_first = await self._any_parked([text.from_number]) == [True]
        if parked_first:
            # Texts this number sent during an outage come first, so its conversation stays in order.
            await self._parked.record(self._record, phone=text.from_number)
        return await self._record(text)

    async def _consent_event(self, text: InboundText) -> ConsentEvent | None:
        async def opted_out() -> bool:
            return await self._consent.cached_state(text.from_number) == OPTED_OUT

        return await consent_event(self._keywords, text.body, text.opt_out_type, opted_out=opted_out)

    async def _record_many(self, texts: Sequence[InboundText]) -> list[tuple[int, bool] | Parked]:
        """Record and queue texts that change no consent; one from a number with parked texts is left to
        its caller, to record after them."""
        parked = await self._any_parked([text.from_number for text in texts])
        fresh = [text for text, waits in zip(texts, parked, strict=True) if not waits]
        recorded = iter(await self._messages.add_inbounds(fresh) if fresh else ())
        results = [PARKED_FIRST if waits else next(recorded) for waits in parked]
        await self._enqueue([text for text, result in zip(texts, results, strict=True) if _created(result)])
        return results

    async def _record(self, text: InboundText) -> tuple[int, bool]:
        """One text on its own: with its consent change in one transaction, if it makes one."""
        event = await self._consent_event(text)
        if event is None:
            ((message_id, created),) = await self._messages.add_inbounds([text])
        else:
            message_id, created = await self._record_with_consent(text, event)
        if created:
            await self._enqueue([text])
        return message_id, created

    async def _any_parked(self, phones: Sequence[str]) -> list[bool]:
        try:
            return await self._parked.waiting(phones)
        except OUTAGES:  # with Redis away nothing can have been parked since, and nothing can be read
            return [False] * len(phones)

    async def park(self, text: InboundText) -> bool:
        """Keep a text the database can't take now, to record when it is back; False if Redis is away too."""
        phone = mask_phone(text.from_number)
        try:
            await self._parked.park(text)
        except OUTAGES as exc:
            log.error("inbound %s from %s lost: no database and no Redis (%s)", text.sid, phone, exc)
            return False
        log.warning("inbound %s from %s parked until the database is back", text.sid, phone)
        return True

    async def record_parked(self) -> int:
        """Record and queue the texts parked during an outage, in order; how many there were."""
        return await self._parked.record(self._record)

    async def welcomes_apology(self, text: InboundText) -> bool:
        """Whether an apology may answer this text unrecorded: never a keyword, never an opted-out number,
        and not when we can't tell."""
        if text.opt_out_type or self._keywords.classify(text.body) or classify_phrase(text.body):
            return False
        try:
            return await self._consent.cached_state(text.from_number) != OPTED_OUT
        except OUTAGES:
            return False

    async def _enqueue(self, texts: Sequence[InboundText]) -> None:
        """Queue new texts' turns, logged once per batch (a line per text costs a tenth of a webhook)."""
        if not texts:
            return
        INBOUND.inc(len(texts))
        await self._queue.enqueue_many([text.from_number for text in texts])
        if len(texts) == 1:
            log.info("inbound %s from %s queued", texts[0].sid, mask_phone(texts[0].from_number))
        else:
            log.info("%d inbound texts queued (%s … %s)", len(texts), texts[0].sid, texts[-1].sid)

    async def _record_with_consent(self, text: InboundText, event: ConsentEvent) -> tuple[int, bool]:
        """The text and its consent change in one transaction; the cache is dropped if that fails."""

        async def apply(session: AsyncSession, message: Message) -> dict[str, Any] | None:
            change = await self._consent.record(
                text.from_number,
                event.event,
                source=event.source,
                raw_text=text.body,
                matched=event.matched,
                inbound_sid=text.sid,
                within=session,
            )
            return decided_details(event, change)

        try:
            message, created = await self._messages.record_inbound(text, then=apply)
        except BaseException:
            await self._consent.forget_cached(text.from_number)  # it may hold a state never committed
            raise
        return message.id, created
