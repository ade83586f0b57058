"""The chat log: posted chat messages, what is still owed a text, and every notification decision."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.chat_tables import ChatMessage, NotificationDecision
from storage.tables import Message

PENDING, NOTIFIED, DROPPED = "pending", "notified", "dropped"


class CoverageLost(Exception):
    """A held message changed (read, or taken by another digest) while a text about it was being written."""


class ChatLog:
    """Reads and writes chat messages and notification decisions; each write is one transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, message_id: int) -> ChatMessage | None:
        async with self._sessions() as session:
            return await session.get(ChatMessage, message_id)

    async def by_idempotency_key(self, key: str) -> ChatMessage | None:
        async with self._sessions() as session:
            return await session.scalar(select(ChatMessage).where(ChatMessage.idempotency_key == key))

    async def first_decision(self, chat_message_id: int) -> NotificationDecision | None:
        """The decision made when the message was posted."""
        async with self._sessions() as session:
            return await session.scalar(
                select(NotificationDecision)
                .where(NotificationDecision.chat_message_id == chat_message_id)
                .order_by(NotificationDecision.id)
                .limit(1)
            )

    async def decisions_for(self, user_id: str) -> list[NotificationDecision]:
        """Every decision about a user, oldest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(NotificationDecision)
                .where(NotificationDecision.user_id == user_id)
                .order_by(NotificationDecision.id)
            )
            return list(rows)

    async def sent_times(self, user_id: str, since: datetime) -> list[datetime]:
        """When notification texts went to this user since `since`, oldest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(NotificationDecision.created_at)
                .where(
                    NotificationDecision.user_id == user_id,
                    NotificationDecision.status == "sent",
                    NotificationDecision.created_at > since,
                )
                .order_by(NotificationDecision.created_at)
            )
            return list(rows)

    async def pending_for(self, recipient_id: str) -> list[ChatMessage]:
        """The recipient's held messages still owed a text, oldest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ChatMessage)
                .where(ChatMessage.recipient_id == recipient_id, ChatMessage.hold == PENDING)
                .order_by(ChatMessage.id)
            )
            return list(rows)

    async def due_recipients(self, now: datetime) -> list[str]:
        """Recipients with a held message whose time has come, longest waiting first."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(ChatMessage.recipient_id)
                .where(ChatMessage.hold == PENDING, ChatMessage.release_at <= now)
                .group_by(ChatMessage.recipient_id)
                .order_by(func.min(ChatMessage.id))
            )
            return [row.recipient_id for row in rows]

    async def record(
        self,
        decision: NotificationDecision,
        *,
        posted: ChatMessage | None = None,
        sms: Message | None = None,
        covered: Sequence[int] = (),
        dropped: Sequence[int] = (),
        release_at: datetime | None = None,
    ) -> NotificationDecision:
        """Write a decision with everything it implies, all or nothing.

        `posted` is the new chat message it is about; `sms` the text it sends; `covered` the held messages
        that text also covers; `dropped` held ones that no longer need one; `release_at` moves the rest on.
        """
        async with self._sessions() as session, session.begin():
            if posted is not None:
                session.add(posted)
                await session.flush()
                decision.chat_message_id = posted.id
            if sms is not None:
                session.add(sms)
                await session.flush()
                decision.message_id = sms.id
            session.add(decision)
            await session.flush()
            await self._settle(session, covered, NOTIFIED, decision.id)
            await self._settle(session, dropped, DROPPED, None)
            if release_at is not None and decision.chat_message_id is None:
                # A digest held again: its messages wait for the new time, not every sweep.
                await session.execute(
                    update(ChatMessage)
                    .where(ChatMessage.recipient_id == decision.user_id, ChatMessage.hold == PENDING)
                    .values(release_at=release_at)
                )
        return decision

    @staticmethod
    async def _settle(session: AsyncSession, ids: Sequence[int], state: str, decision_id: int | None) -> None:
        """Move held messages out of pending; all of them, or the whole transaction rolls back."""
        if not ids:
            return
        result = await session.execute(
            update(ChatMessage)
            .where(ChatMessage.id.in_(ids), ChatMessage.hold == PENDING)
            .values(hold=state, notified_by_id=decision_id)
        )
        if result.rowcount != len(ids):
            raise CoverageLost(f"held messages {list(ids)} changed meanwhile")

    async def settle_send(self, decision_id: int, *, status: str, reason: str, sid: str | None) -> None:
        """After the send: the SMS SID, or why no text went after all (opted out at send time, refused)."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(NotificationDecision)
                .where(NotificationDecision.id == decision_id)
                .values(status=status, reason=reason, sms_sid=sid)
            )

    async def mark_read(self, message_id: int, now: datetime) -> ChatMessage | None:
        """Mark a message read (the first time counts); a read message drops out of any pending digest."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(ChatMessage)
                .where(ChatMessage.id == message_id, ChatMessage.read_at.is_(None))
                .values(
                    read_at=now, hold=case((ChatMessage.hold == PENDING, DROPPED), else_=ChatMessage.hold)
                )
            )
            return await session.get(ChatMessage, message_id)
