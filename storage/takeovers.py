"""Conversation takeovers: staff hold a number, and the bot stays quiet for it until released or expired."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.clock import Clock
from storage.staff_tables import Takeover
from storage.tables import Customer


def active_at(now: datetime) -> ColumnElement[bool]:
    """The takeovers holding their number at `now`: not released, and not expired."""
    return (Takeover.released_at.is_(None)) & or_(Takeover.expires_at.is_(None), Takeover.expires_at > now)


class TakeoverBook:
    """Starts, reads and ends takeovers; SQL is the truth, so every worker process sees the same."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, clock: Clock, minutes: int) -> None:
        self._sessions = sessions
        self._clock = clock
        self._minutes = minutes  # 0: until released

    async def active(self, phone: str) -> Takeover | None:
        """The takeover holding this number now, if any."""
        async with self._sessions() as session:
            return await session.scalar(
                select(Takeover)
                .where(Takeover.phone == phone, active_at(self._clock()))
                .order_by(Takeover.id.desc())
                .limit(1)
            )

    async def active_phones(self) -> dict[str, Takeover]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Takeover).where(active_at(self._clock())).order_by(Takeover.id)
            )
            return {row.phone: row for row in rows}

    async def take(self, phone: str, staff: str) -> Takeover:
        """Hold this number for `staff` (renewing the time limit of a takeover already running)."""
        now = self._clock()
        expires = now + timedelta(minutes=self._minutes) if self._minutes else None
        async with self._sessions() as session, session.begin():
            current = await session.scalar(
                select(Takeover)
                .where(Takeover.phone == phone, active_at(now))
                .order_by(Takeover.id.desc())
                .limit(1)
            )
            if current is None:
                current = Takeover(phone=phone, staff=staff, started_at=now)
                session.add(current)
            current.staff, current.expires_at = staff, expires
            # Somebody is on it now, so it no longer waits for staff in the list.
            await session.execute(
                update(Customer).where(Customer.phone == phone).values(needs_staff=False, updated_at=now)
            )
        return current

    async def release(self, phone: str, staff: str) -> bool:
        """Hand the number back to the bot; False when nobody held it."""
        now = self._clock()
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(Takeover)
                .where(Takeover.phone == phone, active_at(now))
                .values(released_at=now, released_by=staff)
            )
            return result.rowcount > 0
