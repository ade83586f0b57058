"""The offline chat notification flow: store a chat message, decide, and text the recipient at most once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.exc import IntegrityError

from assistant.metrics import NOTIFICATIONS
from assistant.notification_texts import NotificationTexts
from assistant.notifications import Decision, NotificationPolicy
from assistant.sender import Sender
from prompts.renderer import PromptRenderer
from storage.chat import PENDING, ChatLog, CoverageLost
from storage.chat_tables import ChatMessage, ChatUser, NotificationDecision
from storage.chat_users import ChatUsers
from storage.clock import Clock
from storage.locks import held
from storage.messages import MessageLog
from storage.presence import Presence
from storage.tables import Message

log = logging.getLogger(__name__)

LOCK_SECONDS = 30.0
RETRIES = 3


class NotifierBusy(Exception):
    """Another process held the recipient's lock for too long; the caller may retry."""


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used for a different message."""


@dataclass(frozen=True, slots=True)
class Posted:
    """A chat message as the chat app posts it."""

    chat_id: str
    sender_id: str
    recipient_id: str
    body: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The stored message and the decision about it; `created` is False for a repeated Idempotency-Key."""

    message: ChatMessage
    decision: NotificationDecision
    created: bool


class Notifier:
    """Decides and sends under one lock per recipient, so two messages can never both pass the cooldown."""

    def __init__(
        self,
        *,
        chat: ChatLog,
        users: ChatUsers,
        policy: NotificationPolicy,
        presence: Presence,
        texts: NotificationTexts,
        sender: Sender,
        messages: MessageLog,
        renderer: PromptRenderer,
        redis: Redis,
        clock: Clock,
    ) -> None:
        self._chat = chat
        self._users = users
        self._policy = policy
        self._presence = presence
        self._texts = texts
        self._sender = sender
        self._messages = messages
        self._renderer = renderer
        self._redis = redis
        self._clock = clock

    @asynccontextmanager
    async def _locked(self, recipient_id: str) -> AsyncIterator[None]:
        busy = NotifierBusy("the recipient is busy; try again")
        async with held(self._redis, f"chat-notify:{recipient_id}", timeout=LOCK_SECONDS, wait=10, busy=busy):
            yield

    async def post(self, posted: Posted, idempotency_key: str | None = None) -> Outcome:
        """Store the message and its decision together, then send; a repeated key gets the first outcome."""
        async with self._locked(posted.recipient_id):
            for _ in range(RETRIES):
                if idempotency_key and (earlier := await self._earlier(posted, idempotency_key)):
                    return earlier
                try:
                    return await self._post(posted, idempotency_key)
                except CoverageLost:
                    continue  # a held message was read meanwhile: decide again with what is left
                except IntegrityError:
                    continue  # the same key raced in for another recipient; the lookup above settles it
        raise NotifierBusy("the message could not be stored; try again")

    async def _earlier(self, posted: Posted, key: str) -> Outcome | None:
        message = await self._chat.by_idempotency_key(key)
        if message is None:
            return None
        if (message.chat_id, message.sender_id, message.recipient_id, message.body) != (
            posted.chat_id,
            posted.sender_id,
            posted.recipient_id,
            posted.body,
        ):
            raise IdempotencyConflict("Idempotency-Key was already used for a different message")
        decision = await self._chat.first_decision(message.id)
        assert decision is not None  # written in the same transaction as the message
        return Outcome(message, decision, created=False)

    async def _post(self, posted: Posted, key: str | None) -> Outcome:
        now = self._clock()
        user = await self._users.get(posted.recipient_id)
        decision = await self._policy.decide(posted.recipient_id, user, now)
        message = ChatMessage(
            chat_id=posted.chat_id,
            sender_id=posted.sender_id,
            recipient_id=posted.recipient_id,
            body=posted.body,
            idempotency_key=key,
            created_at=now,
        )
        row = self._row(posted.recipient_id, "message", decision, now)
        if decision.status in ("held", "deferred"):
            message.hold, message.release_at = PENDING, decision.send_at
        if decision.status != "sent" or user is None:
            return Outcome(message, await self._chat.record(row, posted=message), created=True)
        # Texting now: messages held earlier are due as well, so one text covers them all.
        owed, seen = await self._owed(posted.recipient_id)
        sms = await self._compose(user, [*owed, message])
        await self._chat.record(
            row, posted=message, sms=sms, covered=[m.id for m in owed], dropped=[m.id for m in seen]
        )
        await self._deliver(row, sms)
        return Outcome(message, row, created=True)

    async def release(self, recipient_id: str) -> int:
        """Text one digest of the recipient's held messages if due and still wanted; returns texts sent."""
        async with self._locked(recipient_id):
            now = self._clock()
            pending = await self._chat.pending_for(recipient_id)
            due = [m.release_at for m in pending if m.release_at is not None and m.release_at <= now]
            if not due:
                return 0  # someone else released them, or they were moved on, while we waited for the lock
            owed, seen = await self._owed(recipient_id)
            user = await self._users.get(recipient_id)
            decision = (
                await self._policy.decide(recipient_id, user, now)
                if owed
                else Decision("skipped", "recipient_online")  # all read, or seen in the app since
            )
            row = self._row(recipient_id, "digest", decision, now)
            dropped = [m.id for m in seen]
            if decision.status in ("held", "deferred"):
                await self._chat.record(row, dropped=dropped, release_at=decision.send_at)
                return 0
            if decision.status != "sent" or user is None:
                await self._chat.record(row, dropped=[m.id for m in pending])
                return 0
            sms = await self._compose(user, owed)
            await self._chat.record(row, sms=sms, covered=[m.id for m in owed], dropped=dropped)
            return int(await self._deliver(row, sms))

    @staticmethod
    def _row(user_id: str, kind: str, decision: Decision, now: datetime) -> NotificationDecision:
        """The decision's row, counted as it is made."""
        NOTIFICATIONS.labels(kind, decision.status, decision.reason or "").inc()
        return NotificationDecision(
            user_id=user_id,
            kind=kind,
            status=decision.status,
            reason=decision.reason,
            send_at=decision.send_at,
            created_at=now,
        )

    async def _owed(self, recipient_id: str) -> tuple[list[ChatMessage], list[ChatMessage]]:
        """Held messages still owed a text, and those no longer: read, or older than the user's last visit."""
        seen_at = await self._presence.last_online(recipient_id)
        owed, seen = [], []
        for message in await self._chat.pending_for(recipient_id):
            gone = message.read_at is not None or (seen_at is not None and seen_at >= message.created_at)
            (seen if gone else owed).append(message)
        return owed, seen

    async def _compose(self, user: ChatUser, messages: Sequence[ChatMessage]) -> Message:
        """The text for these messages: a preview of one, or a digest of several, ready for the send path."""
        assert user.phone is not None  # the policy only says "sent" for a verified phone
        first_contact = not await self._messages.has_texted(user.phone)
        suffix = await self._renderer.render("disclosure", {}) if first_contact else ""
        names = [
            await self._display_name(sender_id) for sender_id in dict.fromkeys(m.sender_id for m in messages)
        ]
        if len(messages) == 1:
            only = messages[0]
            text = await self._texts.single(
                sender=names[0], body=only.body, chat_id=only.chat_id, suffix=suffix
            )
        else:
            chats = [m.chat_id for m in messages]
            text = await self._texts.digest(senders=names, count=len(messages), chat_ids=chats, suffix=suffix)
        return await self._sender.prepare(
            phone=user.phone,
            text=text,
            kind="notification" if len(messages) == 1 else "digest",
            details={"chat_user": user.external_id, "chat_messages": len(messages)}
            | ({"timezone": user.timezone} if user.timezone else {}),
        )

    async def _display_name(self, user_id: str) -> str:
        user = await self._users.get(user_id)
        return user.name if user is not None and user.name else user_id

    async def _deliver(self, row: NotificationDecision, sms: Message) -> bool:
        """Send through the one send path, then record the SID, or why no text went after all."""
        delivery = await self._sender.deliver(sms)
        if delivery.sent:
            row.sms_sid = delivery.sid
        elif delivery.opted_out:
            # STOP arrived between the decision and the send, or the carrier says the number opted out.
            row.status, row.reason = "skipped", "opted_out"
        elif delivery.outcome == "failed":
            row.status, row.reason = "failed", "send_failed"
        elif delivery.outcome == "held":
            row.reason = "budget_spent"  # staged, and sent by the outbox once the budget allows
        # Queued for a retry, or taken by another process: it still goes (and counts against the caps); its
        # SID and fate land on the message row the decision points at.
        await self._chat.settle_send(row.id, status=row.status, reason=row.reason, sid=row.sms_sid)
        return delivery.sent
