"""The SQL engine and session factory, opened and closed by the app's lifespan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, ExceptionContext, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

DEFAULT_POOL_SIZE = 20


# PostgreSQL's "operator intervention" codes: shut down by an admin or a crash, or starting up or shutting
# down and not taking connections ("cannot connect now").
SERVER_GOING_AWAY = frozenset({"57P01", "57P02", "57P03"})


def create_engine(database_url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> AsyncEngine:
    """An async engine; for SQLite also the data folder, WAL and a busy timeout so workers can share it."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        # No pre-ping: it costs a round trip on every checkout. A connection the server dropped fails
        # its next use once and is replaced; recycling keeps idle ones from going stale behind proxies.
        # A fixed pool, no overflow: overflow connections are closed as they come back, and connecting (TLS
        # tried first) costs more than a whole webhook, so under a burst requests queue for a connection.
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_recycle=1800)
        event.listen(engine.sync_engine, "do_connect", _connect_refusal_is_operational)
        event.listen(engine.sync_engine, "handle_error", _disconnect_is_operational)
        return engine
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _connect_refusal_is_operational(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
    """A connection the network refused, timed out or could not route is the server being away.

    asyncpg raises the socket's own OSError there, which SQLAlchemy passes through untranslated.
    """
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as exc:  # TimeoutError and socket.gaierror included
        raise OperationalError(None, None, exc) from exc


def _disconnect_is_operational(context: ExceptionContext) -> OperationalError | None:
    """A connection dropped mid-statement, or refused while the server starts or stops, is the server going
    away, so say so with the type that means it.

    asyncpg reports them as a bare DBAPIError (a socket error mid-statement, as the OSError itself); callers
    that wait out outages catch OperationalError.
    """
    error = context.sqlalchemy_exception
    if error is None or isinstance(error, OperationalError | InterfaceError):
        return None
    original = context.original_exception
    refused = getattr(original, "sqlstate", None) in SERVER_GOING_AWAY or isinstance(original, OSError)
    if not (context.is_disconnect or refused):
        return None
    return OperationalError(
        context.statement,
        context.parameters,
        context.original_exception,
        connection_invalidated=context.is_disconnect,
    )
