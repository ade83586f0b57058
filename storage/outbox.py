"""The outbox: where each outbound text stands on its way out, and the carrier's status callbacks.

A text is staged `pending` by whoever writes it (in that store's own transaction), or staged already
claimed (`submitting`) by a writer that sends it straight away. `pending` → `submitting` happens once per
attempt, guarded here, so a text is handed over at most once at a time. A hand-over that surely created
nothing goes back to `pending` with a `next_attempt_at`; one whose fate is unknown (a timeout after the
request went out) stays `submitting` with a `next_attempt_at`, and is then checked with the gateway before
anything is sent again. A `submitting` row with no next attempt whose writer went quiet for longer than any
hand-over takes (a crash) is checked the same way.

"Quiet" counts from the writer's last word, and the last word comes right before the gateway is asked:
`clearances` stamps each text it clears, and clears only texts still as their sender last left them. A
sender that stalled until another took its text over finds the stamp changed and stands down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Update,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.batching import padded
from storage.clock import Clock
from storage.consent import OPTED_OUT
from storage.staff_tables import StaffAlert
from storage.tables import Consent, Customer, Message, MessageEvent

# Delivery statuses only move forward; callbacks arrive out of order. Equal ranks are terminal alternatives.
STATUS_RANK: dict[str, int] = {
    "pending": 0,  # recorded here, not yet handed to the gateway
    "held": 0,  # kept back until the budget allows it
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
# Where a text's delivery ends: a carrier's last word, or never handed over.
FINAL_STATUSES = frozenset(name for name, rank in STATUS_RANK.items() if rank >= STATUS_RANK["delivered"])


@dataclass(frozen=True, slots=True)
class Clearance:
    """Whether a claimed text may go now: still this sender's, the number's consent, and an earlier text
    still waiting to go."""

    held: bool  # False: another sender took it over while this one stalled, so this one must not send it
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

    async def claim(self, message: Message) -> bool:
        """Move pending → submitting; only one caller wins, so a text is handed over at most once."""
        async with self._engine.begin() as connection:
            now = self._clock()
            result = await connection.execute(
                update(Message)
                .where(Message.id == message.id, Message.status == "pending")
                .values(status="submitting", next_attempt_at=None, updated_at=now)
            )
        if result.rowcount == 1:
            message.status, message.updated_at, message.next_attempt_at = "submitting", now, None
        return result.rowcount == 1

    async def reclaim(self, message: Message) -> bool:
        """Take over a `submitting` text left for a check, as it was read; one caller wins."""
        async with self._engine.begin() as connection:
            now = self._clock()
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

    async def clearances(self, messages: Sequence[Message]) -> list[Clearance]:
        """Right before sending: whether each claimed text is still this sender's, the recipients' consent,
        and earlier texts to them still unsent. One transaction for the lot.

        A text still as its sender left it is stamped now, so nobody takes it over while it is being
        handed over. An earlier text waits either for its retry time, or, when it has none (in flight, or
        left by a process that died), until the outbox would check it with the gateway: later texts go
        after it.
        """
        phones = padded(sorted({message.phone for message in messages} | {m.to_number for m in messages}))
        claims = padded([(message.id, message.updated_at) for message in messages])
        statements = _clearance_statements(self._scope)
        async with self._engine.begin() as connection:
            now = self._clock()
            held = set((await connection.execute(statements.hold, {"claims": claims, "now": now})).scalars())
            states = dict((await connection.execute(statements.consent, {"phones": phones})).all())
            unsent = (await connection.execute(statements.unsent, {"phones": phones})).all()
        for message in messages:
            if message.id in held:
                message.updated_at = now
        return [self._clearance(message, message.id in held, states, unsent) for message in messages]

    def _clearance(
        self, message: Message, held: bool, states: dict[str, str], unsent: Sequence[Any]
    ) -> Clearance:
        earlier = [row for row in unsent if row.phone == message.phone and row.id < message.id]
        retries = [row.next_attempt_at for row in earlier if row.next_attempt_at is not None]
        # One with no retry time is checked with the gateway once quiet for longer than any hand-over.
        checks = [row.updated_at + self._stale for row in earlier if row.next_attempt_at is None]
        behind = max([*retries, *checks], default=None)
        opted_out = states.get(message.to_number) == OPTED_OUT
        return Clearance(held=held, opted_out=opted_out, behind=behind)

    async def record_submitted(self, sends: Sequence[Submitted]) -> list[None]:
        """Record the gateway's SIDs and statuses, and take in any callbacks that beat a SID here.

        One transaction for the lot (concurrent sends share it); one result per send.
        """
        now = self._clock()
        by_id = {send.message.id: send for send in sends}
        statements = _submitted_statements()
        recorded = [
            {"message_id": id, "new_sid": s.sid, "new_status": s.status, "sender": s.sender, "now": now}
            for id, s in by_id.items()
        ]
        released = [_released(send.message, now) for send in by_id.values()]
        async with self._engine.begin() as connection:
            await connection.execute(_release_waiting_behind(), released)
            await connection.execute(statements.record, recorded)
            early = (await connection.execute(statements.adopt, {"sids": padded(s.sid for s in sends)})).all()
            for message_id, statuses in _by_message(early).items():
                best = max([by_id[message_id].status, *statuses], key=lambda name: STATUS_RANK.get(name, 0))
                if best != by_id[message_id].status:
                    await connection.execute(self._forward(message_id, best, None))
        return [None] * len(sends)

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

    @property
    def stale_seconds(self) -> float:
        """How long a claimed text may stay quiet before the outbox checks it with the gateway."""
        return self._stale.total_seconds()

    async def put_back(self, message: Message, at: datetime) -> None:
        """Put a claimed text back `pending` until `at`, no attempt counted: an earlier text to the same
        number has to go first (order per number), or the sender has no send slot free until then."""
        async with self._engine.begin() as connection:
            await connection.execute(
                update(Message)
                .where(Message.id == message.id)
                .values(status="pending", next_attempt_at=at, updated_at=self._clock())
            )

    async def hold(self, message: Message, *, reason: str, until: datetime | None = None) -> None:
        """Keep a claimed text back until the budget allows it, and `until` (quiet hours) has come; see
        `release_held`. Later texts to the number need not wait for it, nor does the text count as tried."""
        now = self._clock()
        details = {**message.details, "held": reason}
        async with self._engine.begin() as connection:
            await connection.execute(_release_waiting_behind(), _released(message, now))
            await connection.execute(
                update(Message)
                .where(Message.id == message.id)
                .values(status="held", next_attempt_at=until, details=details, updated_at=now)
            )
        message.status, message.details, message.next_attempt_at = "held", details, until

    async def held_count(self) -> int:
        async with self._engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).where(Message.status == "held")) or 0)

    async def held_kinds(self) -> list[str]:
        """The kinds of text held back whose `until` has come (an index read; usually none)."""
        query = select(Message.kind).where(*_held_now(self._clock())).distinct()
        async with self._engine.connect() as connection:
            return list((await connection.execute(query)).scalars())

    async def release_held(self, kinds: Sequence[str]) -> tuple[int, int]:
        """Held texts of these kinds are due now; one that had to go before a moment now past (a reminder
        for an appointment that has begun) is canceled instead. Returns (released, canceled)."""
        now = self._clock()
        held = (*_held_now(now), Message.kind.in_(kinds))
        async with self._engine.begin() as connection:
            rows = (await connection.execute(select(Message.id, Message.details).where(*held))).all()
            late = [id for id, details in rows if _past(details.get("send_before"), now)]
            if late:
                await connection.execute(
                    update(Message)
                    .where(Message.id.in_(late), *held)
                    .values(status="canceled", next_attempt_at=None, updated_at=now)
                )
            released = await connection.execute(
                update(Message).where(*held).values(status="pending", next_attempt_at=now, updated_at=now)
            )
        return released.rowcount, len(late)

    async def canceled(self, message: Message, *, reason: str) -> None:
        """A text that won't go because its moment has passed (a reminder that could only go late)."""
        await self._finish(message, status="canceled", details={"canceled": reason})

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
            await connection.execute(_release_waiting_behind(), _released(message, now))
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
                alert = {"phone": message.phone, "reason": staff_reason[:200], "created_at": now}
                await connection.execute(insert(StaffAlert).values(**alert))
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
        self,
        sid: str,
        status: str,
        error_code: int | None,
        payload: dict[str, Any],
        *,
        price: float | None = None,
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
            if message is not None and price is not None:  # Twilio's own price replaces the estimate
                await connection.execute(
                    update(Message).where(Message.id == message.id).values(price=price, price_source="twilio")
                )
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


