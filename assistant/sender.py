"""The one send path: every outbound text goes through `Sender.deliver`, right up to the gateway."""

from __future__ import annotations

import logging

from assistant.errors import SmsError
from assistant.logs import mask_phone
from assistant.sms.port import OutgoingSms, SmsGateway
from storage.messages import MessageLog
from storage.tables import Message

log = logging.getLogger(__name__)


class Sender:
    """Hands recorded outbound texts to the gateway, at most once each."""

    def __init__(self, log_: MessageLog, gateway: SmsGateway) -> None:
        self._log = log_
        self._gateway = gateway

    async def deliver(self, message: Message) -> bool:
        """Send one recorded text; False when it was already taken, refused or failed."""
        # The claim is the guard before every send: pending → submitting happens once, ever.
        if not await self._log.claim_for_sending(message.id):
            return False
        try:
            sent = await self._gateway.send(OutgoingSms(to=message.to_number, body=message.body))
        except SmsError as exc:
            log.warning("send to %s failed: %s", mask_phone(message.to_number), exc)
            await self._log.mark_failed(message.id, error_code=exc.code, reason=str(exc))
            return False
        await self._log.mark_submitted(message.id, sid=sent.sid, status=sent.status, sender=sent.sender)
        return True

    async def deliver_unsent(self) -> int:
        """Send texts recorded before a crash but never handed over; returns how many went."""
        sent = 0
        for message in await self._log.unsent():
            sent += await self.deliver(message)
        return sent
