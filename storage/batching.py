"""Coalescing concurrent calls into batches: one round trip for many callers (group commit), and batches
shaped so that their SQL takes one of a few texts."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """Calls that arrive while a batch is in flight go out together in the next one.

    Nothing waits for a timer: the first call goes at once, and under load each round trip carries every
    call that queued behind the previous one, up to `max_batch`. `run(items)` returns one result per item,
    in order. If a batch fails, its items are tried one by one, so a single bad item fails only its caller.
    With `in_flight` above 1, that many batches may be under way at once: a batch of several round trips in
    turn then overlaps the next one's (calls that must keep their order must not share such a coalescer).
    A further batch starts beside the running ones only once `overlap_from` calls wait; fewer wait for the
    next batch of a running one, since a batch of a few calls costs nearly what a full one does.
    """

    def __init__(
        self,
        run: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        max_batch: int,
        in_flight: int = 1,
        overlap_from: int = 1,
    ) -> None:
        self._run = run
        self._max_batch = max_batch
        self._in_flight = in_flight
        self._overlap_from = overlap_from
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flushers: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        # Not len(): a flusher that has just finished stays in the set until its done-callback runs.
        running = sum(not flusher.done() for flusher in self._flushers)
        if not running or (running < self._in_flight and len(self._queue) >= self._overlap_from):
            # A context of its own: the batch serves many callers, and must not log as the first one's turn.
            flusher = asyncio.create_task(self._flush(), context=contextvars.Context())
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        # A caller that gives up (a client hung up) cancels only its own future: the batch, another task,
        # goes on for the others, and skips a result nobody waits for.
        return await future

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            try:
                await self._settle(batch)
            except asyncio.CancelledError:  # shutting down: nobody waits for ever
                for _, future in batch + self._queue:
                    future.cancel()
                raise

    async def _settle(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
        except Exception as exc:
            if len(batch) > 1:
                for single in batch:
                    await self._settle([single])
                return
            _, future = batch[0]
            if not future.done():
                future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


# An expanding IN renders one SQL text per list length, and so does a multi-row INSERT per row count. asyncpg
# prepares every text it is sent and keeps it on its pooled connection (SQLAlchemy's cache: 100 per
# connection), so batches of every size from 1 to 100 grew a worker by hundreds of statements a round, some
# 10-25 KiB each, never returned. Lengths that are powers of two keep each statement to a few texts.


def padded(values: Iterable[Item]) -> list[Item]:
    """The values for an IN list, the last repeated up to the next power of two: the same rows match."""
    listed = list(values)
    if len(listed) > 1:
        listed += listed[-1:] * ((1 << (len(listed) - 1).bit_length()) - len(listed))
    return listed


def power_of_two_parts(rows: Sequence[Item]) -> list[Sequence[Item]]:
    """The rows in order, in parts whose lengths are powers of two (100 rows: 64, 32, 4)."""
    parts: list[Sequence[Item]] = []
    start = 0
    for bit in reversed(range(len(rows).bit_length())):
        if len(rows) >> bit & 1:
            parts.append(rows[start : start + (1 << bit)])
            start += 1 << bit
    return parts
