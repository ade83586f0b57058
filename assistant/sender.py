"""The one send path: every outbound text is prepared, consent-checked and handed over here, once."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Literal

from assistant.errors import RecipientOptedOut, SmsError
from assistant.logs import mask_phone
from assistant.shaping import shape_reply
from assistant.sms.port import OutgoingSms, SmsGateway
from prompts.renderer import PromptRenderer
from storage.consent import ConsentBook
from storage.messages import MessageLog
from storage.tables import Message

log = logging.getLogger(__name__)

OPT_OUT_CONFIRMATION = "opt_out"
CARRIER_OPTED_OUT = 21610
# Replies that already tell the customer about STOP don't need the first-message disclosure.
SELF_DISCLOSING = frozenset({OPT_OUT_CONFIRMATION, "opt_in", "help", "opt_out_unclear"})


@dataclass(frozen=True, slots=True)
class Delivery:
    """How handing one recorded text to the gateway went, so no caller reads the row back to learn it."""

    # sent: the gateway took it; suppressed: the number opted out; failed: refused or unreachable;
    # taken: another caller claimed it first (recovery, or a retried turn), so this one did nothing.
    outcome: Literal["sent", "suppressed", "failed", "taken"]
    sid: str | None = None
    error_code: int | None = None
    reason: str = ""

    @property
    def sent(self) -> bool:
        return self.outcome == "sent"

    @property
    def opted_out(self) -> bool:
        """Not sent because the number opted out: here, or at the carrier (Twilio 21610)."""
        return self.outcome == "suppressed" or self.error_code == CARRIER_OPTED_OUT


class Sender:
    """Prepares outbound texts and hands them to the gateway: consent checked right before, at most once."""

    def __init__(
        self,
        messages: MessageLog,
        gateway: SmsGateway,
        consent: ConsentBook,
        renderer: PromptRenderer,
        *,
        segment_budget: int,
    ) -> None:
        self._messages = messages
        self._gateway = gateway
        self._consent = consent
        self._renderer = renderer
        self._segment_budget = segment_budget

    async def prepare(
        self,
        *,
        phone: str,
        text: str,
        kind: str,
        sender: str,
        customer_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> Message:
        """An unsaved outbound text: shaped to the segment budget, with the disclosure on a first contact."""
        disclosure = ""
        if kind not in SELF_DISCLOSING and not await self._messages.has_texted(phone):
            disclosure = await self._renderer.render("disclosure", {})
        shaped = shape_reply(text, self._segment_budget, suffix=disclosure)
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
            details=details or {},
        )

    async def deliver(self, message: Message) -> Delivery:
        """Send one recorded text, at most once ever; the outcome says what happened."""
        # The claim is the guard before every send: pending → submitting happens once, ever.
        if not await self._messages.claim_for_sending(message.id):
            return Delivery("taken")
        # Once claimed, finish even if the caller is cancelled (a shutdown): a send cut off half-way would
        # stay "submitting" for good, neither sent nor safe to send again.
        return await asyncio.shield(self._hand_over(message))

    async def _hand_over(self, message: Message) -> Delivery:
        # STOP wins: the consent check is the last thing before the gateway, for every kind of text.
        if message.kind != OPT_OUT_CONFIRMATION and await self._consent.is_opted_out(message.to_number):
            await self._messages.mark_suppressed(message.id, reason="recipient opted out")
            log.info("suppressed a %s text to opted-out %s", message.kind, mask_phone(message.to_number))
            return Delivery("suppressed", reason="recipient opted out")
        try:
            sent = await self._gateway.send(OutgoingSms(to=message.to_number, body=message.body))
        except SmsError as exc:
            log.warning("send to %s failed: %s", mask_phone(message.to_number), exc)
            if isinstance(exc, RecipientOptedOut):
                # Record the opt-out first: once the text stops being in flight, the number is opted out.
                await self._carrier_opt_out(message.to_number, message.sid)
            await self._messages.mark_failed(message.id, error_code=exc.code, reason=str(exc))
            return Delivery("failed", error_code=exc.code, reason=str(exc))
        await self._messages.mark_submitted(message.id, sid=sent.sid, status=sent.status, sender=sent.sender)
        message.sid = sent.sid
        return Delivery("sent", sid=sent.sid)

    async def deliver_unsent(self) -> int:
        """Send texts recorded before a crash but never handed over; returns how many went."""
        sent = 0
        for message in await self._messages.unsent():
            sent += (await self.deliver(message)).sent
        return sent

    async def record_status(
        self, sid: str, status: str, error_code: int | None, payload: dict[str, Any]
    ) -> None:
        """A delivery-status callback: status moves forward only; 21610 means the carrier opted them out."""
        message = await self._messages.apply_status(sid, status, error_code, payload)
        if message is not None and error_code == CARRIER_OPTED_OUT:
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
