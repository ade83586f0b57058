"""Runaway protection: a cap on automatic replies per number, and a bot-loop detector, in Redis."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from redis.asyncio import Redis

from storage.batching import Coalescer

BATCH = 200  # turns one MULTI/EXEC counts


class ReplyGuard:
    """Says when to stop auto-replying to a number: too many replies, or the same text over and over."""

    def __init__(self, redis: Redis, *, max_replies: int, window_seconds: int, repeat_limit: int) -> None:
        self._redis = redis
        self._max_replies = max_replies
        self._window = window_seconds
        self._repeat_limit = repeat_limit
        # Concurrent turns are counted together: one MULTI/EXEC for every turn starting now.
        self._counts = Coalescer(self._count_many, max_batch=BATCH)

    async def hold_reason(self, phone: str, text: str, *, turn: int) -> str | None:
        """Count this turn (`turn`: its first inbound text's id); the reason to hold back, or None to answer.

        Turns are counted as sets of ids, so a turn tried again after a failure counts once: only new
        texts from the number can trip the guard, never our own retries.
        """
        replies, repeats = await self._counts.submit((phone, text, turn))
        if repeats > self._repeat_limit:
            return f"the same text arrived {repeats} times in {self._window} s (a loop with another bot?)"
        if replies > self._max_replies:
            return f"more than {self._max_replies} automatic replies in {self._window} s"
        return None

    async def _count_many(self, turns: Sequence[tuple[str, str, int]]) -> list[tuple[int, int]]:
        """Add each turn to its number's reply set and to its text's repeat set; both sizes after."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for phone, text, turn in turns:
                fingerprint = hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()[:16]
                for key in (f"guard:replies:{phone}", f"guard:repeat:{phone}:{fingerprint}"):
                    pipe.sadd(key, turn)
                    pipe.expire(key, self._window, nx=True)
                    pipe.scard(key)
            counts = await pipe.execute()
        # Three replies per key, two keys per turn: the sizes are every third, from the third.
        sizes = counts[2::3]
        return [(sizes[2 * index], sizes[2 * index + 1]) for index in range(len(turns))]