def _held_now(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Held texts that only the budget keeps back now (quiet hours, if any, are over)."""
    return Message.status == "held", or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now)


def _past(moment: str | None, now: datetime) -> bool:
    return moment is not None and datetime.fromisoformat(moment) <= now


def _message(row: Any) -> Message:
    """A plain (unattached) Message from a Core row."""
    return Message(**dict(row._mapping))


@dataclass(frozen=True, slots=True)
class Submitted:
    """A text the gateway took: its SID, first status and the sender it went from."""

    message: Message
    sid: str
    status: str
    sender: str


@dataclass(frozen=True, slots=True)
class _ClearanceStatements:
    hold: Executable
    consent: Executable
    unsent: Executable


@cache
def _clearance_statements(scope: str) -> _ClearanceStatements:
    """Built once with bound parameters, so SQLAlchemy compiles each once: they run before every send."""
    claims = bindparam("claims", expanding=True)
    hold = (
        update(Message)
        .where(tuple_(Message.id, Message.updated_at).in_(claims), Message.status == "submitting")
        .values(updated_at=bindparam("now"))
        .returning(Message.id)
    )
    phones = bindparam("phones", expanding=True)
    consent = select(Consent.phone, Consent.state).where(Consent.scope == scope, Consent.phone.in_(phones))
    unsent = select(Message.phone, Message.id, Message.next_attempt_at, Message.updated_at).where(
        Message.phone.in_(phones),
        Message.direction == "outbound",
        Message.status.in_(("pending", "submitting")),
    )
    return _ClearanceStatements(hold=hold, consent=consent, unsent=unsent)


@dataclass(frozen=True, slots=True)
class _SubmittedStatements:
    record: Executable
    adopt: Executable


@cache
def _submitted_statements() -> _SubmittedStatements:
    """Built once with bound parameters (run with many parameter sets at once)."""
    now = bindparam("now")
    record = (
        update(Message)
        .where(Message.id == bindparam("message_id"))
        .values(
            sid=bindparam("new_sid"),
            from_number=bindparam("sender"),
            status=bindparam("new_status"),
            sent_at=now,
            next_attempt_at=None,
            updated_at=now,
        )
    )
    # Callbacks that arrived before their SID was recorded are tied to the message now.
    owner = select(Message.id).where(Message.sid == MessageEvent.sid).scalar_subquery()
    adopt = (
        update(MessageEvent)
        .where(MessageEvent.sid.in_(bindparam("sids", expanding=True)), MessageEvent.message_id.is_(None))
        .values(message_id=owner)
        .returning(MessageEvent.message_id, MessageEvent.status)
    )
    return _SubmittedStatements(record=record, adopt=adopt)


def _by_message(events: Sequence[Any]) -> dict[int, list[str]]:
    statuses: dict[int, list[str]] = {}
    for message_id, status in events:
        statuses.setdefault(message_id, []).append(status)
    return statuses


@cache
def _release_waiting_behind() -> Update:
    """Later texts to the number that waited only for this one may go at the next outbox pass.

    Those with tries of their own keep their backoff (they still go after this one). Run with
    `_released` parameters, one set per text that went.
    """
    now = bindparam("now")
    return (
        update(Message)
        .where(
            Message.phone == bindparam("number"),
            Message.direction == "outbound",
            Message.id > bindparam("after"),
            Message.status == "pending",
            Message.attempts == 0,
            Message.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )


def _released(message: Message, now: datetime) -> dict[str, Any]:
    return {"number": message.phone, "after": message.id, "now": now}
