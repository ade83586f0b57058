"""The message log: inbound texts and their turn state, outbound texts and their delivery status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Executable, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from assistant.clock import Clock
from storage.customers import get_or_create_customer
from storage.tables import Customer, Message, MessageEvent

# Delivery statuses only move forward; callbacks arrive out of order. Equal ranks are terminal alternatives.
STATUS_RANK: dict[str, int] = {
    "pending": 0,  # recorded here, not yet handed to the gateway
    "submitting": 0,  # being handed over right now
    "accepted": 1,
    "scheduled": 1,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "partially_delivered": 4,
    "suppressed": 4,  # never handed over: the recipient had opted out by send time
    "read": 5,
}


class AlreadyAnswered(Exception):
    """Another worker answered (or skipped) some of these inbound messages first."""


@dataclass(frozen=True, slots=True)
class InboundText:
    """An inbound SMS/MMS as the webhook received it."""

    sid: str
    from_number: str
    to_number: str
    body: str
    media: list[dict[str, str]]
    opt_out_type: str | None = None  # set when Twilio Advanced Opt-Out already handled a keyword


@dataclass(frozen=True, slots=True)
class _InboundStatements:
    """The hot path's two statements: create the customers a batch needs, then insert its texts."""

    customers: Executable
    messages: Executable


@cache
def _inbound_statements(dialect: str) -> _InboundStatements:
    """Built once per dialect with bound parameters, so SQLAlchemy compiles each once."""
    messages, customers = Message.__table__, Customer.__table__
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # Every parameter is named once: batched VALUES rows number their parameters by name.
    new_customers = (
        insert(customers)
        .values(
            phone=bindparam("phone"), created_at=bindparam("created_at"), updated_at=bindparam("updated_at")
        )
        .on_conflict_do_nothing(index_elements=["phone"])
    )
    by_phone = customers.c.phone == bindparam("customer_phone")
    customer_id = select(customers.c.id).where(by_phone).scalar_subquery()
    new_messages = (
        insert(messages)
        .values(
            sid=bindparam("sid"),
            direction="inbound",
            kind="inbound",
            customer_id=customer_id,
            phone=bindparam("phone"),
            from_number=bindparam("from_number"),
            to_number=bindparam("to_number"),
            body=bindparam("body"),
            media=bindparam("media", type_=messages.c.media.type),
            status="received",
            turn_state="pending",
            details=bindparam("details", type_=messages.c.details.type),
            created_at=bindparam("created_at"),
            updated_at=bindparam("updated_at"),
        )
        .on_conflict_do_nothing(index_elements=["sid"])
        .returning(messages.c.id, messages.c.sid)
    )
    return _InboundStatements(customers=new_customers, messages=new_messages)


def _row_values(message: Message) -> dict[str, Any]:
    """The columns an unsaved message sets; the ones it leaves unset get their defaults."""
    values = {column.key: getattr(message, column.key) for column in Message.__table__.columns}
    return {key: value for key, value in values.items() if value is not None}


# Work done in the transaction that records an inbound text; returns details to keep on the message.
InboundStep = Callable[[AsyncSession, Message], Awaitable[dict[str, Any] | None]]


