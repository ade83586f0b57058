"""Telling staff a conversation needs them: texts to STAFF_ALERT_NUMBERS and a signed webhook POST.

A handoff, a conversation held by the runaway guard and a text that could not be sent each record an
alert with the flag the console shows; the service's own alerts (a budget crossed, deliveries failing,
see `assistant.watch`) are recorded once per topic. A worker pass tells staff, once per alert and at
most once per conversation per cooldown. Texts go through the normal send path (consent and order
apply); the webhook is signed with HMAC-SHA256 of `<timestamp>.<body>` under STAFF_ALERT_WEBHOOK_SECRET,
in the header `X-Assistant-Signature: sha256=<hex>`, with `X-Assistant-Timestamp`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from datetime import timedelta

import httpx

from assistant.logs import mask_phone
from assistant.sender import Sender
from assistant.text_kinds import STAFF_ALERT
from storage.clock import Clock
from storage.messages import MessageLog
from storage.staff_alerts import StaffAlertBook
from storage.staff_tables import StaffAlert

log = logging.getLogger(__name__)

CLAIM = timedelta(minutes=2)  # longer than one pass over an alert takes
GIVE_UP = timedelta(hours=24)  # a webhook still refusing after this is given up on, and logged


class StaffAlerts:
    """Tells staff about the alerts that are due; safe to run from any number of workers."""

    def __init__(
        self,
        *,
        book: StaffAlertBook,
        messages: MessageLog,
        sender: Sender,
        business_name: str,
        numbers: Sequence[str],
        webhook_url: str | None,
        webhook_secret: str | None,
        http: httpx.AsyncClient | None,
        cooldown: timedelta,
        clock: Clock,
    ) -> None:
        if webhook_url and not (webhook_secret and http):
            raise ValueError("a staff alert webhook needs its secret and an HTTP client")
        self.book = book
        self._messages = messages
        self._sender = sender
        self._business_name = business_name
        self._numbers = tuple(numbers)
        self._webhook_url = webhook_url
        self._secret = (webhook_secret or "").encode()
        self._http = http
        self._cooldown = cooldown
        self._clock = clock

    async def send_due(self) -> int:
        """Tell staff about every alert not yet told; returns how many were."""
        told = 0
        for alert in await self.book.claim_due(lease=CLAIM):
            now = self._clock()
            # An alert about the service is raised once per topic already; the cooldown is per conversation.
            if alert.topic is None and await self.book.told_since(alert.phone, now - self._cooldown):
                # Staff heard about this conversation a moment ago and it is still flagged in the console.
                await self.book.mark(alert, notified_at=now, skipped=True)
                continue
            if self._numbers and alert.texted_at is None:
                await self._text(alert)
                await self.book.mark(alert, texted_at=now)
            if self._webhook_url and alert.posted_at is None:
                if not await self._post(alert):
                    if now - alert.created_at < GIVE_UP:
                        await self.book.release(alert)  # the next pass tries the webhook again
                        continue
                    log.error("gave up on the staff alert webhook for alert %s", alert.id)
                else:
                    await self.book.mark(alert, posted_at=now)
            await self.book.mark(alert, notified_at=now)
            told += 1
        return told

    async def _text(self, alert: StaffAlert) -> None:
        if alert.topic is not None:
            body = f"{self._business_name} assistant: {alert.reason}."
        else:
            body = f"{self._business_name} assistant: {alert.phone} needs a person ({alert.reason})."
        for number in self._numbers:
            message = await self._sender.prepare(phone=number, text=body, kind=STAFF_ALERT)
            await self._sender.deliver(await self._messages.add_outbound(message))

    async def _post(self, alert: StaffAlert) -> bool:
        assert self._http is not None and self._webhook_url is not None
        body = json.dumps(
            {
                "event": "staff_alert" if alert.topic is None else "service_alert",
                "id": alert.id,
                "phone": alert.phone or None,
                "topic": alert.topic,
                "reason": alert.reason,
                "raised_at": alert.created_at.isoformat(),
            }
        ).encode()
        timestamp = str(int(self._clock().timestamp()))
        signature = hmac.new(self._secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Assistant-Timestamp": timestamp,
            "X-Assistant-Signature": f"sha256={signature}",
        }
        try:
            response = await self._http.post(self._webhook_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning(
                "staff alert webhook unreachable for %s: %s", mask_phone(alert.phone), type(exc).__name__
            )
            return False
        if not response.is_success:
            log.warning(
                "staff alert webhook answered HTTP %s for %s", response.status_code, mask_phone(alert.phone)
            )
        return response.is_success
