"""Watching the service for what staff must hear about: budgets crossing 80 % and 100 %, and deliveries
failing (under 95 % of the last 100 texts with a final status). Each raises one staff alert per topic."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from assistant.budget import WARN_AT, Budget, PeriodSpend
from storage.clock import Clock
from storage.deliveries import Deliveries
from storage.staff_alerts import StaffAlertBook

log = logging.getLogger(__name__)

DELIVERY_TARGET = 0.95
RECENT_SENDS = 100
FEWEST_FINAL = 20  # below this many known outcomes, one failure says little


class ServiceWatch:
    """Raises the service's staff alerts; run by each worker's sweep (an alert is raised once anywhere)."""

    def __init__(
        self, budget: Budget, deliveries: Deliveries, book: StaffAlertBook, *, zone: ZoneInfo, clock: Clock
    ) -> None:
        self._budget = budget
        self._deliveries = deliveries
        self._book = book
        self._zone = zone
        self._clock = clock

    async def check(self) -> None:
        if self._budget.limits.any:
            for period in (await self._budget.state()).periods:
                await self._check_budget(period)
        recent = await self._deliveries.recent(RECENT_SENDS)
        if recent.rate is not None and recent.final >= FEWEST_FINAL and recent.rate < DELIVERY_TARGET:
            day = self._clock().astimezone(self._zone).date()
            reason = (
                f"only {recent.rate:.0%} of the last {recent.final} texts with a known outcome were "
                f"delivered ({recent.failed} failed); the console's overview lists the error codes"
            )
            if await self._book.raise_once(f"delivery:{day.isoformat()}", reason):
                log.warning("delivery rate alert: %s", reason)

    async def _check_budget(self, period: PeriodSpend) -> None:
        share = period.share
        if share is None or share < WARN_AT:
            return
        which = period.named
        spent = f"${period.spent.total:.2f} of ${period.limit:.2f}"
        if share >= 1:
            held = "notifications, digests and reminders are held"
            if self._budget.limits.hard_stop:
                held += ", and replies too (BUDGET_HARD_STOP)"
            topic, reason = "100", f"{which} budget is spent ({spent}): {held} until it allows"
        else:
            topic, reason = "80", f"{share:.0%} of {which} budget is spent ({spent})"
        if await self._book.raise_once(f"budget:{period.period}:{period.starts.isoformat()}:{topic}", reason):
            log.warning("budget alert: %s", reason)