class MessageLog:
    """Reads and writes messages and their status events."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, clock: Clock) -> None:
        self._sessions = sessions
        self._engine: AsyncEngine = sessions.kw["bind"]  # the hot path skips the ORM
        self._clock = clock  # every time this log writes or compares comes from here

    async def record_inbound(
        self, text: InboundText, *, then: InboundStep | None = None
    ) -> tuple[Message, bool]:
        """Store an inbound text, pending a turn; returns (row, created). A known SID changes nothing.

        `then(session, message)` runs in the same transaction once the row is in and returns details to
        keep on it, so what the text itself decided (an opt-out) commits with the text or not at all.
        """
        async with self._sessions() as session:
            existing = await session.scalar(select(Message).where(Message.sid == text.sid))
            if existing is not None:
                return existing, False
            customer = await get_or_create_customer(session, text.from_number)
            message = Message(
                sid=text.sid,
                direction="inbound",
                kind="inbound",
                customer_id=customer.id,
                phone=text.from_number,
                from_number=text.from_number,
                to_number=text.to_number,
                body=text.body,
                media=text.media,
                status="received",
                turn_state="pending",
                created_at=self._clock(),
                updated_at=self._clock(),
                details={"opt_out_type": text.opt_out_type.upper()} if text.opt_out_type else {},
            )
            session.add(message)
            try:
                if then is not None:
                    await session.flush()  # a duplicate SID fails here, before `then` does anything
                    if extra := await then(session, message):
                        message.details = {**message.details, **extra}
                await session.commit()
            except IntegrityError:
                # The same MessageSid raced in from a concurrent delivery: the first one won.
                await session.rollback()
                existing = await session.scalar(select(Message).where(Message.sid == text.sid))
                if existing is None:
                    raise
                return existing, False
            return message, True

    async def add_inbounds(self, texts: Sequence[InboundText]) -> list[tuple[int, bool]]:
        """`record_inbound` for many texts at once, the webhook's hot path: (message id, created) for each.

        One transaction for the batch: its customers, then its texts, each one multi-row INSERT ... ON
        CONFLICT DO NOTHING. A MessageSid seen before (or twice in the batch) is not inserted again.
        """
        now = self._clock()
        first: dict[str, InboundText] = {}
        for text in texts:
            first.setdefault(text.sid, text)
        rows = [
            {
                "sid": text.sid,
                "customer_phone": text.from_number,
                "phone": text.from_number,
                "from_number": text.from_number,
                "to_number": text.to_number,
                "body": text.body,
                "media": text.media,
                "created_at": now,
                "updated_at": now,
                "details": {"opt_out_type": text.opt_out_type.upper()} if text.opt_out_type else {},
            }
            for text in first.values()
        ]
        statements = _inbound_statements(self._engine.dialect.name)
        phones = sorted({text.from_number for text in texts})  # one order for every batch: no deadlocks
        async with self._engine.begin() as connection:
            customers = [{"phone": phone, "created_at": now, "updated_at": now} for phone in phones]
            await connection.execute(statements.customers, customers)
            inserted = {row.sid: row.id for row in await connection.execute(statements.messages, rows)}
            known: dict[str, int] = {}
            if retried := [sid for sid in first if sid not in inserted]:  # Twilio delivered these before
                found = select(Message.sid, Message.id).where(Message.sid.in_(retried))
                known = {row.sid: row.id for row in await connection.execute(found)}
        results: list[tuple[int, bool]] = []
        for text in texts:
            created = text.sid in inserted and first[text.sid] is text
            results.append((inserted[text.sid] if text.sid in inserted else known[text.sid], created))
        return results

    async def pending_phones(self, older_than_seconds: float = 0) -> list[str]:
        """Phones with inbound texts no turn has handled yet, longest waiting first."""
        cutoff = self._clock() - timedelta(seconds=older_than_seconds)
        async with self._sessions() as session:
            rows = await session.execute(
                select(Message.phone, func.min(Message.id).label("first"))
                .where(Message.turn_state == "pending", Message.created_at <= cutoff)
                .group_by(Message.phone)
                .order_by("first")
            )
            return [row.phone for row in rows]

    async def waiting(self) -> tuple[int, datetime | None]:
        """How many inbound texts wait for a turn, and when the longest-waiting one arrived."""
        async with self._sessions() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(Message.created_at)).where(Message.turn_state == "pending")
                )
            ).one()
        return count, oldest

    async def pending_for(self, phone: str) -> list[Message]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Message)
                .where(Message.phone == phone, Message.turn_state == "pending")
                .order_by(Message.id)
            )
            return list(rows)

    async def last_reply(self, phone: str) -> Message | None:
        """The newest conversational reply to this phone (not a keyword answer, reminder or notification)."""
        async with self._sessions() as session:
            return await session.scalar(
                select(Message)
                .where(Message.phone == phone, Message.direction == "outbound", Message.kind == "reply")
                .order_by(Message.id.desc())
                .limit(1)
            )

    async def recent(self, phone: str, limit: int) -> list[Message]:
        """The last `limit` texts with this phone, oldest first (to rebuild history)."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Message).where(Message.phone == phone).order_by(Message.id.desc()).limit(limit)
            )
            return list(reversed(list(rows)))

    async def close_turn(
        self,
        inbound_ids: Sequence[int],
        *,
        state: str,
        reply: Message | None = None,
    ) -> Message | None:
        """Mark a turn's inbound texts answered/skipped and record its reply, all or nothing."""
        async with self._engine.begin() as connection:  # two statements on the hot path: no ORM session
            result = await connection.execute(
                update(Message)
                .where(Message.id.in_(inbound_ids), Message.turn_state == "pending")
                .values(turn_state=state, updated_at=self._clock())
            )
            if result.rowcount != len(inbound_ids):
                raise AlreadyAnswered(f"turn {list(inbound_ids)} was already handled")
            if reply is not None:
                reply.reply_to_id = inbound_ids[0]
                row = _row_values(self._stamped(reply))
                reply.id = await connection.scalar(insert(Message).values(row).returning(Message.id))
        return reply

    async def add_outbound(self, message: Message) -> Message:
        """Record an outbound text that is not a turn's reply (keyword answers, notifications)."""
        async with self._sessions() as session, session.begin():
            session.add(self._stamped(message))
        return message

    def _stamped(self, message: Message) -> Message:
        """The message with its times from this log's clock."""
        message.created_at = message.created_at or self._clock()
        message.updated_at = message.updated_at or message.created_at
        return message

    async def get(self, message_id: int) -> Message | None:
        async with self._sessions() as session:
            return await session.get(Message, message_id)

    async def unsent(self) -> list[Message]:
        """Outbound texts recorded but never handed to the gateway (a worker died in between)."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Message)
                .where(Message.direction == "outbound", Message.status == "pending")
                .order_by(Message.id)
            )
            return list(rows)

    async def claim_for_sending(self, message_id: int) -> bool:
        """Move pending → submitting; only one caller ever wins, so a text is handed over at most once."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(Message)
                .where(Message.id == message_id, Message.status == "pending")
                .values(status="submitting", updated_at=self._clock())
            )
            return result.rowcount == 1

    async def mark_submitted(self, message_id: int, *, sid: str, status: str, sender: str) -> None:
        """Record the gateway's SID and status, then take in any callbacks that beat the SID here."""
        now = self._clock()
        # Until this commits, no callback can find the message (it has no SID yet), so nothing else moves
        # its status: it is "submitting", and the gateway's answer is forward of that.
        async with self._engine.begin() as connection:
            await connection.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(sid=sid, from_number=sender, status=status, sent_at=now, updated_at=now)
            )
        # From here on callbacks find the message by SID and move it themselves; earlier ones wait unowned.
        async with self._engine.begin() as connection:
            early = await connection.scalars(
                update(MessageEvent)
                .where(MessageEvent.sid == sid, MessageEvent.message_id.is_(None))
                .values(message_id=message_id)
                .returning(MessageEvent.status)
            )
            best = max([status, *early], key=lambda name: STATUS_RANK.get(name, 0))
            if best != status:
                await connection.execute(self._forward(message_id, best, None))

    async def mark_suppressed(self, message_id: int, *, reason: str) -> None:
        async with self._sessions() as session, session.begin():
            message = await session.get(Message, message_id)
            if message is not None:
                message.status = "suppressed"
                message.details = {**message.details, "suppressed": reason}

    async def has_texted(self, phone: str) -> bool:
        """Whether any text ever went to this number (the first one carries the STOP disclosure)."""
        async with self._sessions() as session:
            sent = await session.scalar(
                select(Message.id)
                .where(Message.phone == phone, Message.direction == "outbound", Message.sid.is_not(None))
                .limit(1)
            )
            return sent is not None

    async def mark_failed(self, message_id: int, *, error_code: int | None, reason: str) -> None:
        async with self._sessions() as session, session.begin():
            message = await session.get(Message, message_id)
            if message is None:
                return
            message.status = "failed"
            message.error_code = error_code
            message.details = {**message.details, "failure": reason}

    async def apply_status(
        self, sid: str, status: str, error_code: int | None, payload: dict[str, Any]
    ) -> Message | None:
        """Append a status event and move the message's status forward only; None for unknown SIDs."""
        async with self._sessions() as session, session.begin():
            message = await session.scalar(select(Message).where(Message.sid == sid))
            session.add(
                MessageEvent(
                    message_id=message.id if message else None,
                    sid=sid,
                    status=status,
                    error_code=error_code,
                    payload=payload,
                    created_at=self._clock(),
                )
            )
            if message is not None and status in STATUS_RANK:
                await self._advance(session, message.id, status, error_code)
        return message

    async def _advance(
        self, session: AsyncSession, message_id: int, status: str, error_code: int | None
    ) -> None:
        await session.execute(self._forward(message_id, status, error_code))

    def _forward(self, message_id: int, status: str, error_code: int | None) -> Executable:
        """Move a message's status to `status` only if that is forward of where it is."""
        lower = [name for name, value in STATUS_RANK.items() if value < STATUS_RANK[status]]
        values: dict[str, Any] = {"status": status, "updated_at": self._clock()}
        if error_code is not None:
            values["error_code"] = error_code
        # A conditional UPDATE is atomic, so two racing callbacks can't move the status backwards.
        return update(Message).where(Message.id == message_id, Message.status.in_(lower)).values(**values)

    async def events_for(self, sid: str) -> list[MessageEvent]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(MessageEvent).where(MessageEvent.sid == sid).order_by(MessageEvent.id)
            )
            return list(rows)

    async def listing(self, *, phone: str | None = None, limit: int = 50) -> list[Message]:
        """Newest first, for the CLI and the consoles."""
        async with self._sessions() as session:
            query = select(Message).order_by(Message.id.desc()).limit(limit)
            if phone:
                query = query.where(Message.phone == phone)
            return list(await session.scalars(query))
