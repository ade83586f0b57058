"""SQL tables of the staff console (staff accounts, prompt template versions, conversation takeovers)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from storage.tables import Base, utcnow


class StaffAccount(Base):
    """A member of staff who may sign in to the console; the password is stored as an Argon2id hash."""

    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column()


class PromptVersion(Base):
    """One saved version of a prompt template; the newest per name wins over the file in `prompts/`."""

    __tablename__ = "prompt_versions"
    __table_args__ = (Index("ix_prompt_versions_name_id", "name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class Takeover(Base):
    """Staff holding one conversation: the bot stays quiet for the phone until released or expired."""

    __tablename__ = "takeovers"
    __table_args__ = (Index("ix_takeovers_phone_id", "phone", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(32))
    staff: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()  # None: until released
    released_at: Mapped[datetime | None] = mapped_column()
    released_by: Mapped[str | None] = mapped_column(String(64))


class ConsoleKey(Base):
    """A secret the console generated for itself (the cookie-signing key when ADMIN_SECRET_KEY is unset)."""

    __tablename__ = "console_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class StaffAlert(Base):
    """Staff asked to look at a conversation (a handoff, a held conversation, a text that could not go),
    recorded with the flag that asks it, and told through the configured channels once."""

    __tablename__ = "staff_alerts"
    __table_args__ = (
        Index("ix_staff_alerts_notified_at", "notified_at"),
        Index("ix_staff_alerts_phone_notified_at", "phone", "notified_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    claimed_until: Mapped[datetime | None] = mapped_column()  # a worker is telling staff until then
    texted_at: Mapped[datetime | None] = mapped_column()  # the alert texts are staged in the outbox
    posted_at: Mapped[datetime | None] = mapped_column()  # the alert webhook answered 2xx
    notified_at: Mapped[datetime | None] = mapped_column()  # done: told, or folded into an earlier alert
    skipped: Mapped[bool] = mapped_column(default=False, server_default="0")  # within the cooldown
    # Alerts about the service rather than one conversation (a budget crossed, deliveries failing) are
    # raised once per topic ("budget:daily:2026-12-03:80"); their phone is empty.
    topic: Mapped[str | None] = mapped_column(String(80), unique=True)
