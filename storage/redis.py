"""Open the Redis client: a real server for `redis://`, or an in-process one for `memory://`."""

from __future__ import annotations

from fakeredis import FakeAsyncRedis, FakeServer
from redis.asyncio import Redis


def connect_redis(url: str) -> Redis:
    """A decoded-strings asyncio client; `memory://` is fakeredis, private to this process."""
    if url.startswith("memory://"):
        # fakeredis is a maintained in-process Redis (streams, Lua, TTLs) for the one-process default.
        return FakeAsyncRedis(server=FakeServer(), decode_responses=True)
    return Redis.from_url(url, decode_responses=True, health_check_interval=30)
