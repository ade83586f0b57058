"""The worker: takes phones off the queue and answers their pending texts, one phone at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from assistant.clock import Clock
from assistant.conversation import Conversation
from assistant.digests import Digests
from assistant.logs import mask_phone
from assistant.reminders import Reminders
from assistant.sender import Sender
from storage.heartbeats import BEAT_SECONDS, Heartbeats
from storage.locks import held
from storage.messages import AlreadyAnswered, MessageLog
from storage.turn_queue import TurnJob, TurnQueue

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 15.0
SHUTDOWN_GRACE_SECONDS = 10.0


class Worker:
    """Runs turns concurrently across phones and strictly in order within a phone."""

    def __init__(
        self,
        *,
        queue: TurnQueue,
        messages: MessageLog,
        conversation: Conversation,
        sender: Sender,
        redis: Redis,
        burst_window_seconds: float,
        lease_seconds: float,
        concurrency: int,
        reminders: Reminders | None = None,
        digests: Digests | None = None,
        heartbeats: Heartbeats,
        clock: Clock,
    ) -> None:
        self._queue = queue
        self._messages = messages
        self._conversation = conversation
        self._sender = sender
        self._redis = redis
        self._burst_window = burst_window_seconds
        self._lease = lease_seconds
        self._concurrency = concurrency
        self._reminders = reminders
        self._digests = digests
        self._heartbeats = heartbeats
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Work until `stopping` is set, then let turns in flight finish."""
        await self._queue.ensure_group()
        await self.recover()
        log.info("worker %s started", self._queue.consumer)
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + SWEEP_INTERVAL_SECONDS
        next_beat = loop.time()
        while not stopping.is_set():
            if loop.time() >= next_beat:
                await self._beat()
                next_beat = loop.time() + BEAT_SECONDS
            free = self._concurrency - len(self._tasks)
            if free <= 0:
                await asyncio.wait(self._tasks, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                jobs = await self._queue.take(free, block_ms=500)
            except RedisError as exc:
                await self._reconnect(exc)
                continue
            for job in jobs:
                task = asyncio.create_task(self._handle(job))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if loop.time() >= next_sweep:
                await self.sweep()
                next_sweep = loop.time() + SWEEP_INTERVAL_SECONDS
        if self._tasks:
            _, unfinished = await asyncio.wait(self._tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            # Turns cut short are not lost: their texts stay pending in SQL and their jobs unacknowledged.
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        with contextlib.suppress(RedisError):
            await self._heartbeats.stopped(self._queue.consumer)
        log.info("worker %s stopped", self._queue.consumer)

    async def _beat(self) -> None:
        """Tell other processes (and /readyz) this worker is alive; a missed beat is only a late one."""
        try:
            await self._heartbeats.beat(self._queue.consumer)
        except RedisError as exc:
            log.warning("could not record the worker heartbeat: %s", exc)

    async def _reconnect(self, error: RedisError) -> None:
        """Redis went away or was flushed: back off, rebuild the group, and re-queue from SQL."""
        log.warning("queue unavailable (%s); retrying", error)
        await asyncio.sleep(1.0)
        try:
            await self._queue.ensure_group()
            await self.recover()
        except RedisError:
            return

    async def recover(self) -> None:
        """SQL is the record: queue every phone still waiting, and send replies recorded but never sent."""
        await self._queue.enqueue_many(await self._messages.pending_phones())
        await self._sender.deliver_unsent()

    async def sweep(self) -> None:
        """Re-queue phones whose texts waited longer than a lease; send due reminders and chat digests."""
        await self._queue.enqueue_many(await self._messages.pending_phones(older_than_seconds=self._lease))
        if self._reminders is not None:
            try:
                await self._reminders.send_due()
            except Exception:
                # A failed reminder pass (say, the database blinked) must not stop the worker answering texts.
                log.exception("reminder pass failed; it runs again next sweep")
        if self._digests is not None:
            try:
                await self._digests.send_due()
            except Exception:
                # Held chat notifications stay held in SQL; the next sweep sends them.
                log.exception("digest pass failed; it runs again next sweep")

    async def _handle(self, job: TurnJob) -> None:
        try:
            await self.answer_phone(job.phone)
        except Exception:
            # Left unacknowledged: another worker claims it again once the lease has passed.
            log.exception("turn for %s failed; it will be retried", mask_phone(job.phone))
            return
        await self._queue.ack(job)

    async def answer_phone(self, phone: str) -> None:
        """Answer everything this phone has pending, a burst at a time, holding the phone's lock."""
        busy = TimeoutError(f"phone {mask_phone(phone)} stayed locked for a whole lease")
        lease = self._lease
        async with held(self._redis, f"turn-lock:{phone}", timeout=lease, wait=lease, renew=True, busy=busy):
            await self._answer_pending(phone)

    async def _answer_pending(self, phone: str) -> None:
        while pending := await self._messages.pending_for(phone):
            # Let a burst of texts settle so it is answered as one turn.
            quiet_for = (self._clock() - pending[-1].created_at).total_seconds()
            if quiet_for < self._burst_window:
                await asyncio.sleep(self._burst_window - quiet_for)
                continue
            try:
                await self._conversation.answer(phone, pending)
            except AlreadyAnswered:
                log.info("turn for %s was answered elsewhere", mask_phone(phone))
