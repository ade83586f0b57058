"""The Redis window over each conversation: the last few turns, expiring after a silence."""

from __future__ import annotations

import json
from collections.abc import Sequence
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
        self.size = size
        self._ttl = ttl_seconds

    @staticmethod
    def _key(phone: str) -> str:
        return f"history:{phone}"

    async def window(self, phone: str) -> list[Turn] | None:
        """The remembered turns, oldest first; None when nothing is remembered (expired, or Redis lost)."""
        raw = await self._redis.lrange(self._key(phone), -self.size, -1)
        return [json.loads(item) for item in raw] if raw else None

    async def fill(self, phone: str, turns: Sequence[Turn]) -> None:
        """Start a window with these turns (rebuilt from the record)."""
        await self._push(phone, turns, only_if_remembered=False)

    async def extend(self, phone: str, turns: Sequence[Turn]) -> None:
        """Add turns to a remembered window; a forgotten one stays forgotten, to be rebuilt whole."""
        await self._push(phone, turns, only_if_remembered=True)

    async def forget(self, phone: str) -> None:
        await self._redis.delete(self._key(phone))

    async def _push(self, phone: str, turns: Sequence[Turn], *, only_if_remembered: bool) -> None:
        if not turns:
            return
        key, items = self._key(phone), [json.dumps(turn) for turn in turns]
        async with self._redis.pipeline(transaction=True) as pipe:
            # RPUSHX appends only to a list that exists: a window missing its start is never begun.
            (pipe.rpushx if only_if_remembered else pipe.rpush)(key, *items)
            pipe.ltrim(key, -self.size, -1)
            pipe.expire(key, self._ttl)
            await pipe.execute()
