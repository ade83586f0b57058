"""The staff console's customer list: who they are, their consent, and their last text, newest first."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.notices import APART_KINDS
from storage.tables import Consent, Customer, Message

NOT_DIGITS = re.compile(r"\D")


@dataclass(frozen=True, slots=True)
class CustomerRow:
    """What the list shows for one customer."""

    phone: str
    name: str | None
    tier: str
    timezone: str | None
    consent: str  # opted_in | opted_out
    needs_staff: bool
    last_at: datetime | None
    last_direction: str | None  # inbound | outbound; None when nothing was texted yet
    since: datetime


class CustomerList:
    """Reads customers a page at a time, optionally those whose name or number matches a search."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, scope: str) -> None:
        self._sessions = sessions
        self._scope = scope

    async def page(
        self, search: str = "", *, limit: int = 50, offset: int = 0
    ) -> tuple[list[CustomerRow], int]:
        """One page of customers, those texting most recently first, and how many match in all."""
        matches = _matching(search)
        last = (
            select(Message.phone, func.max(Message.id).label("last_id"))
            .where(Message.kind.not_in(APART_KINDS))
            .group_by(Message.phone)
            .subquery()
        )
        query = (
            select(Customer, Message.created_at, Message.direction, Consent.state)
            .outerjoin(last, last.c.phone == Customer.phone)
            .outerjoin(Message, Message.id == last.c.last_id)
            .outerjoin(Consent, (Consent.phone == Customer.phone) & (Consent.scope == self._scope))
            .where(matches)
            .order_by(last.c.last_id.is_(None), last.c.last_id.desc(), Customer.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self._sessions() as session:
            total = int(await session.scalar(select(func.count(Customer.id)).where(matches)) or 0)
            rows = await session.execute(query)
            return [
                CustomerRow(
                    phone=customer.phone,
                    name=customer.name,
                    tier=customer.tier,
                    timezone=customer.timezone,
                    consent=state or "opted_in",
                    needs_staff=customer.needs_staff,
                    last_at=last_at,
                    last_direction=direction,
                    since=customer.created_at,
                )
                for customer, last_at, direction, state in rows
            ], total


def _matching(search: str) -> ColumnElement[bool]:
    """Customers whose name contains the search, or whose number contains its digits."""
    words = search.strip()
    if not words:
        return Customer.id.is_not(None)
    wanted = [func.lower(Customer.name).contains(words.casefold(), autoescape=True)]
    digits = NOT_DIGITS.sub("", words)
    if digits:
        wanted.append(Customer.phone.contains(digits, autoescape=True))
    return or_(*wanted)
