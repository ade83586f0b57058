"""Serialise one kind of write across processes for the rest of a transaction."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession


async def hold_write_lock(session: AsyncSession, *, key: int, table: str) -> None:
    """PostgreSQL: an advisory lock on `key`. SQLite: its single write lock, taken now with a no-op write."""
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(key)))
    elif dialect == "sqlite":
        # pysqlite opens a transaction only at the first write, so a no-op write goes first: reads that
        # follow can't be stale, even across processes.
        await session.execute(text(f"UPDATE {table} SET id = id WHERE 0"))
