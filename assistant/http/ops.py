"""Operations endpoints: liveness, readiness with the workers and the queue, and Prometheus metrics."""

from __future__ import annotations

import contextlib
import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from assistant.budget import Budget
from assistant.metrics import CONTENT_TYPE, Snapshot, exposition
from assistant.runtime import Runtime
from storage.clock import Clock
from storage.deliveries import Deliveries
from storage.heartbeats import Heartbeats
from storage.messages import MessageLog
from storage.outbox import Outbox

NO_WORKER = "no worker is running: texts wait until one starts (sms-assistant worker)"


@dataclass(frozen=True, slots=True)
class Ops:
    """What the health endpoints read, built once in the app's lifespan."""

    engine: AsyncEngine
    messages: MessageLog
    heartbeats: Heartbeats
    clock: Clock
    token: str | None  # METRICS_TOKEN
    budget: Budget
    outbox: Outbox
    deliveries: Deliveries

    @classmethod
    def of(cls, runtime: Runtime) -> Ops:
        clients = runtime.clients
        heartbeats = Heartbeats(clients.redis, clock=clients.clock)
        return cls(
            clients.engine,
            runtime.messages,
            heartbeats,
            clients.clock,
            clients.settings.metrics_token,
            runtime.budget,
            runtime.outbox,
            runtime.deliveries,
        )


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready when the database and Redis answer; also how many workers are alive and how old the queue is.

    A web process takes webhooks without a worker, so a missing worker is reported, not counted as unready.
    """
    ops: Ops = request.app.state.ops
    body: dict[str, Any] = {}
    try:
        async with ops.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        waiting, oldest = await ops.messages.waiting()
        body["database"] = "ok"
        age = (ops.clock() - oldest).total_seconds() if oldest else None
        body["queue"] = {"waiting": waiting, "oldestSeconds": round(age, 1) if age is not None else None}
    except Exception as exc:  # any failure means not ready; the reason is for the operator
        body["database"] = f"error: {type(exc).__name__}"
    try:
        workers = await ops.heartbeats.alive()
        body["redis"] = "ok"
        body["workers"] = len(workers)
        if not workers:
            body["warning"] = NO_WORKER
    except Exception as exc:
        body["redis"] = f"error: {type(exc).__name__}"
    ready = body["database"] == "ok" and body["redis"] == "ok"
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", **body}, status_code=200 if ready else 503
    )


async def metrics(request: Request) -> Response:
    """Prometheus metrics; with METRICS_TOKEN set, only for `Authorization: Bearer <token>`."""
    ops: Ops = request.app.state.ops
    if ops.token and not hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {ops.token}"):
        return PlainTextResponse("metrics need the bearer token (METRICS_TOKEN)", status_code=401)
    values: dict[str, Any] = {}
    with contextlib.suppress(Exception):  # the counters still report while the database or Redis is away
        waiting, since = await ops.messages.waiting()
        values |= {
            "waiting": waiting,
            "oldest_seconds": (ops.clock() - since).total_seconds() if since else None,
        }
    with contextlib.suppress(Exception):
        values["workers"] = len(await ops.heartbeats.alive())
    with contextlib.suppress(Exception):
        state = await ops.budget.state()
        values["spend"] = {
            (period, what): getattr(spend.spent, what)
            for period, spend in (("today", state.today), ("month", state.month))
            for what in ("sms", "llm")
        }
        values["budgets"] = {
            period: spend.limit
            for period, spend in (("today", state.today), ("month", state.month))
            if spend.limit is not None
        }
        values["held"] = await ops.outbox.held_count()
        values["delivery_rate"] = (await ops.deliveries.recent()).rate
    return Response(exposition(Snapshot(**values)), media_type=CONTENT_TYPE)


routes = [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]
