"""The one send path: every outbound text is prepared, consent-checked and handed over here, once."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from assistant.errors import RecipientOptedOut, SmsError
from assistant.logs import mask_phone
from assistant.metrics import COST, DELIVERY_ERRORS, OUTBOUND
from assistant.pacing import SendPacing
from assistant.pricing import SmsPrices
from assistant.send_rules import SendRules
from assistant.senders import Senders
from assistant.shaping import shape_reply
from assistant.sms.media import Media, check_media, takes_mms, urls_to_send
from assistant.sms.port import OutgoingSms, SmsGateway
from assistant.text_kinds import INVITES_REPLY, OPT_OUT_CONFIRMATION, SELF_DISCLOSING, STAFF_ALERT
from prompts.renderer import PromptRenderer
from storage.batching import Coalescer
from storage.clock import Clock
from storage.consent import ConsentBook
from storage.messages import MessageLog
from storage.outbox import FINAL_STATUSES, Outbox, Submitted
from storage.tables import Message

log = logging.getLogger(__name__)

# The gateway's clock and ours may differ a little; a text created just before ours counts as this one.
CLOCK_SLACK = timedelta(minutes=2)

CARRIER_OPTED_OUT = 21610
SEND_BATCH = 100  # sends whose checks (and whose results) one round trip carries
PACED = "no send slot free: the sender is at its rate"
# An outbox pass waits for free send slots for proactive texts this long at most; the rest wait for the next.
PACED_PASS_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """How handing one recorded text to the gateway went, so no caller reads the row back to learn it."""

    # sent: the gateway took it; suppressed: the number opted out; failed: refused or unreachable;
    # taken: another caller claimed it first (recovery, or a retried turn), so this one did nothing.
    # queued: not sent yet, it goes later by itself (a retry, or behind an earlier text to the number).
    # held: the budget is spent, or (a proactive text) it is quiet hours where the recipient is; it goes
    # by itself once allowed.
    outcome: Literal["sent", "suppressed", "failed", "taken", "queued", "held"]
    sid: str | None = None
    error_code: int | None = None
    reason: str = ""
    at: datetime | None = None  # queued: when it is tried again

    @property
    def sent(self) -> bool:
        return self.outcome == "sent"

    @property
    def reaches_customer(self) -> bool:
        """The customer has the text, or will once its retry goes (or the budget allows)."""
        return self.outcome in ("sent", "queued", "held")

    @property
    def opted_out(self) -> bool:
        """Not sent because the number opted out: here, or at the carrier (Twilio 21610)."""
        return self.outcome == "suppressed" or self.error_code == CARRIER_OPTED_OUT


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When a text that could not go is tried again: backoff with jitter, within a window from its staging."""

    window_seconds: float = 3600.0
    first_delay_seconds: float = 5.0
    max_delay_seconds: float = 300.0

    def next_try(self, message: Message, now: datetime) -> datetime | None:
        """The next attempt's time, or None once the window is over."""
        delay = min(self.first_delay_seconds * 2**message.attempts, self.max_delay_seconds)
        # Jitter, so texts refused together (a Twilio 429) don't all come back in the same second.
        at = now + timedelta(seconds=delay * random.uniform(0.8, 1.2))
        created = message.created_at or now
        return at if at <= created + timedelta(seconds=self.window_seconds) else None


def _unsure(error: SmsError) -> SmsError:
    """The gateway couldn't be asked: whether the earlier attempt went through is still unknown."""
    return SmsError(f"could not check with the gateway: {error}", code=error.code, maybe_sent=True)


