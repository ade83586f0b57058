"""Many phones texting two web processes answered by two worker processes: drive, observe, check."""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.database import create_engine, session_factory
from storage.tables import Message
from tests.emulators.openai import OpenAIEmulator
from tests.emulators.server import serve_in_thread
from tests.emulators.twilio import TwilioEmulator
from tests.support.processes import SMS_WEBHOOK, Fleet, product_clock, product_env, signed_sms

ECHO = "echo: "
DISCLOSURE = "Reply STOP to opt out."
TOKEN = re.compile(r"^p(\d+)-(\d+)$")
ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def phone_number(index: int) -> str:
    return f"+1415555{3000 + index:04d}"


def text_for(index: int, n: int) -> str:
    return f"p{index}-{n}"


def echo_last_user_message(body: dict[str, Any]) -> str:
    """The LLM stand-in: repeat the turn's user text, so every reply says which texts it answers."""
    return ECHO + str(body["messages"][-1]["content"])


def with_jitter(app: ASGIApp, low: float, high: float) -> ASGIApp:
    """Delay each HTTP request by a random time in [low, high] (async, so requests still overlap)."""

    async def jittered(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(random.uniform(low, high))
        await app(scope, receive, send)

    return jittered


@dataclass
class ScaleRun:
    """What one run saw: every webhook, every LLM request, every text Twilio got, and the message log."""

    phones: int
    texts_per_phone: int
    webhook_statuses: list[int] = field(default_factory=list)
    webhook_latencies: list[float] = field(default_factory=list)
    llm_user_texts: list[str] = field(default_factory=list)  # each LLM request's turn text, in arrival order
    sms: list[tuple[str, str]] = field(default_factory=list)  # (to, body) as Twilio received them, in order
    inbound: list[Message] = field(default_factory=list)
    outbound: list[Message] = field(default_factory=list)
    seconds: float = 0.0  # first webhook sent → every text answered

    @property
    def texts(self) -> int:
        return self.phones * self.texts_per_phone

    def figures(self) -> dict[str, float]:
        """The numbers a person wants to see after a run."""
        latencies = sorted(self.webhook_latencies) or [0.0]
        return {
            "texts": self.texts,
            "turns": len(self.llm_user_texts),
            "seconds": round(self.seconds, 2),
            "webhook_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "webhook_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1),
            "webhook_max_ms": round(latencies[-1] * 1000, 1),
        }


def problems(run: ScaleRun) -> list[str]:
    """Every way the run broke a rule (answered once, nothing lost, in order per phone); empty when good."""
    found: list[str] = []
    if bad := [status for status in run.webhook_statuses if status != 200]:
        found.append(f"{len(bad)} webhooks were not answered 200: {Counter(bad)}")
    if len(run.webhook_statuses) != run.texts:
        found.append(f"{len(run.webhook_statuses)} webhooks sent, expected {run.texts}")

    if len(run.inbound) != run.texts:
        found.append(f"{len(run.inbound)} inbound rows, expected {run.texts}")
    if unanswered := [(m.phone, m.body, m.turn_state) for m in run.inbound if m.turn_state != "answered"]:
        found.append(f"{len(unanswered)} inbound texts not answered: {unanswered[:10]}")

    expected = {text_for(i, n) for i in range(run.phones) for n in range(1, run.texts_per_phone + 1)}
    seen = Counter(token for text in run.llm_user_texts for token in text.split("\n"))
    if missing := sorted(expected - seen.keys()):
        found.append(f"{len(missing)} texts never reached the LLM: {missing[:10]}")
    if repeated := sorted(token for token, count in seen.items() if count > 1):
        found.append(f"{len(repeated)} texts reached the LLM more than once: {repeated[:10]}")
    if unexpected := sorted(seen.keys() - expected):
        found.append(f"the LLM saw text nobody sent: {unexpected[:10]}")

    # Each turn's text, grouped by the phone whose texts it carries, in the order the LLM was asked.
    turns_by_phone: dict[int, list[str]] = defaultdict(list)
    for text in run.llm_user_texts:
        owners = {int(match.group(1)) for token in text.split("\n") if (match := TOKEN.match(token))}
        if len(owners) != 1:
            found.append(f"one LLM request mixed phones (or none): {text!r}")
            continue
        turns_by_phone[owners.pop()].append(text)
    in_order = list(range(1, run.texts_per_phone + 1))
    for index, turns in sorted(turns_by_phone.items()):
        order = [int(token.split("-")[1]) for text in turns for token in text.split("\n")]
        if order != in_order:
            found.append(f"phone p{index}: the LLM saw its texts in the order {order}")

    if len(run.sms) != len(run.llm_user_texts):
        found.append(f"Twilio got {len(run.sms)} texts for {len(run.llm_user_texts)} LLM requests")
    received: dict[str, list[str]] = defaultdict(list)
    for to, body in run.sms:
        received[to].append(body)
    for index in range(run.phones):
        wanted = [ECHO + text for text in turns_by_phone.get(index, [])]
        if wanted:
            wanted[0] += " " + DISCLOSURE  # the first text to a number carries the STOP disclosure
        if received.get(phone_number(index), []) != wanted:
            found.append(
                f"phone p{index} received {received.get(phone_number(index), [])}, expected {wanted}"
            )
    if strangers := sorted(received.keys() - {phone_number(i) for i in range(run.phones)}):
        found.append(f"Twilio texted numbers that never wrote in: {strangers}")

    if len(run.outbound) != len(run.sms):
        found.append(f"{len(run.outbound)} outbound rows for {len(run.sms)} texts Twilio got")
    if unsent := [
        (m.phone, m.status) for m in run.outbound if m.status in {"pending", "submitting", "failed"}
    ]:
        found.append(f"{len(unsent)} outbound rows not handed to Twilio: {unsent[:10]}")
    return found


