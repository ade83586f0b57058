"""The owner's view for today and the last 7 days: texts, delivery, spend against the budget, bookings,
who waits for staff, and how the LLM did; read from the record, each day the business's own."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from assistant.budget import Budget, BudgetState, midnight
from assistant.delivery_errors import ErrorHelp, explain
from storage.activity import Activity
from storage.clock import Clock
from storage.deliveries import Deliveries, DeliveryRate
from storage.outbox import Outbox
from storage.spend import LlmStats, Spend, SpendBook

DAYS = 7


@dataclass(frozen=True, slots=True)
class Day:
    """One business day's figures."""

    day: date
    inbound: int
    outbound: int
    delivery: DeliveryRate
    spend: Spend
    bookings: Counter[str]
    llm: LlmStats


@dataclass(frozen=True, slots=True)
class ErrorCount:
    help: ErrorHelp
    texts: int


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything the overview page shows; `days` oldest first, today last."""

    days: list[Day]
    budget: BudgetState
    recent: DeliveryRate  # the last 100 texts with a final status
    errors: list[ErrorCount]  # over the 7 days, most frequent first
    waiting_for_staff: int
    held: int  # texts the budget holds back now

    @property
    def today(self) -> Day:
        return self.days[-1]

    # The 7 days together: their days' figures added up, not counted again.
    @property
    def week_inbound(self) -> int:
        return sum(day.inbound for day in self.days)

    @property
    def week_outbound(self) -> int:
        return sum(day.outbound for day in self.days)

    @property
    def week_bookings(self) -> Counter[str]:
        return sum((day.bookings for day in self.days), Counter())


class OverviewReader:
    """Builds the overview from the stores (a dozen small queries per day shown)."""

    def __init__(
        self,
        *,
        activity: Activity,
        deliveries: Deliveries,
        spend: SpendBook,
        budget: Budget,
        outbox: Outbox,
        zone: ZoneInfo,
        clock: Clock,
    ) -> None:
        self._activity = activity
        self._deliveries = deliveries
        self._spend = spend
        self._budget = budget
        self._outbox = outbox
        self._zone = zone
        self._clock = clock

    async def read(self) -> Overview:
        today = self._clock().astimezone(self._zone).date()
        days = [await self._day(today - timedelta(days=back)) for back in range(DAYS - 1, -1, -1)]
        start, end = midnight(days[0].day, self._zone), midnight(today + timedelta(days=1), self._zone)
        errors = await self._deliveries.errors(start, end)
        return Overview(
            days=days,
            budget=await self._budget.state(),
            recent=await self._deliveries.recent(),
            errors=[ErrorCount(explain(code), texts) for code, texts in errors],
            waiting_for_staff=await self._activity.waiting_for_staff(),
            held=await self._outbox.held_count(),
        )

    async def _day(self, day: date) -> Day:
        start, end = midnight(day, self._zone), midnight(day + timedelta(days=1), self._zone)
        texts = await self._activity.texts(start, end)
        return Day(
            day=day,
            inbound=texts["inbound"],
            outbound=texts["outbound"],
            delivery=await self._deliveries.rate(start, end),
            spend=await self._spend.spent(start, end),
            bookings=await self._activity.bookings(start, end),
            llm=await self._spend.llm_stats(start, end),
        )
