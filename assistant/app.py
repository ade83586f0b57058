"""The app factory: routes, and a lifespan that opens every client and the embedded worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from assistant.http import admin, chat_api, ops, sandbox, webhooks
from assistant.http.proxies import TrustedProxies
from assistant.runtime import open_runtime
from assistant.settings import Settings
from storage.clock import Clock, system_clock

log = logging.getLogger(__name__)

WorkerStopped = Callable[[str], None]


def create_app(
    settings: Settings, *, clock: Clock = system_clock, on_worker_stopped: WorkerStopped | None = None
) -> Starlette:
    """A Starlette app for these settings; nothing is opened until the lifespan starts.

    `on_worker_stopped(reason)` is called if the embedded worker ends on its own, so the process can stop
    rather than take texts nobody answers.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with (
            open_runtime(settings, clock=clock) as runtime,
            admin.open_console(runtime) as console,
        ):
            # Each group of routes gets only what it uses.
            app.state.runtime = runtime
            app.state.chat_api = chat_api.ChatApi.of(runtime)
            app.state.webhooks = webhooks.Webhooks.of(runtime)
            app.state.ops = ops.Ops.of(runtime)
            app.state.sandbox = sandbox.Sandbox.of(runtime)
            app.state.admin = console
            stopping = asyncio.Event()
            worker_task = None
            if settings.runs_embedded_worker:
                worker_task = asyncio.create_task(runtime.worker().run(stopping), name="embedded-worker")
                worker_task.add_done_callback(lambda task: _worker_ended(task, stopping, on_worker_stopped))
            try:
                yield
            finally:
                stopping.set()
                if worker_task is not None:
                    # A worker that failed has said why already; shutting down goes on regardless.
                    await asyncio.gather(worker_task, return_exceptions=True)

    # Routes match in order: Twilio's webhooks, the busiest, first.
    routes: list[BaseRoute] = [
        *webhooks.routes,
        Route("/", _home(settings)),
        *ops.routes,
        *admin.routes,
        *chat_api.routes,
    ]
    if not settings.twilio_enabled:
        routes += sandbox.routes
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: _not_found},
        middleware=[Middleware(TrustedProxies, networks=settings.trusted_proxy_networks)],
    )


def _worker_ended(task: asyncio.Task[None], stopping: asyncio.Event, notify: WorkerStopped | None) -> None:
    if stopping.is_set():
        return
    error = None if task.cancelled() else task.exception()
    reason = f"{type(error).__name__}: {error}" if error else "it returned without being asked to stop"
    log.error("the embedded worker stopped (%s): no text will be answered", reason, exc_info=error)
    if notify is not None:
        notify(reason)


def _home(settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    """`/` leads somewhere useful: the phone simulator in embedded mode, else the staff console."""
    target = "/sandbox" if not settings.twilio_enabled else "/admin"

    async def home(request: Request) -> Response:
        return RedirectResponse(target, status_code=302)

    return home


async def _not_found(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return chat_api.no_such_endpoint()
    return PlainTextResponse("Not Found", status_code=404)
