"""The work queue of phones with texts to answer: a Redis stream read by a consumer group, or its
in-process twin for the one-process default."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import ResponseError

log = logging.getLogger(__name__)

STREAM = "turns"
GROUP = "workers"
# Far above any backlog; SQL, not the stream, is the record of what still needs an answer.
MAX_LENGTH = 100_000
# How often a take looks for jobs whose consumer died: the look walks the pending list, which under load is
# long, and a lease is far longer than this anyway.
CLAIM_INTERVAL_SECONDS = 1.0
# XADD for each phone in ARGV[2..], the stream trimmed to about ARGV[1] entries.
_ADD_MANY = """
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'phone', ARGV[i])
end
return #ARGV - 1
"""


@dataclass(frozen=True, slots=True)
class TurnJob:
    """One delivery of "this phone has texts waiting"."""

    id: str
    phone: str


class TurnQueue(Protocol):
    """At-least-once delivery of turn jobs: a job taken and not acknowledged within its lease (its taker
    died, or stopped mid-burst) is taken again."""

    consumer: str

    async def ensure_group(self) -> None: ...
    async def enqueue_many(self, phones: Sequence[str]) -> list[None]: ...
    async def take(self, count: int, block_ms: int | None) -> list[TurnJob]: ...
    async def ack_many(self, jobs: Sequence[TurnJob]) -> list[None]: ...
    async def depth(self) -> tuple[int, int]: ...
    async def discard(self) -> None: ...


class RedisTurnQueue:
    """At-least-once delivery with XREADGROUP/XACK; XAUTOCLAIM takes over jobs of dead consumers."""

    def __init__(self, redis: Redis, *, consumer: str, lease_seconds: float, stream: str = STREAM) -> None:
        self._redis = redis
        self.consumer = consumer
        self.stream = stream
        self._lease_ms = int(lease_seconds * 1000)
        self._claim_cursor = "0-0"
        self._next_claim = 0.0  # monotonic time of the next look for dead consumers' jobs
        self._add_many = redis.register_script(_ADD_MANY)

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def enqueue_many(self, phones: Sequence[str]) -> list[None]:
        """A turn for each phone, in one round trip; one result per phone (for `Coalescer`)."""
        if not phones:
            return []
        # One script call, not a pipeline of XADDs: a batch pays for each command it encodes and parses.
        await self._add_many(keys=[self.stream], args=[MAX_LENGTH, *phones])
        return [None] * len(phones)

    async def take(self, count: int, block_ms: int | None) -> list[TurnJob]:
        """Jobs left unacknowledged past the lease first (their worker died), then new ones; `block_ms`
        None returns at once when there are none."""
        jobs = await self._claim(count) if self._claim_due() else []
        if len(jobs) < count:
            response = await self._redis.xreadgroup(
                GROUP, self.consumer, {self.stream: ">"}, count=count - len(jobs), block=block_ms
            )
            for _stream, entries in response or []:
                jobs.extend(self._job(entry_id, fields) for entry_id, fields in entries)
        return jobs

    def _claim_due(self) -> bool:
        """Whether to look for dead consumers' jobs now: at once while a look is under way (its cursor
        is mid-list), else once a CLAIM_INTERVAL_SECONDS."""
        return self._claim_cursor != "0-0" or time.monotonic() >= self._next_claim

    async def _claim(self, count: int) -> list[TurnJob]:
        cursor, claimed, _deleted = await self._redis.xautoclaim(
            self.stream,
            GROUP,
            self.consumer,
            min_idle_time=self._lease_ms,
            start_id=self._claim_cursor,
            count=count,
        )
        self._claim_cursor = cursor
        if cursor == "0-0":  # the whole pending list looked at: rest until the next interval
            self._next_claim = time.monotonic() + CLAIM_INTERVAL_SECONDS
        return [self._job(entry_id, fields) for entry_id, fields in claimed if fields]

    async def ack_many(self, jobs: Sequence[TurnJob]) -> list[None]:
        """Acknowledge and drop finished jobs, in one round trip; one result per job (for `Coalescer`)."""
        ids = [job.id for job in jobs]
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, GROUP, *ids)
            pipe.xdel(self.stream, *ids)
            await pipe.execute()
        return [None] * len(jobs)

    async def depth(self) -> tuple[int, int]:
        """Jobs waiting to be taken, and jobs taken and not yet acknowledged."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self.stream)
            pipe.xpending(self.stream, GROUP)
            length, pending = await pipe.execute()
        return length - pending["pending"], pending["pending"]  # acknowledged jobs are deleted

    async def discard(self) -> None:
        """Drop the stream and its group (a queue private to one process, at its end)."""
        await self._redis.delete(self.stream)

    @staticmethod
    def _job(entry_id: str, fields: dict[str, str]) -> TurnJob:
        return TurnJob(id=entry_id, phone=fields["phone"])


class MemoryTurnQueue:
    """The turn queue of one process, for the in-process default: the Redis stream's deliveries (FIFO,
    leases, jobs taken again once their lease has passed) without encoding a command per job."""

    def __init__(self, *, consumer: str, lease_seconds: float) -> None:
        self.consumer = consumer
        self._lease = lease_seconds
        self._ready: deque[TurnJob] = deque(maxlen=MAX_LENGTH)  # the oldest dropped past it, as XADD MAXLEN
        self._taken: dict[str, tuple[TurnJob, float]] = {}  # by id: the job and when its lease ends
        self._ids = itertools.count(1)
        self._arrived = asyncio.Event()

    async def ensure_group(self) -> None:
        return None

    async def enqueue_many(self, phones: Sequence[str]) -> list[None]:
        self._ready.extend(TurnJob(id=str(next(self._ids)), phone=phone) for phone in phones)
        if phones:
            self._arrived.set()
        return [None] * len(phones)

    async def take(self, count: int, block_ms: int | None) -> list[TurnJob]:
        """Jobs whose lease has passed first, then new ones; waits up to `block_ms` for one (0: for ever,
        as Redis's BLOCK 0), or not at all for None."""
        jobs = self._expired(count)
        if not jobs and not self._ready and block_ms is not None:
            self._arrived.clear()
            try:
                async with asyncio.timeout(block_ms / 1000 if block_ms else None):
                    await self._arrived.wait()
            except TimeoutError:
                return []
        while self._ready and len(jobs) < count:
            jobs.append(self._ready.popleft())
        until = time.monotonic() + self._lease
        for job in jobs:
            # Popped and put back: the dict stays in the order leases end, so a look stops at the first
            # lease still running.
            self._taken.pop(job.id, None)
            self._taken[job.id] = (job, until)
        return jobs

    def _expired(self, count: int) -> list[TurnJob]:
        now = time.monotonic()
        expired = []
        for job, until in self._taken.values():
            if until > now or len(expired) == count:
                break
            expired.append(job)
        return expired

    async def ack_many(self, jobs: Sequence[TurnJob]) -> list[None]:
        for job in jobs:
            self._taken.pop(job.id, None)
        return [None] * len(jobs)

    async def depth(self) -> tuple[int, int]:
        return len(self._ready), len(self._taken)

    async def discard(self) -> None:
        self._ready.clear()
        self._taken.clear()
