"""The work queue of phones with texts to answer: a Redis stream read by a consumer group."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

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


class TurnQueue:
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

    async def discard(self) -> None:
        """Drop the stream and its group (a queue private to one process, at its end)."""
        await self._redis.delete(self.stream)

    @staticmethod
    def _job(entry_id: str, fields: dict[str, str]) -> TurnJob:
        return TurnJob(id=entry_id, phone=fields["phone"])
