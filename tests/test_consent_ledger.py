"""The consent book: state and cache, the hash-chained ledger, its exports, tamper checks and concurrency."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from redis.asyncio import Redis
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.consent import HISTORY_COLUMNS, STATE_COLUMNS, ConsentBook, VerifyResult, to_csv
from storage.database import session_factory
from storage.migrate import alembic_config
from storage.tables import Base
from tests.conftest import TEST_NOW
from tests.support.clock import ManualClock

SCOPE = "MG" + "0" * 32
PHONE = "+14155550123"
OTHER = "+14155550188"


@pytest.fixture
def book(engine: AsyncEngine, redis: Redis, clock: ManualClock) -> ConsentBook:
    return ConsentBook(session_factory(engine), redis, scope=SCOPE, clock=clock)


async def _stop(book: ConsentBook, phone: str = PHONE, sid: str = "SM1") -> int:
    change = await book.record(
        phone, "opt_out", source="keyword", raw_text="stop", matched="STOP", inbound_sid=sid
    )
    assert change.event_id is not None
    return change.event_id


async def test_opt_out_then_opt_in_flips_the_state_and_the_cache(book: ConsentBook, redis: Redis) -> None:
    assert await book.cached_state(PHONE) == "opted_in"  # unknown numbers are opted in
    stopped = await book.record(PHONE, "opt_out", source="keyword", raw_text="STOP", matched="STOP")
    assert (stopped.state, stopped.changed) == ("opted_out", True)
    assert await book.is_opted_out(PHONE)
    assert await redis.get(f"consent:{SCOPE}:{PHONE}") == "opted_out"
    assert 0 < await redis.ttl(f"consent:{SCOPE}:{PHONE}") <= 86_400
    assert await book.cached_state(PHONE) == "opted_out"

    started = await book.record(PHONE, "opt_in", source="keyword", raw_text="start", matched="START")
    assert (started.state, started.changed) == ("opted_in", True)
    assert started.event_id is not None and started.event_id > stopped.event_id
    assert not await book.is_opted_out(PHONE)
    assert await redis.get(f"consent:{SCOPE}:{PHONE}") == "opted_in"
    assert await book.cached_state(PHONE) == "opted_in"


async def test_a_second_opt_out_changes_nothing_and_appends_nothing(book: ConsentBook) -> None:
    await _stop(book)
    again = await book.record(
        PHONE, "opt_out", source="phrase", raw_text="stop texting me", matched="stop_texting"
    )
    assert (again.event_id, again.state, again.changed) == (None, "opted_out", False)
    await book.attach_confirmation(again.event_id, "SMnothing")  # nothing to attach to: a no-op
    history = await book.export(history=True)
    assert [row["event"] for row in history] == ["opt_out"]
    assert (await book.export(history=False))[0]["source"] == "keyword"  # the first opt-out stands


async def test_help_is_logged_but_moves_no_state(book: ConsentBook) -> None:
    help_ = await book.record(PHONE, "help", source="keyword", raw_text="help", matched="HELP")
    assert (help_.state, help_.changed) == ("opted_in", False) and help_.event_id is not None
    assert await book.export(history=False) == []
    assert [row["event"] for row in await book.export(history=True)] == ["help"]


async def test_the_cache_falls_back_to_sql_and_is_refilled(book: ConsentBook, redis: Redis) -> None:
    await _stop(book)
    await redis.delete(f"consent:{SCOPE}:{PHONE}")  # evicted, or Redis restarted
    assert await book.cached_state(PHONE) == "opted_out"
    assert await redis.get(f"consent:{SCOPE}:{PHONE}") == "opted_out"


async def test_scopes_are_separate_but_share_one_chain(
    engine: AsyncEngine, redis: Redis, book: ConsentBook, clock: ManualClock
) -> None:
    other = ConsentBook(session_factory(engine), redis, scope="+15005550006", clock=clock)
    await _stop(book)
    assert await other.cached_state(PHONE) == "opted_in" and not await other.is_opted_out(PHONE)
    assert (await other.record(PHONE, "opt_out", source="api")).changed
    assert (await book.verify()).rows == 2 and (await other.verify()).ok
    exported = await book.export(history=False)
    assert [(row["scope"], row["state"]) for row in exported] == [
        ("+15005550006", "opted_out"),
        (SCOPE, "opted_out"),
    ]


async def test_unknown_events_and_sources_are_refused(book: ConsentBook) -> None:
    with pytest.raises(ValueError, match="event"):
        await book.record(PHONE, "unsubscribe", source="keyword")
    with pytest.raises(ValueError, match="source"):
        await book.record(PHONE, "opt_out", source="llm")
    assert (await book.verify()).rows == 0


async def test_export_has_the_documented_columns_and_values(book: ConsentBook) -> None:
    stop_id = await _stop(book, PHONE, "SM" + "a" * 32)
    await book.attach_confirmation(stop_id, "SM" + "c" * 32)
    await book.record(
        OTHER, "opt_out", source="phrase", raw_text="please stop texting me", matched="stop_texting"
    )
    await book.record(OTHER, "opt_in", source="staff")

    current = await book.export(history=False)
    assert [tuple(row) for row in current] == [STATE_COLUMNS] * 2
    assert {row["scope"] for row in current} == {SCOPE}
    assert [(row["phone"], row["state"], row["source"], row["keyword"]) for row in current] == [
        (PHONE, "opted_out", "keyword", "STOP"),
        (OTHER, "opted_in", "staff", ""),
    ]
    at = datetime.fromisoformat(current[0]["at"])
    assert at.tzinfo is not None and at.utcoffset().total_seconds() == 0
    assert at == TEST_NOW  # the time of the STOP, from the service's clock
    lines = to_csv(current, history=False).splitlines()
    assert lines[0] == "phone,scope,state,source,keyword,at"
    assert lines[1] == f"{PHONE},{SCOPE},opted_out,keyword,STOP,{current[0]['at']}"

    history = await book.export(history=True)
    assert [tuple(row) for row in history] == [HISTORY_COLUMNS] * 3
    assert history[0] == {
        "id": stop_id,
        "phone": PHONE,
        "scope": SCOPE,
        "event": "opt_out",
        "source": "keyword",
        "matched": "STOP",
        "raw_text": "stop",
        "inbound_sid": "SM" + "a" * 32,
        "confirmation_sid": "SM" + "c" * 32,
        "at": history[0]["at"],
    }
    assert [row["event"] for row in history] == ["opt_out", "opt_out", "opt_in"]
    assert history[2]["inbound_sid"] is None and history[2]["confirmation_sid"] is None
    assert json.loads(json.dumps(history)) == history
    lines = to_csv(history, history=True).splitlines()
    assert lines[0] == "id,phone,scope,event,source,matched,raw_text,inbound_sid,confirmation_sid,at"
    assert lines[3].startswith(f"{history[2]['id']},{OTHER},{SCOPE},opt_in,staff,,,,,")


async def test_csv_keeps_customer_text_from_running_as_a_formula(book: ConsentBook) -> None:
    await book.record(
        PHONE, "opt_out", source="phrase", raw_text='=HYPERLINK("http://x","stop")', matched="r"
    )
    [row] = list(csv.DictReader(io.StringIO(to_csv(await book.export(history=True), history=True))))
    assert row["raw_text"] == '\'=HYPERLINK("http://x","stop")'
    assert row["phone"] == PHONE  # a plain E.164 number is left alone
    # An empty ledger still exports its header, so a spreadsheet or script reads it as "no rows".
    assert to_csv([], history=False) == "phone,scope,state,source,keyword,at\n"


async def test_verify_passes_on_a_fresh_chain_and_its_hashes_follow_the_recipe(
    book: ConsentBook, engine: AsyncEngine
) -> None:
    assert await book.verify() == VerifyResult(
        ok=True, rows=0, first_bad_id=None, reason="", head_hash="0" * 64
    )
    first = await _stop(book)
    await book.record(PHONE, "help", source="keyword", raw_text="HELP", matched="HELP")
    await book.record(PHONE, "opt_in", source="twilio_advanced_opt_out", raw_text="START", matched="START")
    await book.attach_confirmation(first, "SMconfirm")  # outside the hash: the chain still verifies
    result = await book.verify()
    assert (result.ok, result.rows, result.first_bad_id) == (True, 3, None)

    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM consent_events ORDER BY id"))).mappings().all()
    previous = "0" * 64
    for row in rows:
        fields = {name: row[name] for name in ("phone", "scope", "event", "raw_text", "matched", "source")}
        fields |= {"inbound_sid": row["inbound_sid"], "created_at": _iso_utc(row["created_at"])}
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        assert row["prev_hash"] == previous
        assert row["hash"] == hashlib.sha256((previous + canonical).encode()).hexdigest()
        previous = row["hash"]
    assert result.head_hash == previous


def _iso_utc(stored: str | datetime) -> str:
    """A raw created_at (SQLite gives a zoneless string, PostgreSQL an aware datetime) as the hash has it."""
    moment = datetime.fromisoformat(stored) if isinstance(stored, str) else stored
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC).isoformat(timespec="microseconds")


async def _chain_of_five(book: ConsentBook) -> list[int]:
    ids = []
    for n in range(5):
        ids.append(await _stop(book, f"+1415555020{n}", f"SM{n}"))
    return ids


async def test_verify_fails_at_an_edited_entry(book: ConsentBook, engine: AsyncEngine) -> None:
    ids = await _chain_of_five(book)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE consent_events SET raw_text = 'hello' WHERE id = :id"), {"id": ids[2]}
        )
    result = await book.verify()
    assert (result.ok, result.rows, result.first_bad_id) == (False, 5, ids[2])
    assert "edited" in result.reason and result.head_hash is None


async def test_verify_fails_after_a_deleted_entry(book: ConsentBook, engine: AsyncEngine) -> None:
    ids = await _chain_of_five(book)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM consent_events WHERE id = :id"), {"id": ids[2]})
    result = await book.verify()
    assert (result.ok, result.rows, result.first_bad_id) == (False, 4, ids[3])
    assert "deleted" in result.reason


@pytest.mark.parametrize("books", [1, 4])
async def test_concurrent_appends_keep_one_unforked_chain(
    engine: AsyncEngine, redis: Redis, books: int, clock: ManualClock
) -> None:
    # Several books have separate in-process locks, as separate processes would: the database lock must hold.
    shelf = [ConsentBook(session_factory(engine), redis, scope=SCOPE, clock=clock) for _ in range(books)]
    changes = await asyncio.gather(
        *(shelf[n % books].record(f"+1415555{n:04d}", "opt_out", source="api") for n in range(20))
    )
    assert all(change.changed for change in changes)
    assert len({change.event_id for change in changes}) == 20
    result = await shelf[0].verify()
    assert (result.ok, result.rows) == (True, 20), result.reason
    assert len(await shelf[0].export(history=False)) == 20


async def test_the_migration_matches_the_tables_and_round_trips(engine: AsyncEngine) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    def migrate(connection: Connection, direction: str, revision: str) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)

    def tables(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    async with engine.begin() as connection:
        assert await connection.run_sync(diff) == []
        await connection.run_sync(migrate, "downgrade", "0001")
        assert not {"consents", "consent_events"} & await connection.run_sync(tables)
        await connection.run_sync(migrate, "upgrade", "head")
        assert await connection.run_sync(diff) == []
