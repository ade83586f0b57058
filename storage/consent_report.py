"""The consent ledger as the console reports it: current states, entries newest first, and their counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.tables import Consent, ConsentEvent, Customer


@dataclass(frozen=True, slots=True)
class ConsentLine:
    """One number's current state toward one sender, or one ledger entry, with the customer's name."""

    phone: str
    name: str | None
    scope: str
    what: str  # a state (opted_in | opted_out) or an event (opt_out | opt_in | help)
    source: str
    matched: str
    raw_text: str
    confirmed: bool  # a ledger entry whose confirmation text went out
    at: datetime


class ConsentReport:
    """Reads the consent tables for people rather than for an export."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def counts(self) -> dict[str, int]:
        """Numbers in each state, and ledger entries of each event."""
        async with self._sessions() as session:
            states = await session.execute(select(Consent.state, func.count()).group_by(Consent.state))
            events = await session.execute(
                select(ConsentEvent.event, func.count()).group_by(ConsentEvent.event)
            )
            return {what: count for what, count in [*states, *events]}

    async def states(self, *, limit: int = 500) -> list[ConsentLine]:
        """Each number's current state, opted out first, then the latest change first."""
        query = (
            select(Consent, Customer.name)
            .outerjoin(Customer, Customer.phone == Consent.phone)
            .order_by((Consent.state == "opted_out").desc(), Consent.updated_at.desc(), Consent.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            return [
                ConsentLine(
                    phone=row.phone,
                    name=name,
                    scope=row.scope,
                    what=row.state,
                    source=row.source,
                    matched=row.keyword,
                    raw_text="",
                    confirmed=False,
                    at=row.updated_at,
                )
                for row, name in await session.execute(query)
            ]

    async def entries(self, *, limit: int = 500) -> list[ConsentLine]:
        """The latest ledger entries, newest first."""
        query = (
            select(ConsentEvent, Customer.name)
            .outerjoin(Customer, Customer.phone == ConsentEvent.phone)
            .order_by(ConsentEvent.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            return [
                ConsentLine(
                    phone=row.phone,
                    name=name,
                    scope=row.scope,
                    what=row.event,
                    source=row.source,
                    matched=row.matched,
                    raw_text=row.raw_text,
                    confirmed=row.confirmation_sid is not None,
                    at=row.created_at,
                )
                for row, name in await session.execute(query)
            ]
