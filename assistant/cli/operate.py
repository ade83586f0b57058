"""Running the service: serve, worker, db upgrade."""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
from typing import Any

from assistant.settings import ConfigError, Settings

# Collect young garbage every 50,000 allocations rather than 700: under load, the default makes the
# collector run so often that its older-generation passes over every live object show up as latency.
GC_THRESHOLDS = (50_000, 20, 20)


def _tune_gc() -> None:
    """Fewer, cheaper collections for a long-running server (see GC_THRESHOLDS)."""
    gc.collect()
    gc.freeze()  # what start-up loaded (modules, settings, templates) is never garbage: don't rescan it
    gc.set_threshold(*GC_THRESHOLDS)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from assistant.app import create_app
    from assistant.cli.startup import banner, preflight

    if args.no_worker:
        settings = settings.model_copy(update={"embedded_worker": False})
    found = asyncio.run(preflight(settings))  # before uvicorn, so a problem is one line, not a traceback
    print(banner(settings, found, base_url=f"http://{args.host}:{args.port}"), flush=True)

    stopped: list[str] = []

    def worker_stopped(reason: str) -> None:
        stopped.append(reason)
        server.should_exit = True  # nobody would answer the texts this process takes in

    app = create_app(settings, on_worker_stopped=worker_stopped)
    # The app believes X-Forwarded-* from TRUSTED_PROXIES only (its own middleware): uvicorn must not.
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        proxy_headers=False,
        log_config=None,
        access_log=settings.access_log,
    )
    server = uvicorn.Server(config)
    _tune_gc()
    server.run()
    if stopped:
        print(
            f"sms-assistant: the embedded worker stopped ({stopped[0]}); see the log above", file=sys.stderr
        )
        return 1
    return 0


async def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.cli.startup import banner, preflight_waiting
    from assistant.runtime import open_runtime

    if settings.redis_in_process:
        raise ConfigError(
            "the worker needs a shared REDIS_URL (redis://...); with memory:// it runs inside serve"
        )
    print(banner(settings, await preflight_waiting(settings), base_url=None), flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    async with open_runtime(settings) as runtime:
        _tune_gc()
        await runtime.worker().run(stopping)
    return 0


async def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.database import unavailable
    from storage.database import create_engine
    from storage.migrate import DatabaseUnavailable, current_revision, upgrade

    engine = create_engine(settings.database_url)
    try:
        before = await current_revision(engine)
        await upgrade(engine)
        after = await current_revision(engine)
    except DatabaseUnavailable as exc:
        raise unavailable(settings.database_url, exc, then="run this again") from None
    finally:
        await engine.dispose()
    if before == after:
        print(f"database at revision {after}, already up to date")
    else:
        print(f"database at revision {after} (upgraded from {before or 'an empty database'})")
    return 0


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="serve the web app (and, in embedded mode, the worker)")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="the port to listen on")
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="don't run the worker loop in this process (needs a shared REDIS_URL and `worker` processes)",
    )
    serve.set_defaults(sync_handler=_serve)

    worker = commands.add_parser("worker", help="answer queued texts (needs a shared REDIS_URL)")
    worker.set_defaults(handler=_worker)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply migrations up to the latest").set_defaults(
        handler=_db_upgrade
    )
