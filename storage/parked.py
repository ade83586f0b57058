"""Texts the fallback webhook took while the database was away, kept in Redis until they can be recorded."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict

from redis.asyncio import Redis

from storage.messages import InboundText

KEY = "inbound:parked"


class ParkedTexts:
    """A Redis list of inbound texts, oldest first; each leaves it only once it has been recorded."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def park(self, text: InboundText) -> None:
        await self._redis.rpush(KEY, json.dumps(asdict(text)))

    async def record(self, accept: Callable[[InboundText], Awaitable[object]], limit: int = 1000) -> int:
        """Hand each parked text to `accept`, in order, and drop it once accepted; how many were."""
        done = 0
        while done < limit and (raw := await self._redis.lindex(KEY, 0)) is not None:
            await accept(InboundText(**json.loads(raw)))
            # By value, not by position: another worker may have taken this one already. A text accepted
            # twice is still recorded once (its MessageSid).
            await self._redis.lrem(KEY, 1, raw)
            done += 1
        return done
