"""Customers: created on first contact, read as plain values for the prompt."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.clock import Clock
from storage.staff_tables import StaffAlert
from storage.tables import Customer


async def get_or_create_customer(session: AsyncSession, phone: str) -> Customer:
    """The customer with this phone, created (and flushed) when new; safe against a concurrent create."""
    customer = await session.scalar(select(Customer).where(Customer.phone == phone))
    if customer is not None:
        return customer
    try:
        async with session.begin_nested():
            customer = Customer(phone=phone)
            session.add(customer)
    except IntegrityError:
        customer = await session.scalar(select(Customer).where(Customer.phone == phone))
        if customer is None:
            raise
    return customer


class CustomerDirectory:
    """Looks customers up and keeps their staff flags."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def by_phone(self, phone: str) -> Customer | None:
        async with self._sessions() as session:
            return await session.scalar(select(Customer).where(Customer.phone == phone))

    async def ensure(self, phone: str) -> Customer:
        async with self._sessions() as session:
            customer = await get_or_create_customer(session, phone)
            await session.commit()
            return customer

    async def upsert(self, records: list[dict[str, str | None]]) -> tuple[int, int]:
        """Create or update customers by phone in one transaction; returns (created, updated)."""
        created = updated = 0
        async with self._sessions() as session, session.begin():
            for record in records:
                customer = await session.scalar(select(Customer).where(Customer.phone == record["phone"]))
                if customer is None:
                    customer = Customer(phone=record["phone"])
                    session.add(customer)
                    created += 1
                else:
                    updated += 1
                for field in ("name", "tier", "timezone"):
                    if record.get(field):
                        setattr(customer, field, record[field])
        return created, updated

    async def flag_for_staff(self, phone: str, reason: str) -> None:
        """Mark the conversation as needing a person, and record the alert that tells staff, together."""
        now = self._clock()
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Customer)
                .where(Customer.phone == phone)
                .values(needs_staff=True, needs_staff_reason=reason[:200], updated_at=now)
            )
            session.add(StaffAlert(phone=phone, reason=reason[:200], created_at=now))
