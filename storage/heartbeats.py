"""Worker heartbeats in Redis: each worker beats while it runs, so any process can tell who is alive."""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis

from storage.clock import Clock

KEY = "workers:heartbeats"
BEAT_SECONDS = 5.0
# A worker that missed this many seconds of beats is taken for dead (three beats, and a little slack).
ALIVE_SECONDS = 20.0
# Long-dead workers are forgotten, so the set stays as small as the fleet.
FORGET_AFTER = timedelta(hours=1)


class Heartbeats:
    """A sorted set of worker names scored by their last beat."""

    def __init__(self, redis: Redis, *, clock: Clock) -> None:
        self._redis = redis
        self._clock = clock

    async def beat(self, worker: str) -> None:
        await self._redis.zadd(KEY, {worker: self._clock().timestamp()})

    async def stopped(self, worker: str) -> None:
        """A clean stop: the worker is gone at once rather than after ALIVE_SECONDS."""
        await self._redis.zrem(KEY, worker)

    async def alive(self) -> list[str]:
        """The workers that beat recently."""
        now = self._clock()
        await self._redis.zremrangebyscore(KEY, "-inf", (now - FORGET_AFTER).timestamp())
        since = now.timestamp() - ALIVE_SECONDS
        return list(await self._redis.zrangebyscore(KEY, since, "+inf"))
