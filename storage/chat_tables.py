"""SQL tables of the chat-app integration: users, chat messages, phone codes, notification decisions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from storage.tables import Base, utcnow


class ChatUser(Base):
    """A user of the business's chat app, as the chat app describes them (`PUT /api/users/{id}`)."""

    __tablename__ = "chat_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)  # the chat app's own user id
    name: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(32))  # E.164
    sms_opt_in: Mapped[bool] = mapped_column(default=False, server_default="0")
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Cleared whenever the phone changes: a verification is for one number.
    phone_verified_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())


class PhoneVerification(Base):
    """One double opt-in code texted to a user's phone; only its salted hash is kept."""

    __tablename__ = "chat_phone_verifications"
    __table_args__ = (Index("ix_chat_phone_verifications_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("chat_users.id"))
    phone: Mapped[str] = mapped_column(String(32))
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    expires_at: Mapped[datetime] = mapped_column()
    verified_at: Mapped[datetime | None] = mapped_column()
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))  # the text carrying the code
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class ChatMessage(Base):
    """A message the chat app posted (`POST /api/messages`), and whether a digest still owes it a text."""

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_hold_release_at", "hold", "release_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(128))
    sender_id: Mapped[str] = mapped_column(String(128))
    recipient_id: Mapped[str] = mapped_column(String(128), index=True)
    body: Mapped[str] = mapped_column(Text)
    # The chat app's Idempotency-Key: a retried POST returns the first message instead of a second one.
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    # Held back (cooldown, caps, quiet hours): "pending" until a text covers it ("notified") or it no
    # longer needs one ("dropped": read, seen online, or the recipient can't be texted any more).
    hold: Mapped[str | None] = mapped_column(String(12))
    release_at: Mapped[datetime | None] = mapped_column()  # the earliest a digest may carry it
    # The decision whose text covered it. No foreign key: decisions already point at chat messages, and a
    # cycle of foreign keys can't be created on SQLite.
    notified_by_id: Mapped[int | None] = mapped_column()
    read_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()  # from the service's clock, like every policy time


class NotificationDecision(Base):
    """One decision of the notification policy: for a posted message, or for a digest of held ones."""

    __tablename__ = "notification_decisions"
    __table_args__ = (
        Index("ix_notification_decisions_user_id_status_created_at", "user_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128))  # the recipient, by the chat app's id
    kind: Mapped[str] = mapped_column(String(12))  # message | digest
    # The posted message this decision is about (None for a digest: its messages point here).
    chat_message_id: Mapped[int | None] = mapped_column(ForeignKey("chat_messages.id"))
    status: Mapped[str] = mapped_column(String(12))  # sent | held | deferred | skipped | failed
    reason: Mapped[str] = mapped_column(String(24))
    send_at: Mapped[datetime | None] = mapped_column()
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))  # the SMS, when one was sent
    sms_sid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()
