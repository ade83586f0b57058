"""The message log: inbound texts and their turn state, and every text in or out for reading back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Executable, Select, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from storage.batching import padded, power_of_two_parts
from storage.clock import Clock
from storage.consent import OPTED_IN, state_of
from storage.customers import get_or_create_customer
from storage.inbound_batch import insert_inbounds
from storage.spend import LlmUse, llm_insert
from storage.staff_tables import Takeover
from storage.tables import Customer, Message
from storage.takeovers import active_at


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


def _row_values(message: Message) -> dict[str, Any]:
    """The columns an unsaved message sets; the ones it leaves unset get their defaults."""
    values = {column.key: getattr(message, column.key) for column in Message.__table__.columns}
    return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True, slots=True)
class PendingTurn:
    """A phone's texts waiting for a turn (oldest first), and what the turn needs to know of the phone."""

    phone: str
    messages: list[Message]
    customer: Customer | None
    texted_before: bool  # whether any text ever went to this number (the first carries the disclosure)
    held_by_staff: bool  # a takeover holds the number: the texts wait for staff, the bot says nothing
    consent: str  # the number's recorded state toward this sender, as the read found it
    first_contact: bool  # the record holds nothing of this number but these texts: no history to read


@cache
def _pending_statement(scope: str) -> Select[tuple[Message, Customer, bool, bool, str | None, bool]]:
    """Pending texts of the phones asked for, each row with what its turn needs to know of the phone.

    Built once, with bound parameters, so SQLAlchemy compiles it once: it runs for every turn.
    """
    texted = _texted(Message.phone, sent=aliased(Message))
    held = select(Takeover.id).where(Takeover.phone == Message.phone, active_at(bindparam("now")))
    other = aliased(Message)
    anything_else = select(other.id).where(
        other.phone == Message.phone, or_(other.direction == "outbound", other.turn_state != "pending")
    )
    return (
        select(
            Message,
            Customer,
            texted.exists().label("texted"),
            held.exists().label("held"),
            state_of(Message.phone, scope).scalar_subquery().label("consent"),
            (~anything_else.exists()).label("first_contact"),
        )
        .outerjoin(Customer, Customer.id == Message.customer_id)
        .where(Message.phone.in_(bindparam("phones", expanding=True)), Message.turn_state == "pending")
        .order_by(Message.id)
    )


def _texted(phone: str | ColumnElement[str], *, sent: type[Message] = Message) -> Select[tuple[int]]:
    """Texts that went to this number (the first one carries the STOP disclosure); `sent` is the table
    they are looked up in, an alias when `phone` is a column of the query around it."""
    return select(sent.id).where(sent.phone == phone, sent.direction == "outbound", sent.sid.is_not(None))


@dataclass(frozen=True, slots=True)
class Closing:
    """How a turn ends: its inbound texts' new state, and the reply it staged (if any)."""

    inbound_ids: Sequence[int]
    state: str
    reply: Message | None = None
    llm: LlmUse | None = None  # the model's answer the reply came from, recorded with it


@dataclass(frozen=True, slots=True)
class _ClosingStatements:
    close: Executable
    stage: Executable


@cache
def _closing_statements() -> _ClosingStatements:
    """Built once with bound parameters: they run for every turn."""
    close = (
        update(Message)
        .where(Message.id.in_(bindparam("ids", expanding=True)), Message.turn_state == "pending")
        .values(turn_state=bindparam("state"), updated_at=bindparam("now"))
        .returning(Message.id)
    )
    stage = insert(Message).returning(Message.id, sort_by_parameter_order=True)
    return _ClosingStatements(close=close, stage=stage)


# Work done in the transaction that records an inbound text; returns details to keep on the message.
InboundStep = Callable[[AsyncSession, Message], Awaitable[dict[str, Any] | None]]


