"""Recent conversation history per phone, kept in Redis and rebuilt from SQL when missing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Literal, TypedDict

from redis.asyncio import Redis


class Turn(TypedDict):
    """One remembered message: who said it and what."""

    role: Literal["user", "assistant"]
    content: str


class ConversationHistory:
    """The last `size` messages of each conversation, expiring after `ttl_seconds` of silence."""

    def __init__(self, redis: Redis, *, size: int, ttl_seconds: int) -> None:
        self._redis = redis
        self._size = size
        self._ttl = ttl_seconds

    @staticmethod
    def _key(phone: str) -> str:
        return f"history:{phone}"

    async def recent(self, phone: str, rebuild: Callable[[int], Awaitable[list[Turn]]]) -> list[Turn]:
        """The remembered turns, oldest first; on a miss, `rebuild(size)` loads them (from SQL)."""
        raw = await self._redis.lrange(self._key(phone), -self._size, -1)
        if raw:
            return [json.loads(item) for item in raw]
        turns = await rebuild(self._size)
        if turns:
            await self._push(phone, turns)
        return turns

    async def append(self, phone: str, *turns: Turn) -> None:
        await self._push(phone, list(turns))

    async def forget(self, phone: str) -> None:
        await self._redis.delete(self._key(phone))

    async def _push(self, phone: str, turns: list[Turn]) -> None:
        key = self._key(phone)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, *(json.dumps(turn) for turn in turns))
            pipe.ltrim(key, -self._size, -1)
            pipe.expire(key, self._ttl)
            await pipe.execute()
