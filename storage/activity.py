"""What the assistant did in a period: texts in and out, bookings its replies made, who waits for staff."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.tables import Customer, Message

# A done action in a reply's record, and what it did to a booking.
BOOKING_ACTIONS = {"SCHEDULE": "booked", "UPDATE": "moved", "CANCEL": "cancelled"}


class Activity:
    """Counts for the console's overview, each one query over an indexed time range."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def texts(self, start: datetime, end: datetime) -> dict[str, int]:
        """Texts in and out written in the period: {"inbound": n, "outbound": m} (held and suppressed
        texts included: they were written, if not sent)."""
        query = (
            select(Message.direction, func.count())
            .where(Message.created_at >= start, Message.created_at < end)
            .group_by(Message.direction)
        )
        async with self._engine.connect() as connection:
            counts = dict((await connection.execute(query)).all())
        return {"inbound": counts.get("inbound", 0), "outbound": counts.get("outbound", 0)}

    async def bookings(self, start: datetime, end: datetime) -> Counter[str]:
        """Appointments the assistant's replies booked, moved and cancelled in the period."""
        query = select(Message.details).where(
            Message.direction == "outbound",
            Message.kind == "reply",
            Message.created_at >= start,
            Message.created_at < end,
        )
        done: Counter[str] = Counter({verb: 0 for verb in BOOKING_ACTIONS.values()})
        async with self._engine.connect() as connection:
            for (details,) in await connection.execute(query):
                for action in (details or {}).get("actions", []):
                    if action.get("ok") and action.get("name") in BOOKING_ACTIONS:
                        done[BOOKING_ACTIONS[action["name"]]] += 1
        return done

    async def waiting_for_staff(self) -> int:
        """Conversations flagged for a person (a handoff, a held conversation, a text that could not go)."""
        query = select(func.count()).select_from(Customer).where(Customer.needs_staff.is_(True))
        async with self._engine.connect() as connection:
            return int(await connection.scalar(query) or 0)
