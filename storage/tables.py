"""SQL tables: customers, messages and their delivery-status events, consent state and its ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, Index, MetaData, String, Text, UniqueConstraint, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime, TypeDecorator

# Explicit constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back time-zone aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Customer(Base):
    """Someone who texts the business; created on first contact."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(String(120))
    timezone: Mapped[str | None] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(32), default="standard", server_default="standard")
    needs_staff: Mapped[bool] = mapped_column(default=False, server_default="0")
    needs_staff_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())


class Message(Base):
    """One SMS in or out. Inbound rows carry the turn state; outbound replies point at their turn."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_phone_id", "phone", "id"),
        Index("ix_messages_turn_state_phone", "turn_state", "phone"),
        Index("ix_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_messages_sent_at", "sent_at"),  # spend by day
        Index("ix_messages_created_at", "created_at"),  # the console's overview by day
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(8))  # inbound | outbound
    kind: Mapped[str] = mapped_column(String(16), default="reply", server_default="reply")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    phone: Mapped[str] = mapped_column(String(32))  # the customer's side, whichever way it went
    from_number: Mapped[str] = mapped_column(String(64))
    to_number: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(24))
    error_code: Mapped[int | None] = mapped_column()
    # Outbound only: hand-overs tried so far, and when the next one is due (a retry, or a check with the
    # gateway whether an unanswered attempt went through); see storage.outbox.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    segments: Mapped[int | None] = mapped_column()
    encoding: Mapped[str | None] = mapped_column(String(8))
    # Outbound: what the text costs in USD, estimated from the price table until Twilio reports its price.
    price: Mapped[float | None] = mapped_column()
    price_source: Mapped[str | None] = mapped_column(String(8))  # estimate | twilio
    # Inbound only: pending until a turn answers it (answered) or decides not to (skipped).
    turn_state: Mapped[str | None] = mapped_column(String(12))
    # Outbound replies: the first inbound message of the turn they answer; unique, so one reply per turn.
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), unique=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column()


class MessageEvent(Base):
    """An append-only record of one delivery-status callback."""

    __tablename__ = "message_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    sid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(24))
    error_code: Mapped[int | None] = mapped_column()
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class Consent(Base):
    """A number's current consent state toward one sender scope; the ledger below is its history."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("phone", "scope", name="uq_consents_phone_scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(32))  # E.164, as Twilio gives it
    # Opt-outs apply per sender: our Messaging Service SID, else our sending number, else "sandbox".
    scope: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # opted_in | opted_out
    source: Mapped[str] = mapped_column(String(32))
    keyword: Mapped[str] = mapped_column(String(64), default="")  # the keyword or phrase rule that matched
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentEvent(Base):
    """One append-only, hash-chained entry of the consent ledger (see storage.consent)."""

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_events_phone_scope", "phone", "scope"),
        # Two entries can never follow the same predecessor, so even a bypassed lock cannot fork the chain.
        UniqueConstraint("prev_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))  # opt_out | opt_in | help
    raw_text: Mapped[str] = mapped_column(Text, default="")
    matched: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(32))
    inbound_sid: Mapped[str | None] = mapped_column(String(64))
    # Outside the hash: the confirmation's SID is only known after the send, when the entry is committed.
    confirmation_sid: Mapped[str | None] = mapped_column(String(64))
    # Set in Python, never by the server, because the hash covers it to the microsecond.
    created_at: Mapped[datetime] = mapped_column()
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Appointment(Base):
    """A customer's booking of one service at one time (the built-in booking store's record)."""

    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_service_start", "service", "start_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    phone: Mapped[str] = mapped_column(String(32), index=True)
    service: Mapped[str] = mapped_column(String(120))
    start_at: Mapped[datetime] = mapped_column()
    end_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="booked")  # booked | cancelled
    # The request that made it (e.g. the inbound message and action), so a retried turn books once.
    idempotency_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())
    cancelled_at: Mapped[datetime | None] = mapped_column()


class ReminderSend(Base):
    """One reminder text for one appointment and lead time; unique, so each goes out once."""

    __tablename__ = "reminder_sends"
    __table_args__ = (UniqueConstraint("appointment_ref", "lead_minutes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The booking backend's id (the built-in store's or an external scheduler's), hence no foreign key.
    appointment_ref: Mapped[str] = mapped_column(String(120))
    lead_minutes: Mapped[int] = mapped_column()
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))  # None: skipped, not sent
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class LlmCall(Base):
    """One turn's ask of the language model: who answered, how long it took, the tokens and their cost."""

    __tablename__ = "llm_calls"
    __table_args__ = (Index("ix_llm_calls_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(32))  # None: a staff rehearsal of a prompt
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    model: Mapped[str] = mapped_column(String(120))
    # answered: the LLM answered; fallback: it failed and the offline engine did; offline: no LLM is set up
    outcome: Mapped[str] = mapped_column(String(12))
    latency_ms: Mapped[int] = mapped_column()
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    cost: Mapped[float] = mapped_column(default=0.0)  # USD, at the configured price per million tokens
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
