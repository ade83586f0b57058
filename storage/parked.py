"""Texts the fallback webhook took while the database was away, kept in Redis until they can be recorded."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict

from redis.asyncio import Redis

from storage.messages import InboundText

PHONES = "inbound:parked"  # the set of phones with texts parked
# A phone leaves the set only once its list is empty, atomically: a text parked meanwhile keeps it there.
_FORGET_IF_EMPTY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.call('SREM', KEYS[2], ARGV[1]) end
return 0
"""


def _key(phone: str) -> str:
    return f"inbound:parked:{phone}"


class ParkedTexts:
    """A Redis list of parked texts per phone, oldest first; a text leaves it only once it is recorded."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._forget = redis.register_script(_FORGET_IF_EMPTY)

    async def park(self, text: InboundText) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(_key(text.from_number), json.dumps(asdict(text)))
            pipe.sadd(PHONES, text.from_number)
            await pipe.execute()

    async def waiting(self, phones: Sequence[str]) -> list[bool]:
        """Whether each phone has texts parked: one command for them all."""
        return [bool(found) for found in await self._redis.smismember(PHONES, list(phones))]

    async def record(
        self, accept: Callable[[InboundText], Awaitable[object]], *, phone: str | None = None
    ) -> int:
        """Hand one phone's parked texts (else every phone's) to `accept`, in order; how many there were."""
        phones = [phone] if phone else sorted(await self._redis.smembers(PHONES))
        done = 0
        for each in phones:
            key = _key(each)
            while (raw := await self._redis.lindex(key, 0)) is not None:
                await accept(InboundText(**json.loads(raw)))
                # By value, not by position: another process may have taken this one already. A text
                # accepted twice is still recorded once (its MessageSid).
                await self._redis.lrem(key, 1, raw)
                done += 1
            await self._forget(keys=[key, PHONES], args=[each])
        return done
