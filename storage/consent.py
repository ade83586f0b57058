"""The consent book: each number's opt-in/opt-out state per sender scope, and its tamper-evident ledger.

The ledger (`consent_events`) is append-only and hash-chained over the whole table: each entry stores the
previous entry's hash and `sha256(prev_hash + canonical JSON of its own immutable fields)`. An entry is
appended when a number's state changes, and for every HELP; a repeated STOP (or START) from a number
already in that state appends nothing and reports `changed=False`, so the caller sends no second
confirmation. `confirmation_sid` is outside the hash: it is only known after the confirmation is sent,
once the entry is already committed. Deleting the newest entries can't be seen from inside the chain;
`VerifyResult.head_hash` is what to keep elsewhere to detect that.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import ColumnElement, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.batching import Coalescer
from storage.clock import Clock
from storage.locks import hold_write_lock
from storage.tables import Consent, ConsentEvent

log = logging.getLogger(__name__)

OPTED_IN = "opted_in"
OPTED_OUT = "opted_out"
# The state each event leads to; HELP leaves the state as it is.
EVENTS: dict[str, str | None] = {"opt_out": OPTED_OUT, "opt_in": OPTED_IN, "help": None}
SOURCES = frozenset({"keyword", "phrase", "twilio_advanced_opt_out", "carrier_21610", "api", "staff"})
GENESIS = "0" * 64  # the prev_hash of the first entry
HASHED_FIELDS = ("phone", "scope", "event", "raw_text", "matched", "source", "inbound_sid", "created_at")
STATE_COLUMNS = ("phone", "scope", "state", "source", "keyword", "at")
HISTORY_COLUMNS = (
    "id",
    "phone",
    "scope",
    "event",
    "source",
    "matched",
    "raw_text",
    "inbound_sid",
    "confirmation_sid",
    "at",
)
CACHE_TTL_SECONDS = 86_400
CACHE_BATCH = 200  # states one pipeline caches
# Any constant will do, as long as every process appending to this database uses the same one.
LEDGER_LOCK_KEY = 0x534D5343_4F4E5345  # "SMSCONSE"
# Spreadsheets run cells starting with these as formulas; customers' texts must stay plain data.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_PHONE = re.compile(r"\+\d{1,15}")


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """What `record` did: the ledger entry (None if nothing was appended), the state now, and if it moved."""

    event_id: int | None
    state: str
    changed: bool


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of re-checking every hash and link of the ledger."""

    ok: bool
    rows: int
    first_bad_id: int | None
    reason: str
    head_hash: str | None = None  # the last entry's hash when intact; keep it elsewhere to detect truncation


def iso_utc(moment: datetime) -> str:
    """A timestamp as ISO 8601 in UTC with microseconds, the one form the hash and the exports use."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The hex sha256 chaining one ledger entry to the one before it."""
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["created_at"] = iso_utc(payload["created_at"])
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256((prev_hash + canonical).encode("ascii")).hexdigest()


def to_csv(rows: Sequence[Mapping[str, Any]], *, history: bool) -> str:
    """An export as CSV with its header row, which is there even when no number has a state yet."""
    out = io.StringIO()
    columns = HISTORY_COLUMNS if history else STATE_COLUMNS
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)
    return out.getvalue()


def _row(record: Consent | ConsentEvent, columns: Sequence[str], at: datetime) -> dict[str, Any]:
    """One export row: the named attributes in order, then "at" as ISO 8601 UTC."""
    return {**{name: getattr(record, name) for name in columns if name != "at"}, "at": iso_utc(at)}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not PLAIN_PHONE.fullmatch(value):
        return "'" + value
    return value


def state_of(phone: str | ColumnElement[str], scope: str) -> Select[tuple[str]]:
    """The number's recorded state toward `scope` (no row: never opted out, so opted in)."""
    return select(Consent.state).where(Consent.phone == phone, Consent.scope == scope)


