"""The outbox: where each outbound text stands on its way out, and the carrier's status callbacks.

A text is staged `pending` by whoever writes it (in that store's own transaction), or staged already
claimed (`submitting`) by a writer that sends it straight away. `pending` → `submitting` happens once per
attempt, guarded here, so a text is handed over at most once at a time. A hand-over that surely created
nothing goes back to `pending` with a `next_attempt_at`; one whose fate is unknown (a timeout after the
request went out) stays `submitting` with a `next_attempt_at`, and is then checked with the gateway before
anything is sent again. A `submitting` row with no next attempt whose writer went quiet for longer than any
hand-over takes (a crash) is checked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Executable, Update, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from assistant.clock import Clock
from storage.consent import OPTED_OUT, state_of
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


@dataclass(frozen=True, slots=True)
class Clearance:
    """Whether a claimed text may go now: the number's consent, and an earlier text still waiting to go."""

    opted_out: bool
    behind: datetime | None  # an earlier text to the same number waits for a retry due then


class Outbox:
    """Claims, hand-over results, retries and status callbacks of outbound texts, each one transaction."""

    def __init__(
        self, engine: AsyncEngine, *, clock: Clock, consent_scope: str, stale_seconds: float
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._scope = consent_scope
        # Longer than any hand-over can take (the gateway's timeout and its quick retries).
        self._stale = timedelta(seconds=stale_seconds)

    async def claim(self, message_id: int) -> bool:
        """Move pending → submitting; only one caller wins, so a text is handed over at most once."""
        now = self._clock()
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(Message)
                .where(Message.id == message_id, Message.status == "pending")
                .values(status="submitting", next_attempt_at=None, updated_at=now)
            )
            return result.rowcount == 1

    async def reclaim(self, message: Message) -> bool:
        """Take over a `submitting` text left for a check, as it was read; one caller wins."""
        now = self._clock()
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(Message)
                .where(
                    Message.id == message.id,
                    Message.status == "submitting",
                    Message.updated_at == message.updated_at,
                )
                .values(next_attempt_at=None, updated_at=now)
            )
        if result.rowcount == 1:
            message.updated_at, message.next_attempt_at = now, None
        return result.rowcount == 1

    async def clearance(self, message: Message) -> Clearance:
        """The recipient's consent and an earlier text to them still unsent: one read, before sending.

        An earlier text waits either for its retry time, or, when it has none (in flight, or left by a
        process that died), until the outbox would check it with the gateway: later texts go after it.
        """
        consent = state_of(message.to_number, self._scope).scalar_subquery()
        unsent = and_(
            Message.phone == message.phone,
            Message.direction == "outbound",
            Message.id < message.id,
            Message.status.in_(("pending", "submitting")),
        )
        scheduled = select(func.max(Message.next_attempt_at)).where(
            unsent, Message.next_attempt_at.is_not(None)
        )
        unscheduled = select(func.max(Message.updated_at)).where(unsent, Message.next_attempt_at.is_(None))
        columns = (
            consent.label("consent"),
            scheduled.scalar_subquery().label("scheduled"),
            unscheduled.scalar_subquery().label("unscheduled"),
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(*columns))).one()
        checked_at = row.unscheduled + self._stale if row.unscheduled is not None else None
        behind = max((at for at in (row.scheduled, checked_at) if at is not None), default=None)
        return Clearance(opted_out=row.consent == OPTED_OUT, behind=behind)

    async def submitted(self, message: Message, *, sid: str, status: str, sender: str) -> None:
        """Record the gateway's SID and status, and take in any callbacks that beat the SID here."""
        now = self._clock()
        message_id = message.id
        async with self._engine.begin() as connection:
            await connection.execute(_release_waiting_behind(message, now))
            await connection.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(
                    sid=sid,
                    from_number=sender,
                    status=status,
                    sent_at=now,
                    next_attempt_at=None,
                    updated_at=now,
                )
            )
            early = await connection.scalars(
                update(MessageEvent)
                .where(MessageEvent.sid == sid, MessageEvent.message_id.is_(None))
                .values(message_id=message_id)
                .returning(MessageEvent.status)
            )
            best = max([status, *early], key=lambda name: STATUS_RANK.get(name, 0))
            if best != status:
                await connection.execute(self._forward(message_id, best, None))

    async def retry_at(self, message: Message, at: datetime, *, reason: str, unsure: bool) -> None:
        """Try again at `at`: from `pending` when surely nothing went, else checked with the gateway first."""
        details = {**message.details, "last_error": reason}
        async with self._engine.begin() as connection:
            await connection.execute(
                update(Message)
                .where(Message.id == message.id)
                .values(
                    status="submitting" if unsure else "pending",
                    attempts=Message.attempts + 1,
                    next_attempt_at=at,
                    details=details,
                    updated_at=self._clock(),
                )
            )
        message.details, message.next_attempt_at = details, at

    async def wait_behind(self, message: Message, at: datetime) -> None:
        """Hold a claimed text until an earlier one to the same number has gone (order per number)."""
        async with self._engine.begin() as connection:
            await connection.execute(
                update(Message)
                .where(Message.id == message.id)
                .values(status="pending", next_attempt_at=at, updated_at=self._clock())
            )

    async def suppressed(self, message: Message, *, reason: str) -> None:
        await self._finish(message, status="suppressed", details={"suppressed": reason})

    async def failed(
        self, message: Message, *, error_code: int | None, reason: str, staff_reason: str | None = None
    ) -> None:
        """Record a text that won't go; with `staff_reason`, its customer is flagged for staff, together."""
        await self._finish(
            message,
            status="failed",
            details={"failure": reason},
            error_code=error_code,
            staff_reason=staff_reason,
        )

    async def _finish(
        self,
        message: Message,
        *,
        status: str,
        details: dict[str, Any],
        error_code: int | None = None,
        staff_reason: str | None = None,
    ) -> None:
        now = self._clock()
        merged = {**message.details, **details}
        async with self._engine.begin() as connection:
            await connection.execute(_release_waiting_behind(message, now))
            await connection.execute(
                update(Message)
                .where(Message.id == message.id)
                .values(
                    status=status, error_code=error_code, details=merged, next_attempt_at=None, updated_at=now
                )
            )
            if staff_reason is not None:
                await connection.execute(
                    update(Customer)
                    .where(Customer.phone == message.phone)
                    .values(needs_staff=True, needs_staff_reason=staff_reason[:200], updated_at=now)
                )
        message.status, message.details = status, merged

    async def due(self, *, limit: int = 200) -> list[Message]:
        """Texts whose next step is now: retries due, checks due, and texts a crashed writer left behind."""
        now = self._clock()
        quiet = now - self._stale
        waiting = or_(
            Message.next_attempt_at <= now,
            and_(Message.next_attempt_at.is_(None), Message.updated_at <= quiet),
        )
        query = (
            select(Message)
            .where(Message.direction == "outbound", Message.status.in_(("pending", "submitting")), waiting)
            .order_by(Message.id)
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_message(row) for row in rows]

    async def unsent(self) -> list[Message]:
        """Every text staged but never handed over, whatever its age (recovery at start-up)."""
        query = (
            select(Message)
            .where(
                Message.direction == "outbound",
                Message.status == "pending",
                Message.next_attempt_at.is_(None),
            )
            .order_by(Message.id)
        )
        async with self._engine.connect() as connection:
            return [_message(row) for row in (await connection.execute(query)).all()]

    async def apply_status(
        self, sid: str, status: str, error_code: int | None, payload: dict[str, Any]
    ) -> tuple[Message | None, bool]:
        """Record a status event and move the message's status forward only: (the message, whether new).

        A callback seen before (same SID, status and error code; Twilio retries them) changes nothing. One
        for an SID we don't know yet is kept (once) for the send that is about to record that SID.
        """
        same = (
            select(MessageEvent.id)
            .where(
                MessageEvent.sid == sid,
                MessageEvent.status == status,
                MessageEvent.error_code.is_(None)
                if error_code is None
                else MessageEvent.error_code == error_code,
            )
            .exists()
        )
        async with self._engine.begin() as connection:
            row = (await connection.execute(select(Message).where(Message.sid == sid))).first()
            message = _message(row) if row is not None else None
            if await connection.scalar(select(same)):
                return message, False
            await connection.execute(
                MessageEvent.__table__.insert().values(
                    message_id=message.id if message else None,
                    sid=sid,
                    status=status,
                    error_code=error_code,
                    payload=payload,
                    created_at=self._clock(),
                )
            )
            if message is not None and status in STATUS_RANK:
                await connection.execute(self._forward(message.id, status, error_code))
        return message, True

    async def events_for(self, sid: str) -> list[MessageEvent]:
        query = select(MessageEvent).where(MessageEvent.sid == sid).order_by(MessageEvent.id)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [MessageEvent(**dict(row._mapping)) for row in rows]

    def _forward(self, message_id: int, status: str, error_code: int | None) -> Executable:
        """Move a message's status to `status` only if that is forward of where it is."""
        lower = [name for name, value in STATUS_RANK.items() if value < STATUS_RANK[status]]
        values: dict[str, Any] = {"status": status, "updated_at": self._clock()}
        if error_code is not None:
            values["error_code"] = error_code
        # A conditional UPDATE is atomic, so two racing callbacks can't move the status backwards.
        return update(Message).where(Message.id == message_id, Message.status.in_(lower)).values(**values)


def _message(row: Any) -> Message:
    """A plain (unattached) Message from a Core row."""
    return Message(**dict(row._mapping))


def _release_waiting_behind(message: Message, now: datetime) -> Update:
    """Later texts to the number that waited only for this one may go at the next outbox pass.

    Those with tries of their own keep their backoff (they still go after this one).
    """
    return (
        update(Message)
        .where(
            Message.phone == message.phone,
            Message.direction == "outbound",
            Message.id > message.id,
            Message.status == "pending",
            Message.attempts == 0,
            Message.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )
