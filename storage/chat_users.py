"""The chat app's users and their phone verification codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.chat_tables import ChatUser, PhoneVerification
from storage.tables import Message

UNSET = object()  # a field the caller left out, as opposed to one set to None


@dataclass(frozen=True, slots=True)
class UserChange:
    """What a save did: the row as it is now, whether it was new, and whether its phone must be verified."""

    user: ChatUser
    created: bool
    needs_code: bool


class ChatUsers:
    """Reads and writes chat users; a changed phone always loses its verification."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, external_id: str) -> ChatUser | None:
        async with self._sessions() as session:
            return await session.scalar(select(ChatUser).where(ChatUser.external_id == external_id))

    async def save(self, external_id: str, fields: dict[str, object], now: datetime) -> UserChange:
        """Create or update a user from the fields given (absent ones keep their value); one transaction."""
        try:
            return await self._save(external_id, fields, now)
        except IntegrityError:
            # Two first PUTs raced to create the same user: the loser applies its fields as an update.
            return await self._save(external_id, fields, now)

    async def _save(self, external_id: str, fields: dict[str, object], now: datetime) -> UserChange:
        async with self._sessions() as session, session.begin():
            user = await session.scalar(select(ChatUser).where(ChatUser.external_id == external_id))
            created = user is None
            if user is None:
                user = ChatUser(external_id=external_id, sms_opt_in=False)
                session.add(user)
            was_opted_in, old_phone = user.sms_opt_in, user.phone
            for name, value in fields.items():
                setattr(user, name, value)
            if user.phone != old_phone:
                user.phone_verified_at = None
            live = await self._live_code(session, user, now) if user.id is not None else None
            needs_code = bool(user.sms_opt_in and user.phone and user.phone_verified_at is None) and (
                user.phone != old_phone or not was_opted_in or live is None
            )
            user.updated_at = now
        return UserChange(user=user, created=created, needs_code=needs_code)

    @staticmethod
    async def _live_code(session: AsyncSession, user: ChatUser, now: datetime) -> PhoneVerification | None:
        """The code waiting to be entered for the user's current phone, if there is one."""
        return await session.scalar(
            select(PhoneVerification)
            .where(
                PhoneVerification.user_id == user.id,
                PhoneVerification.phone == user.phone,
                PhoneVerification.verified_at.is_(None),
                PhoneVerification.expires_at > now,
            )
            .order_by(PhoneVerification.id.desc())
            .limit(1)
        )

    async def add_code(self, code: PhoneVerification, message: Message) -> None:
        """Record a new code with the text that carries it; older codes for the user stop working."""
        async with self._sessions() as session, session.begin():
            session.add(message)
            await session.flush()
            await session.execute(
                update(PhoneVerification)
                .where(PhoneVerification.user_id == code.user_id, PhoneVerification.verified_at.is_(None))
                .values(expires_at=code.created_at)
            )
            code.message_id = message.id
            session.add(code)

    async def expire_code(self, code_id: int, now: datetime) -> None:
        """A code whose text never went out can't be entered; the next PUT sends a fresh one."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(PhoneVerification).where(PhoneVerification.id == code_id).values(expires_at=now)
            )

    async def latest_code(self, user: ChatUser) -> PhoneVerification | None:
        """The newest code sent to the user's current phone."""
        async with self._sessions() as session:
            return await session.scalar(
                select(PhoneVerification)
                .where(PhoneVerification.user_id == user.id, PhoneVerification.phone == user.phone)
                .order_by(PhoneVerification.id.desc())
                .limit(1)
            )

    async def count_attempt(self, code_id: int, max_attempts: int) -> bool:
        """Use up one try; False when none are left. One UPDATE, so racing guesses can't exceed the limit."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(PhoneVerification)
                .where(PhoneVerification.id == code_id, PhoneVerification.attempts < max_attempts)
                .values(attempts=PhoneVerification.attempts + 1)
            )
            return result.rowcount == 1

    async def confirm(self, code: PhoneVerification, now: datetime) -> ChatUser | None:
        """Mark the code used and the user's phone verified, if the phone is still the one it was sent to."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(PhoneVerification).where(PhoneVerification.id == code.id).values(verified_at=now)
            )
            user = await session.get(ChatUser, code.user_id)
            if user is None or user.phone != code.phone:
                return None
            user.phone_verified_at = now
            user.updated_at = now
            return user
