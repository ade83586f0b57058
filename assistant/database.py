"""The database as the service opens it: the SQLite file migrated on the spot, PostgreSQL checked current."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from assistant.settings import ConfigError, NotMigrated, Settings, Unreachable
from storage.database import create_engine, session_factory
from storage.migrate import DatabaseUnavailable, current_revision, head_revision, known_revisions, upgrade

UPGRADE = "run `sms-assistant db upgrade`"


def shown_url(url: str) -> str:
    """A database URL fit to print: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def unavailable(url: str, exc: DatabaseUnavailable, *, then: str = UPGRADE) -> ConfigError:
    """One line saying why the database can't be used and what to do about it."""
    parsed = make_url(url)
    if exc.sqlstate == "3D000":
        return ConfigError(
            f"database {parsed.database!r} does not exist on {parsed.host or 'the server'}: "
            f"create it (createdb {parsed.database}), then {then}"
        )
    if exc.sqlstate in ("28000", "28P01"):
        return ConfigError(
            f"the database at {shown_url(url)} refused the login ({exc.reason}): "
            "check the user and password in DATABASE_URL"
        )
    return Unreachable(
        f"cannot reach the database at {shown_url(url)} ({exc.reason}): "
        "is it running, and is DATABASE_URL right?"
    )


async def ready_revision(engine: AsyncEngine, settings: Settings) -> str:
    """Migrate the embedded SQLite file, or check that PostgreSQL was migrated; ConfigError names the fix."""
    url = settings.database_url
    try:
        if make_url(url).get_backend_name() == "sqlite":
            await upgrade(engine)  # the embedded default looks after itself, as `serve` promises
        current = await current_revision(engine)
    except DatabaseUnavailable as exc:
        raise unavailable(url, exc) from None
    head = head_revision()
    if current == head:
        return head
    if current is None:
        raise NotMigrated(f"the database at {shown_url(url)} has no tables yet: {UPGRADE}")
    if current in known_revisions():
        raise NotMigrated(
            f"the database at {shown_url(url)} is at revision {current} "
            f"and this version needs {head}: {UPGRADE}"
        )
    raise ConfigError(
        f"the database at {shown_url(url)} is at revision {current}, which this version doesn't know: "
        "a newer release migrated it, so run that release"
    )


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the configured database, once it is known to be usable."""
    engine = create_engine(settings.database_url)
    try:
        await ready_revision(engine, settings)
        yield session_factory(engine)
    finally:
        await engine.dispose()
