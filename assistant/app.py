"""The app factory: routes, and a lifespan that opens every client and the embedded worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount

from assistant.http import admin, chat_api, ops, sandbox, webhooks
from assistant.runtime import Clock, open_runtime, utc_clock
from assistant.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, clock: Clock = utc_clock) -> Starlette:
    """A Starlette app for these settings; nothing is opened until the lifespan starts."""
    embedded_sqlite = settings.database_url.startswith("sqlite")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with (
            open_runtime(settings, clock=clock, migrate=embedded_sqlite) as runtime,
            admin.open_console(runtime) as console,
        ):
            app.state.runtime = runtime
            app.state.admin = console
            stopping = asyncio.Event()
            worker_task = None
            if settings.runs_embedded_worker:
                worker_task = asyncio.create_task(runtime.worker().run(stopping), name="embedded-worker")
            try:
                yield
            finally:
                stopping.set()
                if worker_task is not None:
                    await worker_task

    routes: list[BaseRoute] = [*ops.routes, *webhooks.routes, *admin.routes]
    routes.append(Mount("/api", app=chat_api.router))
    if not settings.twilio_enabled:
        routes += sandbox.routes
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: _not_found})


async def _not_found(request: Request, exc: Exception) -> Response:
    # Some /api paths never reach the API's own router (a Mount doesn't match across a newline).
    if request.url.path.startswith("/api/"):
        return chat_api.no_such_endpoint()
    return PlainTextResponse("Not Found", status_code=404)
