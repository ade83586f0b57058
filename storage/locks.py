"""Locks across processes, taken one way each: a Redis lock around a piece of work, a SQL one for a write."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)


class Busy(Exception):
    """Someone else held the lock for the whole wait."""


@contextlib.asynccontextmanager
async def held(
    redis: Redis,
    name: str,
    *,
    timeout: float,
    wait: float,
    renew: bool = False,
    busy: Exception | None = None,
) -> AsyncIterator[None]:
    """Hold the lock `name` for the block; raise `busy` (or `Busy`) if another holds it for `wait` seconds.

    It expires `timeout` seconds after it was taken (so a crashed holder cannot keep it), unless `renew`
    keeps extending it while the block runs (for work of unknown length, like a turn waiting on the LLM).
    """
    lock = redis.lock(name, timeout=timeout, blocking_timeout=wait)
    if not await lock.acquire():
        raise busy or Busy(f"{name} stayed locked for {wait:g} s")
    keeper = asyncio.create_task(_keep(lock, timeout)) if renew else None
    try:
        yield
    finally:
        if keeper is not None:
            keeper.cancel()
        try:
            await lock.release()
        except LockError:
            log.warning("lock %s expired before its work ended", name.split(":", 1)[0])


async def _keep(lock: Lock, timeout: float) -> None:
    """Renew the lock every third of its timeout, so slow work never lets a second holder in."""
    while True:
        await asyncio.sleep(timeout / 3)
        try:
            await lock.reacquire()
        except (LockError, RedisError) as exc:
            log.warning("could not renew a lock: %s", exc)
            return


async def hold_write_lock(session: AsyncSession, *, key: int, table: str) -> None:
    """PostgreSQL: an advisory lock on `key`. SQLite: its single write lock, taken now with a no-op write."""
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(key)))
    elif dialect == "sqlite":
        # pysqlite opens a transaction only at the first write, so a no-op write goes first: reads that
        # follow can't be stale, even across processes.
        await session.execute(text(f"UPDATE {table} SET id = id WHERE 0"))
