"""The spending budget: today's and this month's spend against DAILY_BUDGET and MONTHLY_BUDGET.

Days and months are the business's. Once a budget is spent, proactive texts (notifications, digests,
reminders) are held; replies to customers go on unless BUDGET_HARD_STOP is set; an opt-out confirmation and
an alert to staff are never held. Held texts go out by themselves once the budget allows (the next day or
month, or a raised budget). The figures are at most `ttl` old, so a burst may pass a budget by a few texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from assistant.text_kinds import NEVER_HELD, PROACTIVE
from storage.clock import Clock
from storage.spend import Spend, SpendBook

WARN_AT = 0.8  # staff are told when this share of a budget is spent
Level = Literal["ok", "warning", "exceeded"]
Period = Literal["daily", "monthly"]


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    """The budgets in USD (None: no limit for that period), and whether replies stop at 100 % too."""

    daily: float | None = None
    monthly: float | None = None
    hard_stop: bool = False

    @property
    def any(self) -> bool:
        return self.daily is not None or self.monthly is not None


@dataclass(frozen=True, slots=True)
class PeriodSpend:
    """One budget period: what was spent in it, and its limit."""

    period: Period
    starts: date  # the business's day, or the first of its month
    spent: Spend
    limit: float | None

    @property
    def share(self) -> float | None:
        return self.spent.total / self.limit if self.limit else None

    @property
    def named(self) -> str:
        """The period as staff read it: "today's" or "this month's" (budget)."""
        return "today's" if self.period == "daily" else "this month's"

    @property
    def level(self) -> Level:
        share = self.share
        if share is None or share < WARN_AT:
            return "ok"
        return "warning" if share < 1 else "exceeded"


@dataclass(frozen=True, slots=True)
class BudgetState:
    """Today's and this month's spend against their budgets, as of `at`."""

    at: datetime
    today: PeriodSpend
    month: PeriodSpend
    hard_stop: bool

    @property
    def periods(self) -> tuple[PeriodSpend, PeriodSpend]:
        return self.today, self.month

    @property
    def exceeded(self) -> PeriodSpend | None:
        """The period whose budget is spent (today's first), if any."""
        return next((period for period in self.periods if period.level == "exceeded"), None)

    def hold_reason(self, kind: str) -> str | None:
        """Why a text of this kind must wait now, or None when it may go."""
        spent = self.exceeded
        if spent is None or kind in NEVER_HELD or (kind not in PROACTIVE and not self.hard_stop):
            return None
        return f"held: {spent.named} budget of ${spent.limit:.2f} is spent (${spent.spent.total:.2f})"


class Budget:
    """Reads what was spent against the budgets, for the sender, the alerts, the console and /metrics."""

    def __init__(
        self,
        book: SpendBook,
        limits: BudgetLimits,
        *,
        zone: ZoneInfo,
        clock: Clock,
        ttl: timedelta = timedelta(seconds=5),
    ) -> None:
        self._book = book
        self.limits = limits
        self._zone = zone
        self._clock = clock
        self._ttl = ttl
        self._state: BudgetState | None = None
        # The month's earlier days change little (late prices from Twilio): re-read every few minutes.
        self._earlier: tuple[date, datetime, Spend] | None = None

    async def state(self) -> BudgetState:
        """The budgets as of now, at most `ttl` old."""
        now = self._clock()
        if self._state is not None and now - self._state.at < self._ttl:
            return self._state
        today = now.astimezone(self._zone).date()
        tomorrow = today + timedelta(days=1)
        spent_today = await self._book.spent(midnight(today, self._zone), midnight(tomorrow, self._zone))
        month_first = today.replace(day=1)
        self._state = BudgetState(
            at=now,
            today=PeriodSpend("daily", today, spent_today, self.limits.daily),
            month=PeriodSpend(
                "monthly",
                month_first,
                spent_today + await self._earlier_days(today, now),
                self.limits.monthly,
            ),
            hard_stop=self.limits.hard_stop,
        )
        return self._state

    async def hold_reason(self, kind: str) -> str | None:
        """Why a text of `kind` must wait now, or None; no query when no budget could hold it."""
        if not self.limits.any or kind in NEVER_HELD or (kind not in PROACTIVE and not self.limits.hard_stop):
            return None
        return (await self.state()).hold_reason(kind)

    async def _earlier_days(self, today: date, now: datetime) -> Spend:
        """What this month spent before today."""
        if self._earlier is not None:
            day, read_at, spend = self._earlier
            if day == today and now - read_at < timedelta(minutes=5):
                return spend
        first = today.replace(day=1)
        spend = (
            await self._book.spent(midnight(first, self._zone), midnight(today, self._zone))
            if first < today
            else Spend()
        )
        self._earlier = (today, now, spend)
        return spend


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """Where a business day begins (its budget's day, the overview's day)."""
    return datetime.combine(day, time(0), tzinfo=zone)