class ConsentBook:
    """Records opt-outs, opt-ins and HELPs for one sender scope; answers whether a number may be texted."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], redis: Redis, *, scope: str, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._redis = redis
        self._scope = scope
        # Keeps this process's appends queued here rather than each holding a pooled connection while
        # it waits for the database lock, which is what serialises appends across processes.
        self._lock = asyncio.Lock()
        # States read with concurrent turns are cached together: one pipeline of SET NX.
        self._remembered = Coalescer(self._remember_many, max_batch=CACHE_BATCH)

    def _key(self, phone: str) -> str:
        return f"consent:{self._scope}:{phone}"

    async def record(
        self,
        phone: str,
        event: str,
        *,
        source: str,
        raw_text: str = "",
        matched: str = "",
        inbound_sid: str | None = None,
        within: AsyncSession | None = None,
    ) -> ConsentChange:
        """Append a ledger entry and move the number's state in one transaction, then update the cache.

        `within` makes it part of the caller's transaction (say, recording the inbound STOP itself); the
        caller then commits, and calls `forget_cached` if that transaction fails.
        """
        if event not in EVENTS:
            raise ValueError(f"unknown consent event {event!r}")
        if source not in SOURCES:
            raise ValueError(f"unknown consent source {source!r}")
        fields: dict[str, Any] = {
            "phone": phone,
            "scope": self._scope,
            "event": event,
            "raw_text": raw_text.replace("\x00", ""),  # PostgreSQL text can't hold NUL; an opt-out must land
            "matched": matched[:64],
            "source": source,
            "inbound_sid": inbound_sid,
        }
        if within is not None:
            return await self._append_and_cache(within, fields)
        async with self._lock, self._sessions() as session:
            try:
                async with session.begin():
                    return await self._append_and_cache(session, fields)
            except BaseException:
                await self.forget_cached(phone)  # the cache may hold a state that never committed
                raise

    async def _append_and_cache(self, session: AsyncSession, fields: dict[str, Any]) -> ConsentChange:
        change = await self._append(session, fields)
        # Cached before the commit, while the ledger lock still serialises appends, so the cache follows
        # commit order; readers only fill a missing key, so they can't undo it.
        await self._cache(fields["phone"], change.state)
        return change

    async def _append(self, session: AsyncSession, fields: dict[str, Any]) -> ConsentChange:
        """Under the ledger lock: read the state and the chain head, then append and move the state."""
        await hold_write_lock(session, key=LEDGER_LOCK_KEY, table="consent_events")
        current = await session.scalar(
            select(Consent).where(Consent.phone == fields["phone"], Consent.scope == self._scope)
        )
        before = current.state if current is not None else OPTED_IN
        after = EVENTS[fields["event"]] or before
        changed = after != before
        if not changed and fields["event"] != "help":
            return ConsentChange(event_id=None, state=before, changed=False)

        fields["created_at"] = now = self._clock()  # taken under the lock, so time follows id order
        head = await session.scalar(select(ConsentEvent.hash).order_by(ConsentEvent.id.desc()).limit(1))
        prev_hash = head or GENESIS
        entry = ConsentEvent(**fields, prev_hash=prev_hash, hash=entry_hash(prev_hash, fields))
        session.add(entry)
        if changed:
            if current is None:
                current = Consent(phone=fields["phone"], scope=self._scope)
                session.add(current)
            current.state, current.source, current.keyword = after, fields["source"], fields["matched"]
            current.updated_at = now
        await session.flush()
        return ConsentChange(event_id=entry.id, state=after, changed=changed)

    async def attach_confirmation(self, event_id: int | None, sid: str) -> None:
        """Record the SID of the text that confirmed this entry (outside the hash); None is a no-op."""
        if event_id is None:
            return
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(ConsentEvent)
                .where(ConsentEvent.id == event_id, ConsentEvent.confirmation_sid.is_(None))
                .values(confirmation_sid=sid)
            )

    async def is_opted_out(self, phone: str) -> bool:
        """The truth from SQL, for the check right before every send."""
        return await self._state_from_sql(phone) == OPTED_OUT

    async def opted_in_since(self, phone: str, moment: datetime) -> bool:
        """Whether the number opted (back) in after `moment`."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Consent.state, Consent.updated_at).where(
                        Consent.phone == phone, Consent.scope == self._scope
                    )
                )
            ).first()
        return row is not None and row.state == OPTED_IN and row.updated_at > moment

    async def cached_state(self, phone: str) -> str:
        """The number's state from Redis, else SQL; unknown numbers are opted in."""
        try:
            cached = await self._redis.get(self._key(phone))
        except RedisError as exc:
            log.warning("consent cache unreadable, reading SQL: %s", exc)
            return await self._state_from_sql(phone)
        if cached in (OPTED_IN, OPTED_OUT):
            return cached
        state = await self._state_from_sql(phone)
        await self.remember(phone, state)
        return state

    async def remember(self, phone: str, state: str) -> None:
        """Cache a state just read from SQL, for the webhook's quick checks (and the fallback's)."""
        try:
            await self._remembered.submit((phone, state))
        except RedisError as exc:
            log.warning("consent cache not filled: %s", exc)

    async def _remember_many(self, states: Sequence[tuple[str, str]]) -> list[None]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for phone, state in states:
                # NX: a concurrent `record` may have cached a newer state since our read; never overwrite it.
                pipe.set(self._key(phone), state, ex=CACHE_TTL_SECONDS, nx=True)
            await pipe.execute()
        return [None] * len(states)

    async def _state_from_sql(self, phone: str) -> str:
        async with self._sessions() as session:
            state = await session.scalar(state_of(phone, self._scope))
        return state or OPTED_IN

    async def _cache(self, phone: str, state: str) -> None:
        try:
            await self._redis.set(self._key(phone), state, ex=CACHE_TTL_SECONDS)
        except RedisError as exc:
            # SQL stays the truth and every send checks it; a stale cache only lasts until its TTL.
            log.warning("consent cache not updated: %s", exc)

    async def forget_cached(self, phone: str) -> None:
        """Drop the cached state (SQL is read next time), after a transaction that cached one failed."""
        try:
            await self._redis.delete(self._key(phone))
        except RedisError as exc:
            log.warning("consent cache not cleared: %s", exc)

    async def export(self, *, history: bool) -> list[dict[str, Any]]:
        """Every number's current state in every scope, or (`history`) every ledger entry, oldest first."""
        async with self._sessions() as session:
            if not history:
                consents = await session.scalars(select(Consent).order_by(Consent.phone, Consent.scope))
                return [_row(consent, STATE_COLUMNS, consent.updated_at) for consent in consents]
            events = await session.scalars(select(ConsentEvent).order_by(ConsentEvent.id))
            return [_row(event, HISTORY_COLUMNS, event.created_at) for event in events]

    async def verify(self) -> VerifyResult:
        """Recompute every entry's hash and link, in id order, across all scopes (the chain spans them)."""
        columns = [getattr(ConsentEvent, name) for name in ("id", "prev_hash", "hash", *HASHED_FIELDS)]
        rows, expected, bad, reason = 0, GENESIS, None, ""
        async with self._sessions() as session:
            result = await session.stream(
                select(*columns).order_by(ConsentEvent.id).execution_options(yield_per=1000)
            )
            async for row in result:
                rows += 1
                if bad is not None:
                    continue  # keep counting, the first break is what matters
                fields = row._mapping
                if row.prev_hash != expected:
                    bad = row.id
                    reason = (
                        f"entry {row.id} does not link to the entry before it "
                        "(an entry was deleted, inserted or reordered)"
                    )
                elif entry_hash(row.prev_hash, fields) != row.hash:
                    bad, reason = row.id, f"entry {row.id} does not match its hash (it was edited)"
                expected = row.hash
        if bad is not None:
            return VerifyResult(ok=False, rows=rows, first_bad_id=bad, reason=reason)
        return VerifyResult(ok=True, rows=rows, first_bad_id=None, reason="", head_hash=expected)
