"""Alembic migrations on an async engine (run by `db upgrade` and `serve`), and where a database stands."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


class DatabaseUnavailable(Exception):
    """The database could not be asked anything: unreachable, missing, or refusing us."""

    def __init__(self, reason: str, *, sqlstate: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sqlstate = sqlstate  # PostgreSQL's error code: 3D000 no such database, 28000/28P01 login refused


async def _connect(engine: AsyncEngine) -> AsyncConnection:
    """A connection; failing to get one, from the socket or the driver, is DatabaseUnavailable."""
    try:
        return await engine.connect()
    except OSError as exc:  # SQLite's own file, say
        raise DatabaseUnavailable(_reason(exc)) from None
    except DBAPIError as exc:
        cause = exc.orig if exc.orig is not None else exc
        raise DatabaseUnavailable(_reason(cause), sqlstate=getattr(cause, "sqlstate", None)) from None


def _reason(error: BaseException) -> str:
    """The first line of what went wrong: a socket's own words, or the server's."""
    if isinstance(error, OSError):
        return error.strerror or str(error) or type(error).__name__
    return str(error).splitlines()[0]


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database schema up to `revision`."""

    def _upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    connection = await _connect(engine)
    try:
        async with connection.begin():
            await connection.run_sync(_upgrade)
    finally:
        await connection.close()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's schema revision, None before the first migration."""

    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    connection = await _connect(engine)
    try:
        return await connection.run_sync(_current)
    finally:
        await connection.close()


def head_revision() -> str:
    """The newest schema revision this code has a migration for."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def known_revisions() -> frozenset[str]:
    """Every schema revision this code has a migration for."""
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(revision.revision for revision in script.walk_revisions())
