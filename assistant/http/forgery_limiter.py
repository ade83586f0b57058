"""A limit on forged Twilio webhooks per client address, counted in Redis so every web process shares it."""

from __future__ import annotations

import logging
import math

from redis.asyncio import Redis

from assistant.errors import OUTAGES
from storage.clock import Clock

log = logging.getLogger(__name__)


class ForgeryLimiter:
    """Counts webhook requests that failed the signature check, per client address and fixed window.

    Only refusals are counted (a signed request never gets here), so Twilio's own traffic is never refused
    for rate, even from an address that is over the limit.
    """

    def __init__(self, redis: Redis, *, clock: Clock, limit: int, window_seconds: int) -> None:
        self._redis = redis
        self._clock = clock
        self._limit = limit
        self._window = window_seconds
        self._away = False  # Redis failed the last count: said once, not once per forged request

    async def refuse(self, client: str) -> int:
        """Count one forged request from `client`: 0 while under the limit, else seconds to wait."""
        now = self._clock().timestamp()
        # Windows follow the service's clock (shared by every process, and the tests' to move), not Redis's:
        # the key names its window, and its TTL only tidies it away a window later.
        window = int(now // self._window)
        key = f"webhooks:forged:{client}:{window}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, 2 * self._window, nx=True)
                count, _ = await pipe.execute()
        except OUTAGES as exc:
            # Fail open: the signature check still refuses every forged request, only not faster.
            if not self._away:
                log.warning("forged webhooks go unlimited while Redis is away (%s)", type(exc).__name__)
            self._away = True
            return 0
        if self._away:
            log.info("Redis answers again: forged webhooks are rate-limited again")
            self._away = False
        if int(count) <= self._limit:
            return 0
        if int(count) == self._limit + 1:
            log.warning(
                "%s sent more than %d webhooks with a bad signature in %d s: 429 until the window ends",
                client,
                self._limit,
                self._window,
            )
        return max(1, math.ceil((window + 1) * self._window - now))
