"""The SMS port: hand one text to a gateway and learn its id and first status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    """A text ready to go: already shaped, consent already checked; with media URLs it is an MMS."""

    to: str
    body: str
    # A country's own number or sender ID to send from; None: the gateway's default sender.
    sender: str | None = None
    media: tuple[str, ...] = ()  # up to 10 URLs Twilio fetches (checked: see assistant.sms.media)


@dataclass(frozen=True, slots=True)
class SentSms:
    """What the gateway said when it accepted a text."""

    sid: str
    status: str
    sender: str


class SmsGateway(Protocol):
    """Sends texts. Raises `assistant.errors.SmsError` (or a subclass) when the gateway refuses."""

    name: str

    async def send(self, message: OutgoingSms) -> SentSms: ...

    async def find_sent(self, message: OutgoingSms, *, since: datetime) -> SentSms | None:
        """The text the gateway took for this number with this body since `since`, if it took one."""
        ...

    async def aclose(self) -> None: ...