class MessageLog:
    """Reads and writes messages and their status events."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, clock: Clock, consent_scope: str
    ) -> None:
        self._sessions = sessions
        self._engine: AsyncEngine = sessions.kw["bind"]  # the hot path skips the ORM
        self._clock = clock  # every time this log writes or compares comes from here
        self._consent_scope = consent_scope  # whose opt-outs a turn reads with its texts

    @property
    def parallel_writes(self) -> bool:
        """Whether writes from several connections go ahead together (SQLite takes one writer at a time)."""
        return self._engine.dialect.name != "sqlite"

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

        One transaction for the batch (`storage.inbound_batch`): its customers, then its texts, ON CONFLICT
        DO NOTHING. A MessageSid seen before (or twice in the batch) is not inserted again.
        """
        now = self._clock()
        first: dict[str, InboundText] = {}
        for text in texts:
            first.setdefault(text.sid, text)
        rows = [
            {
                "sid": text.sid,
                "phone": text.from_number,
                "to_number": text.to_number,
                "body": text.body,
                "media": text.media,
                "details": {"opt_out_type": text.opt_out_type.upper()} if text.opt_out_type else {},
            }
            for text in first.values()
        ]
        inserted = await insert_inbounds(self._engine, rows, now)
        known: dict[str, int] = {}
        if retried := [sid for sid in first if sid not in inserted]:  # Twilio delivered these before
            async with self._engine.connect() as connection:
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

    async def pending_turn(self, phone: str) -> PendingTurn | None:
        """This phone's texts waiting for a turn and what the turn needs to know of the phone: one read."""
        return (await self.pending_turns([phone]))[0]

    async def pending_turns(self, phones: Sequence[str]) -> list[PendingTurn | None]:
        """`pending_turn` for many phones in one read (concurrent turns share it); one answer per phone."""
        found: dict[str, PendingTurn] = {}
        async with self._sessions() as session:
            rows = await session.execute(
                _pending_statement(self._consent_scope), {"phones": padded(set(phones)), "now": self._clock()}
            )
            for message, customer, texted, held, consent, first_contact in rows:
                turn = found.get(message.phone)
                if turn is None:
                    found[message.phone] = turn = PendingTurn(
                        message.phone,
                        [],
                        customer,
                        texted_before=bool(texted),
                        held_by_staff=bool(held),
                        consent=consent or OPTED_IN,
                        first_contact=bool(first_contact),
                    )
                turn.messages.append(message)
        return [found.get(phone) for phone in phones]

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
        return (await self.close_turns([Closing(inbound_ids, state, reply)]))[0]

    async def close_turns(self, closings: Sequence[Closing]) -> list[Message | None]:
        """`close_turn` for many turns in one transaction (concurrent turns share it): all or nothing.

        Raises AlreadyAnswered if any of the turns was handled already; each reply comes back with its id.
        """
        now = self._clock()
        statements = _closing_statements()
        async with self._engine.begin() as connection:
            for state in {closing.state for closing in closings}:
                ids = [id for closing in closings if closing.state == state for id in closing.inbound_ids]
                values = {"ids": padded(ids), "state": state, "now": now}
                closed = set((await connection.execute(statements.close, values)).scalars())
                # A text in two of these turns is handled by the first: the second must not reply to it too.
                twice = [id for id, count in Counter(ids).items() if count > 1]
                if late := [id for id in ids if id not in closed] + twice:
                    raise AlreadyAnswered(f"texts {late} were already handled")
            staged: dict[frozenset[str], list[tuple[Message, dict[str, Any]]]] = {}
            for closing in closings:
                if (reply := closing.reply) is not None:
                    # Staged claimed: the turn sends it next, and a crash before that is found by the outbox.
                    reply.reply_to_id, reply.status = closing.inbound_ids[0], "submitting"
                    row = _row_values(self._stamped(reply))
                    staged.setdefault(frozenset(row), []).append((reply, row))
            for shaped in staged.values():  # rows of one shape go in a few multi-row INSERTs
                for rows in power_of_two_parts(shaped):
                    result = await connection.execute(statements.stage, [row for _, row in rows])
                    for (reply, _), id in zip(rows, result.scalars(), strict=True):
                        reply.id = id
            used = [
                closing.llm.row(phone=reply.phone, reply_id=reply.id, at=now)
                for closing in closings
                if closing.llm is not None and (reply := closing.reply) is not None
            ]
            for rows in power_of_two_parts(used):
                await connection.execute(llm_insert(), rows)
        return [closing.reply for closing in closings]

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

    async def has_texted(self, phone: str) -> bool:
        """Whether any text ever went to this number (the first one carries the STOP disclosure)."""
        async with self._sessions() as session:
            return await session.scalar(_texted(phone).limit(1)) is not None

    async def listing(self, *, phone: str | None = None, limit: int = 50) -> list[Message]:
        """Newest first, for the CLI and the consoles."""
        async with self._sessions() as session:
            query = select(Message).order_by(Message.id.desc()).limit(limit)
            if phone:
                query = query.where(Message.phone == phone)
            return list(await session.scalars(query))
