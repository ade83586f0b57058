"""The staff console's list of conversations: one row per number, needing staff first, then newest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.notices import APART_KINDS
from storage.tables import Consent, Customer, Message


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """What the list shows for one number."""

    phone: str
    name: str | None
    needs_staff: bool
    needs_staff_reason: str | None
    last_body: str
    last_direction: str
    last_status: str
    last_at: datetime
    consent: str  # opted_in | opted_out


class Inbox:
    """Reads conversations across messages, customers and consent."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, scope: str) -> None:
        self._sessions = sessions
        self._scope = scope

    async def conversations(self, limit: int = 200) -> list[ConversationSummary]:
        # Chat notifications and staff alerts are no customer's conversation: they have their own page.
        last = (
            select(Message.phone, func.max(Message.id).label("last_id"))
            .where(Message.kind.not_in(APART_KINDS))
            .group_by(Message.phone)
            .subquery()
        )
        flagged = func.coalesce(Customer.needs_staff, False)
        query = (
            select(
                Message, Customer.name, flagged.label("flagged"), Customer.needs_staff_reason, Consent.state
            )
            .join(last, Message.id == last.c.last_id)
            .outerjoin(Customer, Customer.phone == Message.phone)
            .outerjoin(Consent, (Consent.phone == Message.phone) & (Consent.scope == self._scope))
            .order_by(flagged.desc(), Message.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = await session.execute(query)
            return [
                ConversationSummary(
                    phone=message.phone,
                    name=name,
                    needs_staff=bool(needs_staff),
                    needs_staff_reason=reason,
                    last_body=message.body,
                    last_direction=message.direction,
                    last_status=message.status,
                    last_at=message.created_at,
                    consent=state or "opted_in",
                )
                for message, name, needs_staff, reason, state in rows
            ]

    async def sender_for(self, phone: str) -> str | None:
        """The business number (or service) this customer last texted, to answer from the same one."""
        async with self._sessions() as session:
            return await session.scalar(
                select(Message.to_number)
                .where(Message.phone == phone, Message.direction == "inbound")
                .order_by(Message.id.desc())
                .limit(1)
            )
