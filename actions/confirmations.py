"""Changes waiting for the customer's YES, kept in Redis for a few minutes and written in the asking reply."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from redis.asyncio import Redis

from storage.batching import Coalescer

TAKE_BATCH = 200  # numbers one pipeline takes pending changes for
AFFIRMATIVES = frozenset(
    {"YES", "Y", "YEP", "YEAH", "YES PLEASE", "CONFIRM", "OK", "OKAY", "SURE", "SI", "OUI", "JA"}
)
# Answers that keep the appointment as it is; anything else is a new request.
NEGATIVES = frozenset(
    {
        "NO",
        "N",
        "NOPE",
        "NAH",
        "NO THANKS",
        "NO THANK YOU",
        "DON'T",
        "DONT",
        "NEVER MIND",
        "NEVERMIND",
        "NON",
        "NEIN",
    }
)


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A booking, cancel or move, asked for and not yet confirmed."""

    action: str  # SCHEDULE | CANCEL | UPDATE
    appointment: str  # "" for SCHEDULE: nothing is booked yet
    start: str | None = None  # SCHEDULE, UPDATE: the (new) start, ISO 8601 with offset
    service: str | None = None  # SCHEDULE: the service to book
    language: str = "en"  # the one it was asked in: the answer to the YES or NO is in it too

    @classmethod
    def asked_in(cls, actions: Iterable[Mapping[str, Any]]) -> PendingChange | None:
        """The change a reply asked YES for, from the actions recorded with it (see `booking.ask_to_*`)."""
        for action in actions:
            if action.get("awaiting") == "YES" and action.get("name") in ("SCHEDULE", "CANCEL", "UPDATE"):
                return cls(
                    action["name"],
                    str(action.get("appointment") or ""),
                    start=action.get("start"),
                    service=action.get("service"),
                    language=action.get("language", "en"),
                )
        return None


class PendingConfirmations:
    """At most one pending change per number; it expires, and any other answer drops it."""

    def __init__(self, redis: Redis, *, ttl_seconds: int) -> None:
        self._redis = redis
        self.ttl_seconds = ttl_seconds
        # Concurrent turns take theirs together: one pipeline of GETDELs.
        self._takes = Coalescer(self._take_many, max_batch=TAKE_BATCH)

    @staticmethod
    def _key(phone: str) -> str:
        return f"confirm:{phone}"

    async def ask(self, phone: str, change: PendingChange) -> None:
        await self._redis.set(self._key(phone), json.dumps(asdict(change)), ex=self.ttl_seconds)

    async def take(self, phone: str) -> PendingChange | None:
        """The pending change, removed atomically so two turns can't both carry it out."""
        raw = await self._takes.submit(phone)
        return PendingChange(**json.loads(raw)) if raw else None

    async def _take_many(self, phones: Sequence[str]) -> list[str | None]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for phone in phones:
                pipe.getdel(self._key(phone))
            return list(await pipe.execute())