async def wait_for_answers(
    sessions: async_sessionmaker[AsyncSession], texts: int, *, started: float, timeout: float
) -> tuple[list[Message], list[Message], float]:
    """Poll until all `texts` are in, answered, and no reply waits to be sent (a database that doesn't
    answer counts as not yet); then the inbound and outbound rows, and the seconds since `started`."""
    waiting = (Message.turn_state == "pending") | (
        (Message.direction == "outbound") & Message.status.in_(["pending", "submitting"])
    )

    async def outstanding() -> int | None:
        try:
            async with sessions() as session:
                inbound = await session.scalar(select(func.count()).where(Message.direction == "inbound"))
                unanswered = await session.scalar(select(func.count()).where(waiting))
        except Exception:  # the database is restarting
            return None
        return texts - (inbound or 0) + (unanswered or 0)

    while (left := await outstanding()) is None or left > 0:
        if time.monotonic() - started > timeout:
            break  # the caller's checks say what is missing
        await asyncio.sleep(0.1)
    seconds = time.monotonic() - started
    async with sessions() as session:
        rows = list(await session.scalars(select(Message).order_by(Message.id)))
    inbound = [row for row in rows if row.direction == "inbound"]
    return inbound, [row for row in rows if row.direction == "outbound"], seconds


async def _drive(run: ScaleRun, servers: list[str], database_url: str, timeout: float) -> None:
    """Send every phone's texts (phones in parallel, each phone in sequence), then wait for the answers."""

    async def one_phone(client: httpx.AsyncClient, index: int) -> None:
        for n in range(1, run.texts_per_phone + 1):
            params, headers = signed_sms(text_for(index, n), phone=phone_number(index))
            started = time.perf_counter()
            response = await client.post(
                servers[(index + n) % len(servers)] + SMS_WEBHOOK, data=params, headers=headers
            )
            run.webhook_latencies.append(time.perf_counter() - started)
            run.webhook_statuses.append(response.status_code)

    client = httpx.AsyncClient(timeout=10.0)
    run.inbound, run.outbound, run.seconds = await text_and_wait(
        database_url, run.phones, run.texts, one_phone, client=client, timeout=timeout
    )


async def text_and_wait(
    database_url: str,
    phones: int,
    texts: int,
    one_phone: Callable[[httpx.AsyncClient, int], Awaitable[None]],
    *,
    client: httpx.AsyncClient,
    timeout: float,
) -> tuple[list[Message], list[Message], float]:
    """Every phone's `one_phone` at once on `client` (closed after), then `wait_for_answers` for `texts`."""
    engine = create_engine(database_url)
    try:
        started = time.monotonic()
        async with client:
            await asyncio.gather(*(one_phone(client, index) for index in range(phones)))
        return await wait_for_answers(session_factory(engine), texts, started=started, timeout=timeout)
    finally:
        await engine.dispose()


def run_scale_check(
    workdir: Path,
    *,
    database_url: str,
    redis_url: str,
    phones: int = 20,
    texts_per_phone: int = 10,
    llm_delay: tuple[float, float] = (0.05, 0.2),
    timeout: float = 120.0,
) -> ScaleRun:
    """Two `serve --no-worker` and two `worker` processes answer `phones` × `texts_per_phone` texts."""
    run = ScaleRun(phones=phones, texts_per_phone=texts_per_phone)
    twilio = TwilioEmulator()
    twilio.clock = product_clock  # the workers compare its date_created with their own clock
    llm = OpenAIEmulator(responder=echo_last_user_message)
    with ExitStack() as stack:
        twilio_url = stack.enter_context(serve_in_thread(twilio.app))
        llm_url = stack.enter_context(serve_in_thread(with_jitter(llm.app, *llm_delay)))
        env = product_env(
            database_url=database_url,
            redis_url=redis_url,
            twilio_base_url=twilio_url,
            openai_base_url=llm_url,
            burst_window_seconds=0,
            turn_lease_seconds=10,
        )
        fleet = stack.enter_context(Fleet(env, workdir))
        servers = [fleet.serve("serve-a"), fleet.serve("serve-b")]
        workers = [fleet.worker("worker-a"), fleet.worker("worker-b")]
        fleet.wait_ready(*servers, *workers)

        asyncio.run(_drive(run, [server.url for server in servers], database_url, timeout))
        if dead := [process.name for process in fleet.processes if not process.running()]:
            raise RuntimeError(f"product processes died during the run: {dead}")
        # A duplicate would be sent after "all answered": stop every process first, so none is still to come.
        fleet.stop()
        run.llm_user_texts = [str(request["messages"][-1]["content"]) for request in list(llm.requests)]
        run.sms = [(message["to"], message["body"]) for message in list(twilio.messages)]
        if problems(run):
            fleet.print_logs()  # captured by pytest and shown with the failure
    return run
