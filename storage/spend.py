"""What the service spends: each LLM call's tokens and cost, and the totals of texts and calls per period.

A text costs what Twilio reports for it (or the price table's estimate until then) from the moment it is
handed over (`sent_at`); a text never handed over cost nothing. An LLM call costs its tokens at the
configured price per million.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Insert, and_, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.tables import LlmCall, Message


@dataclass(frozen=True, slots=True)
class LlmUse:
    """One ask of the language model, as recorded: who answered, how long it took and what it used."""

    model: str
    outcome: str  # answered | fallback | offline
    latency_ms: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def row(self, *, phone: str | None, reply_id: int | None, at: datetime) -> dict[str, object]:
        return {
            "phone": phone,
            "reply_id": reply_id,
            "model": self.model,
            "outcome": self.outcome,
            "latency_ms": self.latency_ms,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost,
            "created_at": at,
        }


@dataclass(frozen=True, slots=True)
class Spend:
    """USD spent in one period, on texts and on the LLM."""

    sms: float = 0.0
    llm: float = 0.0

    @property
    def total(self) -> float:
        return self.sms + self.llm

    def __add__(self, other: Spend) -> Spend:
        return Spend(self.sms + other.sms, self.llm + other.llm)


@dataclass(frozen=True, slots=True)
class LlmStats:
    """How the LLM did in one period: calls, how many fell back to the offline engine, latency."""

    calls: int
    fallbacks: int
    latencies_ms: list[int]  # of the calls the LLM answered, lowest first

    @property
    def fallback_rate(self) -> float | None:
        return self.fallbacks / self.calls if self.calls else None

    def latency_percentile(self, share: float) -> int | None:
        if not self.latencies_ms:
            return None
        return self.latencies_ms[min(len(self.latencies_ms) - 1, int(share * len(self.latencies_ms)))]


@cache
def llm_insert() -> Insert:
    """The one statement that records LLM calls (a turn's close runs it in its own transaction)."""
    return insert(LlmCall)


class SpendBook:
    """Records LLM calls outside a turn (rehearsals) and adds up what texts and calls cost."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, use: LlmUse, *, at: datetime, phone: str | None = None) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(llm_insert(), [use.row(phone=phone, reply_id=None, at=at)])

    async def spent(self, start: datetime, end: datetime) -> Spend:
        """What was spent from `start` (inclusive) to `end` (exclusive)."""
        sms = select(func.coalesce(func.sum(Message.price), 0.0)).where(
            Message.direction == "outbound", Message.sent_at >= start, Message.sent_at < end
        )
        llm = select(func.coalesce(func.sum(LlmCall.cost), 0.0)).where(
            and_(LlmCall.created_at >= start, LlmCall.created_at < end)
        )
        async with self._engine.connect() as connection:
            return Spend(
                sms=float(await connection.scalar(sms) or 0.0), llm=float(await connection.scalar(llm) or 0.0)
            )

    async def llm_stats(self, start: datetime, end: datetime) -> LlmStats:
        """The period's LLM calls (rehearsals and the offline engine alone are not counted)."""
        query = select(LlmCall.outcome, LlmCall.latency_ms).where(
            LlmCall.created_at >= start,
            LlmCall.created_at < end,
            LlmCall.outcome.in_(("answered", "fallback")),
            LlmCall.phone.is_not(None),
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        answered = sorted(latency for outcome, latency in rows if outcome == "answered")
        return LlmStats(calls=len(rows), fallbacks=len(rows) - len(answered), latencies_ms=answered)
