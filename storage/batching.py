"""Coalescing concurrent calls into batches: one round trip for many callers (group commit)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """Calls that arrive while a batch is in flight go out together in the next one.

    Nothing waits for a timer: the first call goes at once, and under load each round trip carries every
    call that queued behind the previous one, up to `max_batch`. `run(items)` returns one result per item,
    in order. If a batch fails, its items are tried one by one, so a single bad item fails only its caller.
    """

    def __init__(
        self, run: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]], *, max_batch: int
    ) -> None:
        self._run = run
        self._max_batch = max_batch
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._flusher is None or self._flusher.done():
            # A context of its own: the batch serves many callers, and must not log as the first one's turn.
            self._flusher = asyncio.create_task(self._flush(), context=contextvars.Context())
        # Shielded: a caller that gives up (a client hung up) must not cancel the batch others share.
        return await asyncio.shield(future)

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
