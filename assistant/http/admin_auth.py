"""Staff sign-in pieces: signed cookie values, sessions kept in Redis, and a limit on failed sign-ins."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

SESSION_SECONDS = 12 * 3600
# Failed sign-ins allowed per username and per client address within the window, before a pause.
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
    """Counts failed sign-ins per username and per client in Redis, so every web process shares the count."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    @staticmethod
    def _keys(username: str, client: str) -> tuple[str, str]:
        return f"admin:login-failures:user:{username.casefold()}", f"admin:login-failures:client:{client}"

    async def wait_seconds(self, username: str, client: str) -> int:
        """How long this username or client must wait before trying again; 0 when it may try now."""
        user_key, client_key = self._keys(username, client)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(user_key)
            pipe.ttl(user_key)
            pipe.get(client_key)
            pipe.ttl(client_key)
            user_count, user_ttl, client_count, client_ttl = await pipe.execute()
        waits = [0]
        if int(user_count or 0) >= MAX_FAILURES_PER_USER:
            waits.append(max(int(user_ttl), 1))
        if int(client_count or 0) >= MAX_FAILURES_PER_CLIENT:
            waits.append(max(int(client_ttl), 1))
        return max(waits)

    async def failed(self, username: str, client: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in self._keys(username, client):
                pipe.incr(key)
                pipe.expire(key, FAILURE_WINDOW_SECONDS, nx=True)
            await pipe.execute()

    async def succeeded(self, username: str) -> None:
        await self._redis.delete(self._keys(username, "")[0])
