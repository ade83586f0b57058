"""Running the service: serve, worker, db upgrade."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from assistant.settings import ConfigError, Settings


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from assistant.app import create_app

    if args.no_worker:
        settings = settings.model_copy(update={"embedded_worker": False})
    # The signature check reads X-Forwarded-* itself, from trusted proxies only; uvicorn must not rewrite.
    uvicorn.run(create_app(settings), host=args.host, port=args.port, proxy_headers=False, log_config=None)
    return 0


async def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.runtime import open_runtime

    if settings.redis_in_process:
        raise ConfigError(
            "the worker needs a shared REDIS_URL (redis://...); with memory:// it runs inside serve"
        )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    async with open_runtime(settings) as runtime:
        await runtime.worker().run(stopping)
    return 0


async def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from storage.database import create_engine
    from storage.migrate import current_revision, upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        print(f"database at revision {await current_revision(engine)}")
    finally:
        await engine.dispose()
    return 0


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="serve the web app (and, in embedded mode, the worker)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-worker", action="store_true", help="don't run the worker loop in this process")
    serve.set_defaults(sync_handler=_serve)

    worker = commands.add_parser("worker", help="answer queued texts (needs a shared REDIS_URL)")
    worker.set_defaults(handler=_worker)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply migrations up to the latest").set_defaults(
        handler=_db_upgrade
    )
