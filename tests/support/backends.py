"""Which real servers the suite can use: Redis and PostgreSQL when reachable, else the in-process defaults."""

from __future__ import annotations

import asyncio
import atexit
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis
from sqlalchemy.engine import make_url

from storage.database import create_engine
from storage.migrate import upgrade

# Our own Redis database numbers, so a developer's data in db 0 is never touched.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
REDIS_SERVER = urlunsplit(urlsplit(TEST_REDIS_URL)._replace(path=""))
REDIS_DATABASES = (int(urlsplit(TEST_REDIS_URL).path.strip("/") or 13), 14, 15, 12, 11, 10, 9, 8)
# Which run holds which database is kept in a database of its own: a test that flushes its database (to
# play a Redis restart) must not erase its claim and let another run in beside it.
CLAIMS_DATABASE = 7
CLAIM_KEY = "sms-assistant-tests:claimed-by"
CLAIM_SECONDS = 900
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


@cache
def redis_available() -> bool:
    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False
    return True


@cache
def postgres_available() -> bool:
    if not TEST_DATABASE_URL:
        return False

    async def probe() -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(TEST_DATABASE_URL), timeout=3)
        await connection.close()

    try:
        asyncio.run(probe())
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    return True


def database_params() -> list[str]:
    return ["sqlite", "postgresql"] if postgres_available() else ["sqlite"]


def describe() -> list[str]:
    return [
        f"redis: {TEST_REDIS_URL if redis_available() else 'in-process (memory://)'}",
        f"databases: {', '.join(database_params())}",
    ]


def skipped() -> list[str]:
    notes = []
    if not redis_available():
        notes.append(
            f"no Redis at {TEST_REDIS_URL}: Redis-backed code ran in-process; multi-process tests skipped"
        )
    if not TEST_DATABASE_URL:
        notes.append("TEST_DATABASE_URL is not set: SQL tests ran on SQLite only")
    elif not postgres_available():
        notes.append("PostgreSQL at TEST_DATABASE_URL is unreachable: SQL tests ran on SQLite only")
    return notes


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@cache
def _migrated_template() -> str:
    """A migrated database to copy: CREATE DATABASE ... TEMPLATE is far faster than migrating each time."""
    assert TEST_DATABASE_URL
    name = f"sms_assistant_template_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    asyncio.run(
        _migrate(make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False))
    )
    atexit.register(lambda: asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
    return name


async def _admin(statement: str) -> None:
    assert TEST_DATABASE_URL
    connection = await asyncpg.connect(_asyncpg_dsn(TEST_DATABASE_URL))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def postgres_url(database: str) -> str:
    """TEST_DATABASE_URL's server, with another database name."""
    assert TEST_DATABASE_URL
    return make_url(TEST_DATABASE_URL).set(database=database).render_as_string(hide_password=False)


@contextmanager
def empty_postgres_database() -> Iterator[str]:
    """A new PostgreSQL database with no tables at all (never migrated), dropped afterwards."""
    name = f"sms_assistant_empty_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url(name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, migrated PostgreSQL database for one test, dropped afterwards."""
    assert TEST_DATABASE_URL
    name = f"sms_assistant_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{_migrated_template()}"'))
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@contextmanager
def redis_database() -> Iterator[str]:
    """A Redis database this run has claimed, flushed before and after; in-process when there is no server.

    Claiming (SET NX, in CLAIMS_DATABASE) keeps two test runs on one server from flushing each other's queues.
    """
    if not redis_available():
        yield "memory://"
        return
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    claims = redis.Redis.from_url(f"{REDIS_SERVER}/{CLAIMS_DATABASE}", decode_responses=True)
    try:
        for number in REDIS_DATABASES:
            claim = f"{CLAIM_KEY}:{number}"
            if not claims.set(claim, owner, nx=True, ex=CLAIM_SECONDS):
                continue
            url = f"{REDIS_SERVER}/{number}"
            client = redis.Redis.from_url(url, decode_responses=True)
            try:
                client.flushdb()
                yield url
            finally:
                if claims.get(claim) == owner:
                    client.flushdb()
                    claims.delete(claim)
                client.close()
            return
    finally:
        claims.close()
    raise RuntimeError(f"Redis databases {REDIS_DATABASES} are all claimed by other test runs")
