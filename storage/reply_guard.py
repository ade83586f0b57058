"""Runaway protection: a cap on automatic replies per number, and a bot-loop detector, in Redis."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis


class ReplyGuard:
    """Says when to stop auto-replying to a number: too many replies, or the same text over and over."""

    def __init__(self, redis: Redis, *, max_replies: int, window_seconds: int, repeat_limit: int) -> None:
        self._redis = redis
        self._max_replies = max_replies
        self._window = window_seconds
        self._repeat_limit = repeat_limit

    async def hold_reason(self, phone: str, text: str, *, turn: int) -> str | None:
        """Count this turn (`turn`: its first inbound text's id); the reason to hold back, or None to answer.

        Turns are counted as sets of ids, so a turn tried again after a failure counts once: only new
        texts from the number can trip the guard, never our own retries.
        """
        fingerprint = hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()[:16]
        replies_key = f"guard:replies:{phone}"
        repeat_key = f"guard:repeat:{phone}:{fingerprint}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(replies_key, turn)
            pipe.expire(replies_key, self._window, nx=True)
            pipe.scard(replies_key)
            pipe.sadd(repeat_key, turn)
            pipe.expire(repeat_key, self._window, nx=True)
            pipe.scard(repeat_key)
            _, _, replies, _, _, repeats = await pipe.execute()
        if repeats > self._repeat_limit:
            return f"the same text arrived {repeats} times in {self._window} s (a loop with another bot?)"
        if replies > self._max_replies:
            return f"more than {self._max_replies} automatic replies in {self._window} s"
        return None
