"""Staff sign-in pieces: signed cookie values, sessions kept in Redis, and a limit on failed sign-ins."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

SESSION_SECONDS = 12 * 3600
DEVICE_SECONDS = 180 * 24 * 3600
# Sign-in tries allowed per account (and per account on a browser it signed in from before) and per
# client address within the window, before a pause.
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_CLIENT = 30
FAILURE_WINDOW_SECONDS = 15 * 60


class Signer:
    """HMAC-SHA256 signatures for cookie values, with the purpose mixed in so one can't stand for another."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def _mac(self, purpose: str, value: str) -> str:
        digest = hmac.new(self._key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def sign(self, purpose: str, value: str) -> str:
        return f"{value}.{self._mac(purpose, value)}"

    def unsign(self, purpose: str, signed: str | None) -> str | None:
        """The value when the signature checks out, else None."""
        value, _, mac = (signed or "").rpartition(".")
        if not value or not hmac.compare_digest(mac, self._mac(purpose, value)):
            return None
        return value


@dataclass(frozen=True, slots=True)
class StaffSession:
    """A signed-in member of staff and the CSRF token their forms carry."""

    id: str
    user: str
    csrf: str


class SessionStore:
    """Server-side sessions: the cookie holds only a signed random id, so signing out really ends it."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    @staticmethod
    def _key(session_id: str) -> str:
        return f"admin:session:{session_id}"

    async def create(self, user: str) -> StaffSession:
        session = StaffSession(id=secrets.token_urlsafe(32), user=user, csrf=secrets.token_urlsafe(32))
        key = self._key(session.id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"user": session.user, "csrf": session.csrf})
            pipe.expire(key, SESSION_SECONDS)
            await pipe.execute()
        return session

    async def get(self, session_id: str) -> StaffSession | None:
        found = await self._redis.hgetall(self._key(session_id))
        if not found.get("user") or not found.get("csrf"):
            return None
        return StaffSession(id=session_id, user=found["user"], csrf=found["csrf"])

    async def end(self, session_id: str) -> None:
        await self._redis.delete(self._key(session_id))


class LoginLimiter:
    """Counts sign-in tries in Redis before the password is checked, so parallel guesses sent to any web
    process can't slip past the limit, and at most a handful per account are ever evaluated.

    Tries from a browser that has signed in as that account before (it holds a signed device cookie) are
    counted apart, so someone guessing from elsewhere can't lock the real user out.
    """

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    @staticmethod
    def _limits(username: str, client: str, device: str | None) -> list[tuple[str, int]]:
        prefix = f"admin:login-tries:user:{username.casefold()}"
        if device:
            return [(f"{prefix}:device:{device}", MAX_FAILURES_PER_USER)]
        client_key = f"admin:login-tries:client:{client}"
        return [(prefix, MAX_FAILURES_PER_USER), (client_key, MAX_FAILURES_PER_CLIENT)]

    async def take_try(self, username: str, client: str, device: str | None = None) -> int:
        """Use up one try before checking a password: 0 when it may go ahead, else seconds to wait."""
        limits = self._limits(username, client, device)
        async with self._redis.pipeline(transaction=True) as pipe:
            for key, _ in limits:
                pipe.incr(key)
                pipe.expire(key, FAILURE_WINDOW_SECONDS, nx=True)
                pipe.ttl(key)
            replies = await pipe.execute()
        waits = [0]
        for index, (_, limit) in enumerate(limits):
            count, _, ttl = replies[index * 3 : index * 3 + 3]
            if int(count) > limit:
                waits.append(max(int(ttl), 1))
        return max(waits)

    async def succeeded(self, username: str, client: str, device: str | None = None) -> None:
        """The password was right: the account's tries start again, and the address gets its try back."""
        (account, _), *rest = self._limits(username, client, device)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(account)
            for key, _ in rest:
                pipe.decr(key)
            await pipe.execute()
