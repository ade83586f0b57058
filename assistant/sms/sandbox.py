"""The sandbox outbox: an in-process `SmsGateway` for embedded mode, when no Twilio account is configured."""

from __future__ import annotations

import logging
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from assistant.logs import mask_phone
from assistant.sms.port import OutgoingSms, SentSms
from assistant.sms.twilio_adapter import error_for_code  # one error-code mapping for both gateways
from storage.clock import Clock, system_clock

logger = logging.getLogger(__name__)

# Twilio's magic test number that always sends successfully.
DEFAULT_SENDER = "+15005550006"
DEFAULT_CAPACITY = 1000


@dataclass(frozen=True, slots=True)
class SandboxText:
    """One text the sandbox 'sent', as the phone simulator shows it."""

    sid: str
    to: str
    body: str
    sender: str
    sent_at: datetime
    media: tuple[str, ...] = ()  # the media URLs an MMS carried


class SandboxOutbox:
    """Keeps sent texts in memory instead of sending them; can refuse a number like Twilio would."""

    name = "sandbox"

    def __init__(
        self, sender: str = DEFAULT_SENDER, capacity: int = DEFAULT_CAPACITY, *, clock: Clock = system_clock
    ) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.sender = sender
        self._clock = clock
        # Bounded so a long-running embedded server cannot grow without limit; oldest texts drop first.
        self._texts: deque[SandboxText] = deque(maxlen=capacity)
        self._failures: dict[str, int] = {}

    async def send(self, message: OutgoingSms) -> SentSms:
        """Record the text and answer like Twilio, or raise the error scripted for this number."""
        code = self._failures.get(message.to)
        if code is not None:
            logger.info("sandbox refused text to %s with code %s", mask_phone(message.to), code)
            raise error_for_code(code, f"sandbox: Twilio error {code} scripted for this number")
        text = SandboxText(
            sid="SM" + secrets.token_hex(16),
            to=message.to,
            body=message.body,
            sender=message.sender or self.sender,
            sent_at=self._clock(),
            media=message.media,
        )
        self._texts.append(text)
        logger.info("sandbox delivered %s to %s", text.sid, mask_phone(message.to))
        return SentSms(sid=text.sid, status="delivered", sender=text.sender)

    async def find_sent(self, message: OutgoingSms, *, since: datetime) -> SentSms | None:
        """The kept text to this number with this body since `since`, if any."""
        for text in reversed(self._texts):
            if text.to == message.to and text.body == message.body and text.sent_at >= since:
                return SentSms(sid=text.sid, status="delivered", sender=text.sender)
        return None

    @property
    def sent(self) -> list[SandboxText]:
        """Every kept text, oldest first."""
        return list(self._texts)

    def sent_to(self, phone: str) -> list[SandboxText]:
        """The kept texts sent to `phone`, oldest first."""
        return [text for text in self._texts if text.to == phone]

    def fail_for(self, phone: str, code: int = 21610) -> None:
        """Refuse texts to `phone` from now on with this Twilio error code (21610: opted out)."""
        self._failures[phone] = code

    def stop_failing(self, phone: str) -> None:
        """Accept texts to `phone` again."""
        self._failures.pop(phone, None)

    def clear(self) -> None:
        """Forget every kept text and scripted failure."""
        self._texts.clear()
        self._failures.clear()

    async def aclose(self) -> None:
        """Nothing to release; present to satisfy the port."""
