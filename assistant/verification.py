"""Double opt-in: a one-time code texted to a chat user's phone, which the chat app sends back to confirm."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from assistant.logs import mask_phone
from assistant.sender import Sender
from prompts.renderer import PromptRenderer
from storage.chat_tables import ChatUser, PhoneVerification
from storage.chat_users import ChatUsers, UserChange
from storage.clock import Clock
from storage.locks import held

log = logging.getLogger(__name__)

CODE_DIGITS = 6
LOCK_SECONDS = 30.0
# A new code for the same phone keeps the wrong tries of the one it replaces for this long, so re-sending
# (or toggling the opt-in, or the phone) never buys another five guesses.
TRIES_WINDOW = timedelta(hours=1)


class UserBusy(Exception):
    """Another request held this user's lock for too long; the caller may retry."""


def code_hash(salt: str, code: str) -> str:
    """The stored form of a code: a salted SHA-256, so the table never holds a usable code."""
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of entering a code: the verified user, or an HTTP status and a reason."""

    user: ChatUser | None
    status: int = 200
    error: str = ""


class PhoneVerifier:
    """Sends codes through the one send path (consent and the STOP disclosure apply) and checks them."""

    def __init__(
        self,
        *,
        users: ChatUsers,
        sender: Sender,
        redis: Redis,
        renderer: PromptRenderer,
        business: dict[str, Any],
        ttl_seconds: int,
        max_attempts: int,
        clock: Clock,
    ) -> None:
        self._users = users
        self._sender = sender
        self._redis = redis
        self._renderer = renderer
        self._business = business
        self._ttl = timedelta(seconds=ttl_seconds)
        self._max_attempts = max_attempts
        self._clock = clock

    async def save_user(self, external_id: str, fields: dict[str, object]) -> tuple[UserChange, str | None]:
        """Save a user's profile, texting a code when an opted-in phone is new or changed: "code_sent"."""
        busy = UserBusy("the user is being changed by another request; try again")
        async with held(self._redis, f"chat-user:{external_id}", timeout=LOCK_SECONDS, wait=10, busy=busy):
            # Under the lock, so two racing PUTs can't both find no code waiting and text two codes.
            change = await self._users.save(external_id, fields, self._clock())
            if not change.needs_code:
                return change, None
            return change, "code_sent" if await self.send_code(change.user) else "code_not_sent"

    async def send_code(self, user: ChatUser) -> bool:
        """Text a fresh code to the user's phone; False when it could not go (opted out, or refused)."""
        if not user.phone:
            return False
        now = self._clock()
        tries_used = await self._tries_used(user, now)
        if tries_used >= self._max_attempts:
            log.info("verification code to %s not sent: its tries are used up", mask_phone(user.phone))
            return False
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        values = {"business": self._business, "code": code, "minutes": int(self._ttl.total_seconds() // 60)}
        text = await self._renderer.render("verification", values)
        sms = await self._sender.prepare(
            phone=user.phone,
            text=text,
            kind="verification",
            details={"chat_user": user.external_id},
        )
        salt = secrets.token_hex(16)
        row = PhoneVerification(
            user_id=user.id,
            phone=user.phone,
            salt=salt,
            code_hash=code_hash(salt, code),
            attempts=tries_used,
            expires_at=now + self._ttl,
            created_at=now,
        )
        await self._users.add_code(row, sms)
        delivery = await self._sender.deliver(sms)
        if delivery.outcome in ("suppressed", "failed"):
            await self._users.expire_code(row.id, now)
            log.info("verification code to %s was not sent", mask_phone(user.phone))
            return False
        return True  # sent, or queued to be retried: the code works when it arrives

    async def _tries_used(self, user: ChatUser, now: datetime) -> int:
        """Wrong tries spent on this phone's codes within the window."""
        latest = await self._users.latest_code(user)
        recent = latest is not None and latest.verified_at is None and latest.created_at > now - TRIES_WINDOW
        return latest.attempts if recent else 0

    async def check(self, user: ChatUser, code: str) -> CheckResult:
        """Confirm the phone with the code: 400 when wrong or expired, 429 once the tries are used up."""
        if user.phone_verified_at is not None:
            return CheckResult(user)
        latest = await self._users.latest_code(user) if user.phone else None
        if latest is None or latest.verified_at is not None:
            return CheckResult(
                None, 400, "no code is waiting for this phone: PUT the user with smsOptIn to send one"
            )
        now = self._clock()
        if latest.attempts >= self._max_attempts:
            return self._spent(latest)
        if latest.expires_at <= now:
            return CheckResult(None, 400, "the code has expired: PUT the user again to send a new one")
        if not await self._users.count_attempt(latest.id, self._max_attempts):
            return self._spent(latest)
        if not hmac.compare_digest(code_hash(latest.salt, code), latest.code_hash):
            left = self._max_attempts - latest.attempts - 1
            if left <= 0:
                await self._users.expire_code(latest.id, now)
            return CheckResult(None, 400, f"wrong code ({left} {'try' if left == 1 else 'tries'} left)")
        confirmed = await self._users.confirm(latest, now)
        if confirmed is None:
            return CheckResult(None, 400, "the phone changed since the code was sent: enter the newest code")
        return CheckResult(confirmed)

    @staticmethod
    def _spent(code: PhoneVerification) -> CheckResult:
        again = (code.created_at + TRIES_WINDOW).strftime("%Y-%m-%d %H:%M UTC")
        error = f"too many wrong codes: PUT the user again after {again} for a new code"
        return CheckResult(None, 429, error)
