"""The worker: takes phones off the queue and answers their pending texts, one phone at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from assistant.conversation import Conversation
from assistant.digests import Digests
from assistant.errors import OUTAGES
from assistant.inbound import Inbound
from assistant.logs import TURN, mask_phone
from assistant.reminders import Reminders
from assistant.sender import Sender
from assistant.staff_alerts import StaffAlerts
from assistant.watch import ServiceWatch
from storage.batching import Coalescer
from storage.clock import Clock
from storage.heartbeats import BEAT_SECONDS, Heartbeats
from storage.locks import held
from storage.messages import AlreadyAnswered, MessageLog
from storage.turn_queue import TurnJob, TurnQueue

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 15.0
OUTBOX_INTERVAL_SECONDS = 2.0  # how often due retries and unanswered hand-overs are looked for
OUTAGE_RETRY_MAX_SECONDS = 10.0  # the longest pause between tries while the database or Redis is away
TURN_ATTEMPTS = 3  # a turn that fails this many times in a row is answered with the apology
TURN_RETRY_PAUSE_SECONDS = 1.0  # times the attempt number
SHUTDOWN_GRACE_SECONDS = 10.0


class _LeftForLater(Exception):
    """A turn still waiting for its burst to settle when the worker stops: nothing done, nothing acked."""


READ_BATCH = 100  # phones whose pending texts one query reads


class Worker:
    """Runs turns concurrently across phones and strictly in order within a phone."""

    def __init__(
        self,
        *,
        queue: TurnQueue,
        messages: MessageLog,
        inbound: Inbound,
        conversation: Conversation,
        sender: Sender,
        redis: Redis,
        burst_window_seconds: float,
        lease_seconds: float,
        concurrency: int,
        reminders: Reminders | None = None,
        digests: Digests | None = None,
        alerts: StaffAlerts | None = None,
        watch: ServiceWatch | None = None,
        heartbeats: Heartbeats,
        clock: Clock,
    ) -> None:
        self._queue = queue
        self._messages = messages
        self._inbound = inbound
        self._conversation = conversation
        self._sender = sender
        self._redis = redis
        self._burst_window = burst_window_seconds
        self._lease = lease_seconds
        self._concurrency = concurrency
        self._reminders = reminders
        self._digests = digests
        self._alerts = alerts
        self._watch = watch
        self._heartbeats = heartbeats
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        # Phones with a turn running here, and the jobs that arrived for them since: rather than wait on the
        # phone's lock (polling Redis), they are acknowledged by that task once it has read the phone again.
        self._running: dict[str, list[TurnJob]] = {}
        # Concurrent turns read their pending texts together: one query for every phone starting a turn.
        self._pending = Coalescer(messages.pending_turns, max_batch=READ_BATCH)
        self._acks = Coalescer(queue.ack_many, max_batch=READ_BATCH)
        # Set when the database or Redis was found away; the first pass that finds them back recovers.
        self._outage = False
        self._stopping = asyncio.Event()  # set by `run`'s caller: turns still settling a burst stand down

    async def run(self, stopping: asyncio.Event) -> None:
        """Work until `stopping` is set, then let turns in flight finish."""
        self._stopping = stopping
        if not await self._start(stopping):
            return
        log.info("worker %s started", self._queue.consumer)
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + SWEEP_INTERVAL_SECONDS
        next_beat = next_outbox = loop.time()
        outbox: asyncio.Task[None] | None = None
        while not stopping.is_set():
            if loop.time() >= next_beat:
                await self._beat()
                next_beat = loop.time() + BEAT_SECONDS
            if loop.time() >= next_outbox and (outbox is None or outbox.done()):
                # Beside the turns, never in their way: one pass at a time.
                outbox = asyncio.create_task(self._send_due())
                next_outbox = loop.time() + OUTBOX_INTERVAL_SECONDS
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
                self._dispatch(job)
            if loop.time() >= next_sweep:
                try:
                    await self.sweep()
                    next_sweep = loop.time() + SWEEP_INTERVAL_SECONDS
                except Exception:
                    # The database (or Redis) is away: keep answering what can be answered, try again soon.
                    log.exception("sweep failed; trying again shortly")
                    next_sweep = loop.time() + OUTAGE_RETRY_MAX_SECONDS
        if outbox is not None:
            await outbox
        if self._tasks:
            _, unfinished = await asyncio.wait(self._tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            # Turns cut short are not lost: their texts stay pending in SQL and their jobs unacknowledged.
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        with contextlib.suppress(RedisError):
            await self._heartbeats.stopped(self._queue.consumer)
        log.info("worker %s stopped", self._queue.consumer)

    async def _start(self, stopping: asyncio.Event) -> bool:
        """Set up the queue and recover from SQL, waiting for Redis and the database if they are away."""
        pause = 1.0
        while not stopping.is_set():
            try:
                await self._queue.ensure_group()
                await self.recover()
                return True
            except OUTAGES as exc:
                log.warning("worker waiting for the database and Redis (%s); retrying in %.0f s", exc, pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=pause)
                pause = min(pause * 2, OUTAGE_RETRY_MAX_SECONDS)
        return False

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
        except Exception as exc:  # still away, or the database is too: the next take tries again
            log.warning("recovery after the queue came back failed: %s", exc)

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
        if self._watch is not None:
            try:
                await self._watch.check()
            except Exception:
                log.exception("budget and delivery check failed; it runs again next sweep")
        if self._alerts is not None:
            try:
                await self._alerts.send_due()
            except Exception:
                # Alerts stay recorded in SQL until told; the next sweep tells them.
                log.exception("staff alert pass failed; it runs again next sweep")

    async def _send_due(self) -> None:
        """The outbox pass: due retries, texts parked during an outage, and recovery once one has ended."""
        try:
            await self._sender.deliver_due()
            await self._inbound.record_parked()  # one SMEMBERS when there are none
            if self._outage:
                # Texts waiting since the outage began are answered now, not a lease later.
                await self.recover()
                self._outage = False
                log.info("the database and Redis are back: waiting texts are queued again")
        except OUTAGES as exc:
            self._outage = True
            log.warning("outbox pass could not reach the database or Redis (%s); trying again shortly", exc)
        except Exception:
            # Whatever is due stays due in SQL; the next pass picks it up.
            log.exception("outbox pass failed; it runs again shortly")

    async def drain(self) -> None:
        """Answer and acknowledge every queued turn, then return: for a process that answers its own queue."""
        await self._queue.ensure_group()
        while jobs := await self._queue.take(self._concurrency, block_ms=None):
            await asyncio.gather(*(task for job in jobs if (task := self._dispatch(job))))

    def _dispatch(self, job: TurnJob) -> asyncio.Task[None] | None:
        """Start the job's turn, or hand it to the turn already running here for its phone."""
        if (arrived := self._running.get(job.phone)) is not None:
            arrived.append(job)
            return None
        self._running[job.phone] = []
        task = asyncio.create_task(self._handle(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _handle(self, job: TurnJob) -> None:
        phone, handled = job.phone, [job]
        try:
            while True:
                await self.answer_phone(phone)
                # Jobs that arrived meanwhile: the phone is read again for them, and they are done with it.
                if not (arrived := self._running[phone]):
                    break
                handled += arrived
                self._running[phone] = []
        except OUTAGES:
            self._outage = True  # the outbox pass queues the phone again as soon as it can
            log.warning("turn for %s waits: the database or Redis is away", mask_phone(phone))
            return
        except _LeftForLater:
            # Unacknowledged: the next worker (or this one, restarted) answers the whole burst.
            log.info("turn for %s left for the next worker: stopping mid-burst", mask_phone(phone))
            return
        except Exception:
            # Left unacknowledged: another worker claims them again once the lease has passed.
            log.exception("turn for %s failed; it will be retried", mask_phone(phone))
            return
        finally:
            # Nothing awaits between the last look at the arrivals and this: none is ever dropped unseen.
            del self._running[phone]
        await asyncio.gather(*(self._acks.submit(done) for done in handled))

    async def answer_phone(self, phone: str) -> None:
        """Answer everything this phone has pending, a burst at a time, holding the phone's lock."""
        busy = TimeoutError(f"phone {mask_phone(phone)} stayed locked for a whole lease")
        lease = self._lease
        async with held(self._redis, f"turn-lock:{phone}", timeout=lease, wait=lease, renew=True, busy=busy):
            await self._answer_pending(phone)

    async def _answer_pending(self, phone: str) -> None:
        failures = 0
        while turn := await self._pending.submit(phone):
            TURN.set(f"turn:{turn.messages[0].id}")  # on every line this turn logs, in JSON logs
            # Let a burst of texts settle so it is answered as one turn.
            quiet_for = (self._clock() - turn.messages[-1].created_at).total_seconds()
            if quiet_for < self._burst_window:
                # A stop doesn't wait for the burst: nothing has been done for it yet.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._burst_window - quiet_for)
                if self._stopping.is_set():
                    raise _LeftForLater
                continue
            try:
                await self._conversation.answer(turn)
                # Done: a text that came in during the turn has a job of its own, which reads it afresh.
                return
            except AlreadyAnswered:
                log.info("turn for %s was answered elsewhere", mask_phone(phone))
            except OUTAGES:
                raise  # not the turn's fault: it is answered properly once the outage is over
            except Exception as exc:
                failures += 1
                if failures < TURN_ATTEMPTS:
                    log.exception("turn for %s failed; trying again", mask_phone(phone))
                    await asyncio.sleep(TURN_RETRY_PAUSE_SECONDS * failures)
                    continue
                # Never silence: the customer hears that we'll be back to them, and staff are told.
                log.exception("turn for %s failed %d times; apologising", mask_phone(phone), failures)
                await self._conversation.apologise(
                    turn, f"the assistant failed to answer ({type(exc).__name__})"
                )
            failures = 0
