"""Open the Redis client: a real server for `redis://`, or an in-process one for `memory://`."""

from __future__ import annotations

from fakeredis import FakeAsyncRedis, FakeServer
from redis.asyncio import BlockingConnectionPool, Redis

DEFAULT_POOL_SIZE = 50
POOL_WAIT_SECONDS = 20.0


def connect_redis(url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Redis:
    """A decoded-strings asyncio client; `memory://` is fakeredis, private to this process."""
    # A blocking pool either way: past `pool_size` connections in use, callers wait for one (up to
    # POOL_WAIT_SECONDS) instead of failing with "Too many connections", as the default pool does at 100 (a
    # worker runs more turns than that at once).
    if url.startswith("memory://"):
        # fakeredis is a maintained in-process Redis (streams, Lua, TTLs) for the one-process default.
        return FakeAsyncRedis(
            server=FakeServer(),
            decode_responses=True,
            connection_pool_class=BlockingConnectionPool,
            max_connections=pool_size,
        )
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=POOL_WAIT_SECONDS,
        decode_responses=True,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)
