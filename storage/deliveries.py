"""How outbound texts fared: delivery rates over final statuses, and the error codes carriers gave."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.tables import Message

DELIVERED = ("delivered", "read")
NOT_DELIVERED = ("undelivered", "failed")
NEVER_SENT = ("pending", "submitting", "held", "suppressed", "canceled")  # not given to the gateway (yet)


@dataclass(frozen=True, slots=True)
class DeliveryRate:
    """Texts handed over whose fate is known: how many arrived and how many didn't."""

    delivered: int = 0
    failed: int = 0

    @property
    def final(self) -> int:
        return self.delivered + self.failed

    @property
    def rate(self) -> float | None:
        """Delivered over final statuses; None before any text has one."""
        return self.delivered / self.final if self.final else None


class Deliveries:
    """Reads delivery outcomes from the messages' statuses (texts never handed over don't count)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def rate(self, start: datetime, end: datetime) -> DeliveryRate:
        """Of the texts written from `start` (inclusive) to `end` (exclusive)."""
        query = (
            select(Message.status, func.count())
            .where(
                Message.direction == "outbound",
                Message.created_at >= start,
                Message.created_at < end,
                Message.status.in_((*DELIVERED, *NOT_DELIVERED)),
            )
            .group_by(Message.status)
        )
        async with self._engine.connect() as connection:
            counts = dict((await connection.execute(query)).all())
        return _rate(counts)

    async def recent(self, sends: int = 100) -> DeliveryRate:
        """Of the last `sends` texts given to the gateway (those still without a final status left out)."""
        last = (
            select(Message.status)
            .where(Message.direction == "outbound", Message.status.not_in(NEVER_SENT))
            .order_by(Message.id.desc())
            .limit(sends)
            .subquery()
        )
        query = select(last.c.status, func.count()).group_by(last.c.status)
        async with self._engine.connect() as connection:
            counts = dict((await connection.execute(query)).all())
        return _rate(counts)

    async def errors(self, start: datetime, end: datetime) -> list[tuple[int, int]]:
        """(error code, texts) for texts written in the period that carry one, most frequent first."""
        query = (
            select(Message.error_code, func.count().label("texts"))
            .where(
                Message.direction == "outbound",
                Message.error_code.is_not(None),
                Message.created_at >= start,
                Message.created_at < end,
            )
            .group_by(Message.error_code)
            .order_by(func.count().desc(), Message.error_code)
        )
        async with self._engine.connect() as connection:
            return [(int(code), int(texts)) for code, texts in (await connection.execute(query)).all()]


def _rate(counts: dict[str, int]) -> DeliveryRate:
    return DeliveryRate(
        delivered=sum(counts.get(status, 0) for status in DELIVERED),
        failed=sum(counts.get(status, 0) for status in NOT_DELIVERED),
    )
