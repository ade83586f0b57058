"""The notification policy: whether a chat message may be texted to its recipient now, and why (not)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from assistant.quiet_hours import Window, quiet_until
from assistant.recipient_zone import recipient_zone
from assistant.settings import Settings
from storage.chat_tables import ChatUser
from storage.consent import ConsentBook
from storage.presence import Presence

# The fixed vocabulary of reasons, in the order the policy checks them; "send_failed" is the send path's.
Reason = Literal[
    "not_opted_in",
    "no_phone",
    "phone_unverified",
    "opted_out",
    "recipient_online",
    "quiet_hours",
    "cooldown",
    "hourly_cap",
    "daily_cap",
    "sent",
    "send_failed",
    "budget_spent",  # the text is staged and waits for the budget to allow it
]
# sent: texted now (reason budget_spent: staged now, texted once the budget allows); held, deferred:
# owed a text later (a digest); skipped: none; failed: the gateway said no.
Status = Literal["sent", "held", "deferred", "skipped", "failed"]
HOUR, DAY = timedelta(hours=1), timedelta(days=1)

SentTimes = Callable[[str, datetime], Awaitable[Sequence[datetime]]]


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer: a status, a reason from `Reason`, and when a held text may go."""

    status: str
    reason: str
    send_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """How often and when a user may be texted (all from settings)."""

    cooldown: timedelta
    hourly_cap: int
    daily_cap: int
    quiet_hours: Window | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            cooldown=timedelta(seconds=settings.notify_cooldown_seconds),
            hourly_cap=settings.notify_hourly_cap,
            daily_cap=settings.notify_daily_cap,
            quiet_hours=settings.quiet_window,
        )


def cap_release(sent: Sequence[datetime], now: datetime, window: timedelta, cap: int) -> datetime | None:
    """When the count of texts in the rolling window drops below `cap` again, or None if it is below now."""
    recent = sorted(moment for moment in sent if moment > now - window)
    if len(recent) < cap:
        return None
    return recent[len(recent) - cap] + window


class NotificationPolicy:
    """Decides one text: consent first, then presence, then the time of day, then the rate limits."""

    def __init__(
        self,
        *,
        limits: Limits,
        consent: ConsentBook,
        presence: Presence,
        sent_times: SentTimes,
        default_zone: ZoneInfo,
    ) -> None:
        self._limits = limits
        self._consent = consent
        self._presence = presence
        self._sent_times = sent_times  # when texts went to a user, since a moment (notifications and digests)
        self._default_zone = default_zone

    async def decide(self, user_id: str, user: ChatUser | None, now: datetime) -> Decision:
        """May `user` be texted about a chat message at `now`? Reads top to bottom; the first rule wins."""
        if user is None or not user.sms_opt_in:
            return Decision("skipped", "not_opted_in")
        if not user.phone:
            return Decision("skipped", "no_phone")
        if user.phone_verified_at is None:
            return Decision("skipped", "phone_unverified")
        if await self._consent.is_opted_out(user.phone):
            return Decision("skipped", "opted_out")
        if await self._presence.is_online(user_id, now):
            return Decision("skipped", "recipient_online")
        # Quiet hours come before the rate limits: their end is the binding time, and by then a cooldown
        # has long passed. Everything held is re-decided when its time comes, so a later limit still holds.
        zone = recipient_zone(user.phone, user.timezone, self._default_zone, now)
        if (morning := quiet_until(now, zone, self._limits.quiet_hours)) is not None:
            return Decision("deferred", "quiet_hours", morning)
        sent = await self._sent_times(user_id, now - DAY)
        if sent and now < max(sent) + self._limits.cooldown:
            return Decision("held", "cooldown", max(sent) + self._limits.cooldown)
        if (at := cap_release(sent, now, HOUR, self._limits.hourly_cap)) is not None:
            return Decision("held", "hourly_cap", at)
        if (at := cap_release(sent, now, DAY, self._limits.daily_cap)) is not None:
            return Decision("held", "daily_cap", at)
        return Decision("sent", "sent")
