"""The Redis client's pool: more commands at once than it has connections wait their turn, never fail."""

from __future__ import annotations

import asyncio

import pytest

from storage.redis import connect_redis


@pytest.mark.parametrize("in_process", [True, False], ids=["memory", "configured"])
async def test_more_commands_at_once_than_connections_all_succeed(redis_url: str, in_process: bool) -> None:
    """A worker runs hundreds of turns at once, each taking its phone's lock: none may see "Too many
    connections" (it reads as Redis being away), in the in-process default or on a server."""
    client = connect_redis("memory://" if in_process else redis_url, pool_size=4)
    try:
        counts = await asyncio.gather(*(client.incr("pool-test") for _ in range(300)))
        await client.delete("pool-test")
    finally:
        await client.aclose()
    assert sorted(counts) == list(range(1, 301))
