"""The Redis window over each conversation: the last few turns, expiring after a silence."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal, TypedDict

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from storage.batching import Coalescer

BATCH = 200  # windows one pipeline reads or extends


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
        # Concurrent turns share round trips: one pipeline reads (or extends) every window asked for.
        self._reads = Coalescer(self._windows, max_batch=BATCH)
        self._extends = Coalescer(self._extend_many, max_batch=BATCH)

    @staticmethod
    def _key(phone: str) -> str:
        return f"history:{phone}"

    async def window(self, phone: str) -> list[Turn] | None:
        """The remembered turns, oldest first; None when nothing is remembered (expired, or Redis lost)."""
        return await self._reads.submit(phone)

    async def _windows(self, phones: Sequence[str]) -> list[list[Turn] | None]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for phone in phones:
                pipe.lrange(self._key(phone), -self.size, -1)
            found = await pipe.execute()
        return [[json.loads(item) for item in raw] if raw else None for raw in found]

    async def extend(self, phone: str, turns: Sequence[Turn], *, begin: bool = False) -> None:
        """Add turns to a remembered window; a forgotten one stays forgotten, to be rebuilt whole, unless
        `begin`: these turns are the whole conversation so far (a first contact's, or rebuilt from the
        record), so they start it."""
        if turns:
            await self._extends.submit((phone, turns, begin))

    async def _extend_many(self, additions: Sequence[tuple[str, Sequence[Turn], bool]]) -> list[None]:
        async with self._redis.pipeline(transaction=True) as pipe:
            for phone, turns, begin in additions:
                self._push(pipe, phone, turns, only_if_remembered=not begin)
            await pipe.execute()
        return [None] * len(additions)

    async def forget(self, phone: str) -> None:
        await self._redis.delete(self._key(phone))

    def _push(self, pipe: Pipeline, phone: str, turns: Sequence[Turn], *, only_if_remembered: bool) -> None:
        """Queue the turns' append on `pipe`, keeping the window to its size and its expiry."""
        key = self._key(phone)
        # RPUSHX appends only to a list that exists: a window missing its start is never begun.
        (pipe.rpushx if only_if_remembered else pipe.rpush)(key, *(json.dumps(turn) for turn in turns))
        pipe.ltrim(key, -self.size, -1)
        pipe.expire(key, self._ttl)
