"""Chat presence in Redis: when each user last said they were online, shared by every process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

# How long a last-seen time is kept. It outlives the grace period on purpose: a digest held overnight
# still needs to know whether its recipient came back online in the meantime.
LAST_SEEN_TTL_SECONDS = 3 * 24 * 3600


class Presence:
    """Online signals with a grace period: a user is offline only `grace` after their last online signal."""

    def __init__(self, redis: Redis, *, grace_seconds: float) -> None:
        self._redis = redis
        self._grace = timedelta(seconds=grace_seconds)

    @staticmethod
    def _key(user_id: str) -> str:
        return f"presence:{user_id}"

    async def signal(self, user_id: str, *, online: bool, now: datetime) -> None:
        """Record a heartbeat. Going offline keeps the last online time, so the grace period still runs."""
        if not online:
            # A reload or a flaky network often says "offline" and then "online" a second later; the grace
            # period absorbs that, so an offline signal changes nothing here.
            return
        await self._redis.set(self._key(user_id), now.astimezone(UTC).isoformat(), ex=LAST_SEEN_TTL_SECONDS)

    async def last_online(self, user_id: str) -> datetime | None:
        """The time of the user's last online signal, if we still know it."""
        value = await self._redis.get(self._key(user_id))
        if value is None:
            return None
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None

    async def is_online(self, user_id: str, now: datetime) -> bool:
        """Online until the grace period has passed since the last online signal."""
        seen = await self.last_online(user_id)
        return seen is not None and now - seen < self._grace