class Sender:
    """Prepares outbound texts and hands them to the gateway: consent checked right before, at most once."""

    def __init__(
        self,
        messages: MessageLog,
        outbox: Outbox,
        gateway: SmsGateway,
        consent: ConsentBook,
        renderer: PromptRenderer,
        *,
        segment_budget: int,
        retries: RetryPolicy,
        prices: SmsPrices,
        rules: SendRules,
        clock: Clock,
        senders: Senders,
        pacing: SendPacing | None = None,
    ) -> None:
        self._messages = messages
        self._senders = senders  # who each text comes from: by the recipient's country, or who they texted
        self._pacing = pacing  # None: unpaced (the sandbox outbox)
        self._rules = rules  # the budget, and quiet hours for proactive texts
        self._outbox = outbox
        self._gateway = gateway
        self._consent = consent
        self._renderer = renderer
        self._segment_budget = segment_budget
        self._retries = retries
        self._prices = prices
        self._clock = clock
        # Concurrent sends share their round trips: one read of consents and one commit of SIDs per batch.
        self._clearances = Coalescer(outbox.clearances, max_batch=SEND_BATCH)
        self._submitted = Coalescer(outbox.record_submitted, max_batch=SEND_BATCH)

    async def prepare(
        self,
        *,
        phone: str,
        text: str,
        kind: str,
        sender: str | None = None,
        customer_id: int | None = None,
        details: dict[str, Any] | None = None,
        texted_before: bool | None = None,
        language: str = "en",
        media: Sequence[Media] = (),
    ) -> Message:
        """An unsaved outbound text: shaped to the segment budget, with the disclosure on a first contact.

        `sender` is the business number the customer texted, when this answers them; else the sender is the
        recipient's country's (senders.py). `texted_before` is whether any text ever went to `phone`, when the
        caller already knows; else it is looked up. `language` is the customer's, for the disclosure. `media`
        (checked already, see MediaInspector) make it an MMS in the US and Canada; elsewhere their links end
        the text.
        """
        sender = self._senders.choose(phone, kind, texted=sender)
        if texted_before is None and kind not in SELF_DISCLOSING:
            texted_before = await self._messages.has_texted(phone)
        first_contact = kind not in SELF_DISCLOSING and not texted_before
        notice = ""
        if self._senders.is_one_way(sender) and (first_contact or kind in INVITES_REPLY):
            # A sender ID can't be texted back: its text says which number takes replies and STOP.
            values = {"number": self._senders.reply_number}
            notice = await self._renderer.render(self._renderer.localized("one_way", language), values)
        elif first_contact:
            notice = await self._renderer.render(self._renderer.localized("disclosure", language), {})
        mms = takes_mms(phone)
        attached = check_media(media) if mms else ()
        # Outside the US and Canada no MMS goes: the links end the text, kept whole like the disclosure.
        links = "" if mms else " ".join(item.url for item in media)
        shaped = shape_reply(text, self._segment_budget, suffix=" ".join(filter(None, (links, notice))))
        return Message(
            direction="outbound",
            kind=kind,
            customer_id=customer_id,
            phone=phone,
            from_number=sender,
            to_number=phone,
            body=shaped.body,
            status="pending",
            segments=shaped.segments,
            encoding=shaped.encoding,
            media=[item.record() for item in attached],
            price=self._prices.estimate(phone, shaped.segments, mms=bool(attached)),
            price_source="estimate",
            details=details or {},
        )

    async def deliver(self, message: Message, *, claimed: bool = False) -> Delivery:
        """Send one recorded text, at most once ever; the outcome says what happened.

        `claimed`: the caller staged it already claimed (a turn's reply, by `close_turn`), so it is this
        caller's to send; otherwise it is claimed here first.
        """
        # The claim is the guard before every send: pending → submitting happens once per attempt.
        if not claimed and not await self._outbox.claim(message):
            return Delivery("taken")
        # Once claimed, finish even if the caller is cancelled (a shutdown): a send cut off half-way would
        # stay "submitting" until the outbox checks it with the gateway.
        return await asyncio.shield(self._hand_over(message))

    async def _hand_over(self, message: Message) -> Delivery:
        # Pacing comes before the clearance, so the consent check and the fence's stamp stay the last thing
        # before the gateway however long a reply waits for its slot (SendPacing keeps the claim fresh
        # meanwhile); only the checks' short allowance separates them from the send.
        # A slot spent on a text then suppressed or held is lost: the rate is undershot, never exceeded.
        pacing = self._pacing
        turn = await pacing.turn(message) if pacing is not None else None
        if turn is not None:
            if turn.later is not None:
                # Not a failed attempt: pending again, no attempt counted, so no retry window drops it.
                await self._outbox.put_back(message, turn.later)
                return Delivery("queued", reason=PACED, at=turn.later)
            if not turn.go:
                log.warning(
                    "a %s text to %s was taken over while it waited for its send slot",
                    message.kind,
                    mask_phone(message.to_number),
                )
                return Delivery("taken")
        clearance = await self._clearances.submit(message)
        if not clearance.held:
            log.warning(
                "a %s text to %s was taken over while this sender stalled",
                message.kind,
                mask_phone(message.to_number),
            )
            return Delivery("taken")
        # STOP wins: the consent check is the last thing before the gateway, for every kind of text.
        if message.kind != OPT_OUT_CONFIRMATION and clearance.opted_out:
            await self._outbox.suppressed(message, reason="recipient opted out")
            OUTBOUND.labels(message.kind, "suppressed").inc()
            log.info("suppressed a %s text to opted-out %s", message.kind, mask_phone(message.to_number))
            return Delivery("suppressed", reason="recipient opted out")
        if (hold := await self._rules.hold(message)) is not None:
            if hold.drop:
                await self._outbox.canceled(message, reason=hold.reason)
                return Delivery("failed", reason=hold.reason)
            await self._outbox.hold(message, reason=hold.reason, until=hold.until)
            log.info("a %s text to %s is %s", message.kind, mask_phone(message.to_number), hold.reason)
            return Delivery("held", reason=hold.reason)
        if clearance.behind is not None and not clearance.opted_out:
            # Texts to one number go in order: this one waits for the earlier one. (The opt-out confirmation
            # never waits: whatever is before it will be suppressed.)
            await self._outbox.put_back(message, clearance.behind)
            return Delivery("queued", reason="an earlier text to this number is waiting to be retried")
        if turn is not None and turn.at is not None:  # a turn comes only from pacing
            # On the slot plus the checks' allowance: under a second after the stamp (inside stale_seconds).
            await pacing.hand_over_at(turn.at)
        try:
            sender = self._senders.explicit(message.from_number)
            media = urls_to_send(message.media)
            sent = await self._gateway.send(
                OutgoingSms(to=message.to_number, body=message.body, sender=sender, media=media)
            )
        except SmsError as exc:
            return await self._not_sent(message, exc)
        await self._submitted.submit(Submitted(message, sent.sid, sent.status, sent.sender))
        message.sid, message.status = sent.sid, sent.status
        if sent.status in FINAL_STATUSES:  # a gateway that answers at once (the sandbox)
            OUTBOUND.labels(message.kind, sent.status).inc()
        COST.labels("mms" if message.media else "sms").inc(message.price or 0.0)
        return Delivery("sent", sid=sent.sid)

    async def _not_sent(self, message: Message, error: SmsError) -> Delivery:
        """Retry what may go later, within the retry window; record the rest and tell staff why."""
        log.warning("send to %s failed: %s", mask_phone(message.to_number), error)
        reason = str(error)
        if error.code is not None:
            DELIVERY_ERRORS.labels(str(error.code)).inc()
        if isinstance(error, RecipientOptedOut):
            # Record the opt-out first: once the text stops being in flight, the number is opted out.
            await self._carrier_opt_out(message.to_number, message.sid)
            await self._outbox.failed(message, error_code=error.code, reason=reason)
            return Delivery("failed", error_code=error.code, reason=reason)
        if error.retryable or error.maybe_sent:
            at = self._retries.next_try(message, self._clock())
            if at is not None:
                await self._outbox.retry_at(message, at, reason=reason, unsure=error.maybe_sent)
                return Delivery("queued", error_code=error.code, reason=reason)
        # An alert to staff that could not go must not raise an alert about itself (a loop).
        staff_reason = (
            None if message.kind == STAFF_ALERT else f"a {message.kind} text could not be sent: {reason}"
        )
        await self._outbox.failed(message, error_code=error.code, reason=reason, staff_reason=staff_reason)
        OUTBOUND.labels(message.kind, "failed").inc()
        return Delivery("failed", error_code=error.code, reason=reason)

    async def deliver_unsent(self) -> int:
        """Send texts recorded before a crash but never handed over; returns how many went."""
        sent = 0
        for message in await self._outbox.unsent():
            sent += (await self.deliver(message)).sent
        return sent

    async def deliver_due(self) -> int:
        """Due retries, hand-overs that went unanswered (checked first), and texts the budget held that it
        allows now; returns how many went."""
        await self._release_held()
        sent = 0
        waiting: set[str] = set()  # numbers with an earlier text still waiting: later ones keep their turn
        loop = asyncio.get_running_loop()
        paced_until = loop.time() + PACED_PASS_SECONDS
        for message in await self._outbox.due():
            if message.phone in waiting:
                continue
            if message.status == "pending":
                delivery = await self.deliver(message)
            else:
                delivery = await asyncio.shield(self._check_then_send(message))
            # A proactive text found no free slot: wait for the moment one frees and try it again, so a
            # backlog drains at the sender's rate (a reply may take that slot first; then wait again).
            while delivery.reason == PACED and delivery.at is not None and loop.time() < paced_until:
                wait = (delivery.at - self._clock()).total_seconds()
                await asyncio.sleep(min(max(wait, 0.0), paced_until - loop.time()))
                previous, delivery = delivery.at, await self.deliver(message)
                if delivery.at == previous:
                    break  # the slot it waited for is still not free by our clock: leave it for the next pass
            sent += delivery.sent
            if delivery.outcome in ("queued", "taken"):
                waiting.add(message.phone)
        return sent

    async def _release_held(self) -> None:
        """Held texts the budget (and quiet hours) allow now are due again; one whose moment has passed
        is dropped."""
        kinds = [kind for kind in await self._outbox.held_kinds() if await self._rules.budget_allows(kind)]
        if kinds:
            released, dropped = await self._outbox.release_held(kinds)
            log.info("released %d held text(s); %d could only go too late: dropped", released, dropped)

    async def _check_then_send(self, message: Message) -> Delivery:
        """A hand-over whose fate is unknown: if the gateway has the text, record it; else send it."""
        if not await self._outbox.reclaim(message):
            return Delivery("taken")
        since = message.created_at - CLOCK_SLACK
        try:
            found = await self._gateway.find_sent(
                OutgoingSms(to=message.to_number, body=message.body), since=since
            )
        except SmsError as exc:
            return await self._not_sent(message, exc if exc.maybe_sent else _unsure(exc))
        if found is not None:
            log.info("the gateway had a text to %s already: %s", mask_phone(message.to_number), found.sid)
            await self._submitted.submit(Submitted(message, found.sid, found.status, found.sender))
            return Delivery("sent", sid=found.sid)
        return await self._hand_over(message)

    async def record_status(
        self, sid: str, status: str, error_code: int | None, payload: dict[str, Any]
    ) -> None:
        """A delivery-status callback: status moves forward only; 21610 means the carrier opted them out."""
        message, new = await self._outbox.apply_status(
            sid, status, error_code, payload, price=_price(payload)
        )
        if message is not None and new and status in FINAL_STATUSES:
            OUTBOUND.labels(message.kind, status).inc()
        if new and error_code is not None:
            DELIVERY_ERRORS.labels(str(error_code)).inc()
        if message is None or not new or error_code != CARRIER_OPTED_OUT:
            return
        # A carrier opt-out about a text sent before the customer opted back in is old news.
        if not await self._consent.opted_in_since(message.to_number, message.sent_at or message.created_at):
            await self._carrier_opt_out(message.to_number, sid)

    async def _carrier_opt_out(self, phone: str, sid: str | None) -> None:
        await self._consent.record(
            phone,
            "opt_out",
            source="carrier_21610",
            matched=str(CARRIER_OPTED_OUT),
            inbound_sid=None,
            raw_text=f"Twilio error {CARRIER_OPTED_OUT} on {sid or 'a send'}",
        )


def _price(payload: dict[str, Any]) -> float | None:
    """Twilio's own price for the text, when the callback carries one ("-0.00790", in USD)."""
    raw, unit = payload.get("Price"), (payload.get("PriceUnit") or "USD").upper()
    try:
        return abs(float(raw)) if raw not in (None, "") and unit == "USD" else None
    except (TypeError, ValueError):
        return None
