"""The staff alerts waiting to be told, claimed by one worker at a time, each channel done once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.clock import Clock
from storage.staff_tables import StaffAlert


class StaffAlertBook:
    """Reads and settles the alerts `flag_for_staff` and the outbox record."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    async def claim_due(self, *, lease: timedelta, limit: int = 50) -> list[StaffAlert]:
        """Alerts not yet told and not being told: this caller's for `lease`, oldest first."""
        now = self._clock()
        free = or_(StaffAlert.claimed_until.is_(None), StaffAlert.claimed_until < now)
        async with self._engine.begin() as connection:
            ids = list(
                (
                    await connection.execute(
                        select(StaffAlert.id)
                        .where(StaffAlert.notified_at.is_(None), free)
                        .order_by(StaffAlert.id)
                        .limit(limit)
                    )
                ).scalars()
            )
            if not ids:
                return []
            # Claimed with the condition repeated, so two workers reading the same rows can't both win one.
            rows = (
                await connection.execute(
                    update(StaffAlert)
                    .where(StaffAlert.id.in_(ids), StaffAlert.notified_at.is_(None), free)
                    .values(claimed_until=now + lease)
                    .returning(*StaffAlert.__table__.columns)
                )
            ).all()
        return sorted((StaffAlert(**dict(row._mapping)) for row in rows), key=lambda alert: alert.id)

    async def raise_once(self, topic: str, reason: str) -> bool:
        """Record an alert about the service itself, once per topic however many workers raise it."""
        async with self._engine.begin() as connection:
            known = await connection.scalar(select(StaffAlert.id).where(StaffAlert.topic == topic))
            if known is not None:
                return False
            try:
                async with connection.begin_nested():
                    row = {"phone": "", "topic": topic, "reason": reason[:200], "created_at": self._clock()}
                    await connection.execute(insert(StaffAlert).values(**row))
            except IntegrityError:  # another worker raised it a moment ago
                return False
        return True

    async def told_since(self, phone: str, since: datetime) -> bool:
        """Whether staff were told about this number since then (the cooldown)."""
        query = select(StaffAlert.id).where(
            StaffAlert.phone == phone, StaffAlert.notified_at >= since, StaffAlert.skipped.is_(False)
        )
        async with self._engine.connect() as connection:
            return (await connection.execute(query.limit(1))).first() is not None

    async def mark(self, alert: StaffAlert, **values: Any) -> None:
        """Record a channel done (`texted_at`, `posted_at`), or the alert settled (`notified_at`)."""
        async with self._engine.begin() as connection:
            await connection.execute(update(StaffAlert).where(StaffAlert.id == alert.id).values(**values))
        for name, value in values.items():
            setattr(alert, name, value)

    async def release(self, alert: StaffAlert) -> None:
        """Give the alert back, to be tried again at the next pass."""
        await self.mark(alert, claimed_until=None)
