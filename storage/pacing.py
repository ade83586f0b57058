"""Send slots per sender, shared by every process through Redis: a "next free slot" (GCRA) per sender."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from storage.clock import Clock

# KEYS[1]: the sender's theoretical arrival time (TAT), in microseconds since the epoch.
# ARGV: now, the text's cost (segments × interval), both in µs; "reserve" or "take".
# A reply reserves the next slot whatever its time; a proactive text takes one only if it is free now, so
# it never pushes a reply back by more than its own cost. Returns {granted, slot or the moment one frees}.
# Integers only: Lua numbers become integer replies, and µs since the epoch fit a double exactly.
SCRIPT = """
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
if ARGV[3] == 'take' and tat > now then
  return {0, tat}
end
local slot = math.max(now, tat)
local next_tat = slot + cost
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.floor((next_tat - now) / 1000) + 60000)
return {1, slot}
"""
MICROSECONDS = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Pacer:
    """Hands out one sender's send slots at `rate` segments per second, across every worker."""

    def __init__(self, redis: Redis, *, sender: str, rate: float, clock: Clock) -> None:
        if rate <= 0:
            raise ValueError("a send rate must be positive")
        self._key = f"pace:{sender}"
        self._interval_us = MICROSECONDS / rate
        self._clock = clock
        # EVALSHA with a fallback to EVAL: one round trip per send, atomic on Redis and on fakeredis.
        self._script = redis.register_script(SCRIPT)

    @property
    def interval(self) -> timedelta:
        """The time one segment takes at this sender's rate."""
        return timedelta(microseconds=self._interval_us)

    async def reserve(self, segments: int) -> datetime:
        """The moment this text may go: the next free slot, now reserved for it (replies, confirmations)."""
        _, slot = await self._run(segments, "reserve")
        return slot

    async def take(self, segments: int) -> datetime | None:
        """None if a slot was free now and is taken for this text; else the moment one frees (nothing
        is reserved)."""
        granted, moment = await self._run(segments, "take")
        return None if granted else moment

    async def _run(self, segments: int, mode: str) -> tuple[bool, datetime]:
        now = _microseconds(self._clock())
        cost = round(max(segments, 1) * self._interval_us)
        granted, moment = await self._script(keys=[self._key], args=[now, cost, mode])
        return bool(int(granted)), EPOCH + timedelta(microseconds=int(moment))


def _microseconds(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)
