"""Texts that are no customer's conversation: chat notifications, phone codes, alerts to staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.chat_tables import ChatMessage, ChatUser, NotificationDecision
from storage.tables import Message

# Outbound kinds the chat-app flow sends to its users, and the one that tells staff a customer needs them.
CHAT_KINDS = ("notification", "digest", "verification")
STAFF_KINDS = ("staff_alert",)
APART_KINDS = CHAT_KINDS + STAFF_KINDS  # kept out of the customer conversations


@dataclass(frozen=True, slots=True)
class NoticeText:
    """One text to a chat-app user or to staff, with the chat user it went to when there is one."""

    id: int
    phone: str
    kind: str
    body: str
    status: str
    error_code: int | None
    created_at: datetime
    user_id: str | None
    user_name: str | None


@dataclass(frozen=True, slots=True)
class NoticeDecision:
    """One decision of the notification policy, with the chat message it was about."""

    id: int
    user_id: str
    user_name: str | None
    kind: str  # message | digest
    status: str  # sent | held | deferred | skipped | failed
    reason: str
    send_at: datetime | None
    created_at: datetime
    chat_body: str | None
    sms_status: str | None


class NoticeLog:
    """Reads the texts kept apart from customer conversations, and the policy's decisions, newest first."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def texts(self, kinds: tuple[str, ...], *, limit: int = 100) -> tuple[list[NoticeText], int]:
        """The newest texts of these kinds, and how many there are in all."""
        where = (Message.direction == "outbound") & Message.kind.in_(kinds)
        async with self._sessions() as session:
            total = await _count(session, select(Message.id).where(where))
            messages = list(
                await session.scalars(select(Message).where(where).order_by(Message.id.desc()).limit(limit))
            )
            user_ids = {str(m.details["chat_user"]) for m in messages if m.details.get("chat_user")}
            names = await _names(session, user_ids)
        return [
            NoticeText(
                id=m.id,
                phone=m.phone,
                kind=m.kind,
                body=m.body,
                status=m.status,
                error_code=m.error_code,
                created_at=m.created_at,
                user_id=m.details.get("chat_user"),
                user_name=names.get(str(m.details.get("chat_user"))),
            )
            for m in messages
        ], total

    async def decisions(self, *, limit: int = 100) -> tuple[list[NoticeDecision], int]:
        """The newest notification decisions, and how many there are in all."""
        query = (
            select(NotificationDecision, ChatMessage.body, Message.status)
            .outerjoin(ChatMessage, ChatMessage.id == NotificationDecision.chat_message_id)
            .outerjoin(Message, Message.id == NotificationDecision.message_id)
            .order_by(NotificationDecision.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            total = await _count(session, select(NotificationDecision.id))
            rows = (await session.execute(query)).all()
            names = await _names(session, {decision.user_id for decision, _, _ in rows})
        return [
            NoticeDecision(
                id=decision.id,
                user_id=decision.user_id,
                user_name=names.get(decision.user_id),
                kind=decision.kind,
                status=decision.status,
                reason=decision.reason,
                send_at=decision.send_at,
                created_at=decision.created_at,
                chat_body=body,
                sms_status=sms_status,
            )
            for decision, body, sms_status in rows
        ], total


async def _count(session: AsyncSession, ids: Select[tuple[int]]) -> int:
    return int(await session.scalar(select(func.count()).select_from(ids.subquery())) or 0)


async def _names(session: AsyncSession, external_ids: set[str]) -> dict[str, str | None]:
    """Chat users' names by the chat app's ids."""
    if not external_ids:
        return {}
    rows = await session.execute(
        select(ChatUser.external_id, ChatUser.name).where(ChatUser.external_id.in_(external_ids))
    )
    return {external_id: name for external_id, name in rows}
