"""Whether a claimed text may go now by the service's own rules: a spent budget holds it, and a proactive
text keeps quiet hours where the recipient is, even when it goes later than planned (released by the
budget at midnight, or retried)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from assistant.budget import Budget
from assistant.quiet_hours import Window, quiet_until
from assistant.recipient_zone import recipient_zone
from assistant.text_kinds import PROACTIVE
from storage.clock import Clock
from storage.tables import Message

QUIET = "held: quiet hours where the recipient is"


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a text waits, and until when (None: until the budget allows); `drop`: it would only go late."""

    reason: str
    until: datetime | None = None
    drop: bool = False


class SendRules:
    """The budget and quiet hours, asked right before a text goes."""

    def __init__(self, budget: Budget, *, quiet_hours: Window | None, zone: ZoneInfo, clock: Clock) -> None:
        self._budget = budget
        self._quiet_hours = quiet_hours
        self._zone = zone  # the business's, for recipients whose own zone is not known
        self._clock = clock

    async def hold(self, message: Message) -> Hold | None:
        """Why this text must wait now, or None when it may go."""
        if reason := await self._budget.hold_reason(message.kind):
            return Hold(reason)
        if message.kind not in PROACTIVE or (until := self._quiet_until(message)) is None:
            return None
        if (before := message.details.get("send_before")) and datetime.fromisoformat(before) <= until:
            return Hold("its moment passes in the recipient's quiet hours", until, drop=True)
        return Hold(QUIET, until)

    async def budget_allows(self, kind: str) -> bool:
        """Whether the budget lets texts of this kind go now (what it held is then released)."""
        return await self._budget.hold_reason(kind) is None

    def _quiet_until(self, message: Message) -> datetime | None:
        """When quiet hours end for this text's recipient, if they are in them now."""
        now = self._clock()
        zone = recipient_zone(message.to_number, message.details.get("timezone"), self._zone, now)
        return quiet_until(now, zone, self._quiet_hours)
