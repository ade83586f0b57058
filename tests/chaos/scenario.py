"""The chaos scenario: web and worker processes on PostgreSQL and Redis servers of its own, each text
delivered two or three times, workers killed in a loop, Redis and PostgreSQL restarted, LLM and Twilio
faults; then every rule checked: each text answered once, in order per phone, nothing left unsent, and
recovery within 10 s."""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from storage.tables import Message
from tests.emulators.openai import OpenAIEmulator
from tests.emulators.server import serve_in_thread
from tests.emulators.twilio import TwilioEmulator
from tests.support.processes import SMS_WEBHOOK, Fleet, ProductProcess, product_clock, product_env, signed_sms
from tests.support.scale import echo_last_user_message, phone_number, text_and_wait, with_jitter
from tests.support.servers import PostgresServer, RedisServer

FALLBACK_WEBHOOK = "/webhooks/twilio/fallback"
TOKEN = re.compile(r"\bp(\d+)-(\d+)\b")
RECOVERY_SECONDS = 10.0  # after Redis or PostgreSQL is back, texts are answered again within this
LEASE_SECONDS = 5.0  # short, so a killed worker's phones are taken over quickly


@dataclass(frozen=True, slots=True)
class Fault:
    """One thing that went wrong on purpose, from when it started to when it was over."""

    name: str
    started: float
    ended: float


@dataclass
class ChaosRun:
    """Everything one run saw."""

    phones: int
    texts_per_phone: int
    statuses: list[int] = field(default_factory=list)  # each delivery's final answer (primary or fallback)
    apologies: int = 0  # deliveries the fallback answered with its apology
    transport_errors: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    created: list[float] = field(default_factory=list)  # when Twilio created each message
    sms: list[dict[str, Any]] = field(default_factory=list)  # what Twilio created, in order
    llm_texts: list[str] = field(default_factory=list)  # each LLM request's turn text
    inbound: list[Message] = field(default_factory=list)
    outbound: list[Message] = field(default_factory=list)
    seconds: float = 0.0  # first text sent → everything answered

    @property
    def texts(self) -> int:
        return self.phones * self.texts_per_phone

    def recovery(self) -> dict[str, float]:
        """For each Redis and PostgreSQL outage: seconds from its end to the next text Twilio created."""
        found = {}
        for fault in self.faults:
            if fault.name.startswith(("redis", "postgres")):
                after = [moment for moment in self.created if moment > fault.ended]
                found[fault.name] = round(min(after) - fault.ended, 2) if after else float("inf")
        return found

    def figures(self) -> dict[str, Any]:
        return {
            "texts": self.texts,
            "deliveries": len(self.statuses),
            "apologies": self.apologies,
            "turns": len(self.llm_texts),
            "sms": len(self.sms),
            "seconds": round(self.seconds, 1),
            "recovery_seconds": self.recovery(),
        }


def text_for(phone: int, n: int) -> str:
    return f"p{phone}-{n}"


def tokens(text: str) -> list[tuple[int, int]]:
    return [(int(match[1]), int(match[2])) for match in TOKEN.finditer(text)]


def problems(run: ChaosRun) -> list[str]:
    """Every rule the run broke; empty when it held them all."""
    found: list[str] = []
    if bad := Counter(status for status in run.statuses if status != 200):
        found.append(
            f"deliveries not answered 200 by the webhook or the fallback: {dict(bad)} "
            f"({run.transport_errors[:4]})"
        )

    expected = {text_for(p, n) for p in range(run.phones) for n in range(1, run.texts_per_phone + 1)}
    recorded = Counter(message.body for message in run.inbound)
    if missing := sorted(expected - recorded.keys()):
        found.append(f"{len(missing)} texts were never recorded: {missing[:10]}")
    if twice := sorted(body for body, count in recorded.items() if count > 1):
        found.append(f"{len(twice)} texts were recorded more than once: {twice[:10]}")
    if waiting := [(m.body, m.turn_state) for m in run.inbound if m.turn_state != "answered"]:
        found.append(f"{len(waiting)} texts were not answered: {waiting[:10]}")

    if unsent := [(m.phone, m.kind, m.status) for m in run.outbound if m.status in {"pending", "submitting"}]:
        found.append(f"{len(unsent)} texts were left {unsent[:10]}")
    if failed := [(m.phone, m.kind, m.error_code) for m in run.outbound if m.status == "failed"]:
        found.append(f"{len(failed)} texts failed: {failed[:10]}")
    if sorry := [m.phone for m in run.outbound if m.kind != "reply"]:
        found.append(f"{len(sorry)} turns were answered with something other than a reply: {sorry[:10]}")

    sids = Counter(message["sid"] for message in run.sms)
    kept = {m.sid for m in run.outbound if m.sid}
    if len(run.sms) != len(run.outbound) or set(sids) != kept:
        found.append(
            f"Twilio created {len(run.sms)} texts and the log has {len(run.outbound)} "
            f"({len(set(sids) - kept)} unknown to the log, {len(kept - set(sids))} never created)"
        )
    received: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for message in run.sms:
        for phone, n in tokens(message["body"]):
            received[phone].append((phone, n))
    for phone, answered in sorted(received.items()):
        numbers = [n for _, n in answered]
        if numbers != sorted(set(numbers)):
            found.append(f"p{phone} was answered out of order or twice: {numbers}")

    first_seen: dict[int, list[int]] = defaultdict(list)
    for text in run.llm_texts:
        for phone, n in tokens(text):
            if n not in first_seen[phone]:
                first_seen[phone].append(n)
    for phone, numbers in sorted(first_seen.items()):
        if numbers != sorted(numbers):
            found.append(f"the LLM saw p{phone}'s texts in the order {numbers}")

    for name, seconds in run.recovery().items():
        if seconds > RECOVERY_SECONDS:
            found.append(f"after {name} texts were answered again only {seconds} s later")
    return found


def _timed(app: Any, created: list[float]) -> Any:
    """The Twilio emulator, noting when each message was created."""

    async def timed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def noting(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 201:
                created.append(time.monotonic())
            await send(message)

        await app(scope, receive, noting)

    return timed


class Chaos:
    """Kills workers in a loop and restarts Redis and PostgreSQL on a schedule, in a thread of its own."""

    def __init__(
        self,
        run: ChaosRun,
        fleet: Fleet,
        postgres: PostgresServer,
        redis: RedisServer,
        llm: OpenAIEmulator,
        twilio: TwilioEmulator,
        *,
        seconds: float,
        kill_every: float,
    ) -> None:
        self._run, self._fleet, self._postgres, self._redis = run, fleet, postgres, redis
        self._llm, self._twilio = llm, twilio
        self._seconds, self._kill_every = seconds, kill_every
        self.workers: list[ProductProcess] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self.workers = [self._fleet.worker("worker-1"), self._fleet.worker("worker-2")]
        self._fleet.wait_ready(*self.workers)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        if self.error is not None:
            raise self.error

    def _loop(self) -> None:
        begun = time.monotonic()
        at = lambda share: begun + share * self._seconds  # noqa: E731
        plan: list[tuple[float, Callable[[], None]]] = [
            (at(0.15), lambda: self._llm.fail_next(500, times=3)),
            (at(0.30), lambda: self._outage("redis restart", self._redis, 2.0)),
            (at(0.45), lambda: self._twilio.fail_next(503, times=2)),
            (at(0.55), lambda: self._llm.break_next(2)),
            (at(0.65), lambda: self._outage("postgres restart", self._postgres, 3.0)),
        ]
        kills = 0
        next_kill = begun + self._kill_every
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                while plan and plan[0][0] <= now:
                    plan.pop(0)[1]()
                if now >= next_kill:
                    kills += 1
                    self._kill_and_replace(kills)
                    next_kill = time.monotonic() + self._kill_every
                # A sleep, not Event.wait(timeout): under libfaketime (the suite at another hour) a timed
                # wait on a lock sleeps for as long as the clock was moved.
                time.sleep(0.05)
        except BaseException as exc:  # shown by stop(), in the test's own thread
            self.error = exc

    def _kill_and_replace(self, count: int) -> None:
        """SIGKILL a worker, as the OOM killer would, and start another, as a supervisor would."""
        doomed = self.workers.pop(count % len(self.workers))
        started = time.monotonic()
        doomed.kill()
        self.workers.append(self._fleet.worker(f"worker-{count + 2}"))
        self._run.faults.append(Fault(f"kill {doomed.name}", started, time.monotonic()))

    def _outage(self, name: str, server: PostgresServer | RedisServer, down_for: float) -> None:
        started = time.monotonic()
        server.stop(crash=True)
        time.sleep(down_for)
        server.start()
        self._run.faults.append(Fault(name, started, time.monotonic()))


async def _drive(
    run: ChaosRun, servers: list[str], database_url: str, seconds: float, timeout: float
) -> None:
    """Each phone sends its texts over `seconds`, each delivered 2-3 times; then wait for the answers."""
    rng = random.Random(11)
    gap = seconds / run.texts_per_phone

    async def deliver(client: httpx.AsyncClient, token: str, phone: str, sid: str, server: int) -> None:
        params, headers = signed_sms(token, phone=phone, sid=sid)
        try:
            primary = await client.post(servers[server] + SMS_WEBHOOK, data=params, headers=headers)
            status = primary.status_code
        except httpx.TransportError as exc:
            run.transport_errors.append(f"webhook: {exc!r}")
            status = 0
        if status != 200:  # as Twilio does: the primary URL failed, so ask the fallback URL
            fallback, headers = signed_sms(token, phone=phone, sid=sid, path=FALLBACK_WEBHOOK)
            try:
                answer = await client.post(
                    servers[1 - server] + FALLBACK_WEBHOOK, data=fallback, headers=headers
                )
                status = answer.status_code
                run.apologies += "<Message>" in answer.text
            except httpx.TransportError as exc:
                run.transport_errors.append(f"fallback: {exc!r}")
                status = 0
        run.statuses.append(status)

    async def one_phone(client: httpx.AsyncClient, index: int) -> None:
        phone = phone_number(index)
        await asyncio.sleep(rng.uniform(0, gap))
        for n in range(1, run.texts_per_phone + 1):
            token, sid = text_for(index, n), f"SM{index:04d}{n:04d}" + "0" * 24
            copies = rng.choice((2, 3))
            first = rng.randrange(2)
            if rng.random() < 0.5:  # Twilio retried while the first was still being answered
                await asyncio.gather(
                    *(deliver(client, token, phone, sid, (first + k) % 2) for k in range(copies))
                )
            else:
                for k in range(copies):
                    await deliver(client, token, phone, sid, (first + k) % 2)
            await asyncio.sleep(rng.uniform(0.5, 1.5) * gap)

    # A new connection per request, like Twilio's: reusing one as the server closes it is not our fault.
    client = httpx.AsyncClient(timeout=30.0, limits=httpx.Limits(max_keepalive_connections=0))
    run.inbound, run.outbound, run.seconds = await text_and_wait(
        database_url, run.phones, run.texts, one_phone, client=client, timeout=timeout
    )


def run_chaos(
    workdir: Path,
    *,
    phones: int,
    texts_per_phone: int,
    seconds: float,
    kill_every: float = 4.0,
    timeout: float = 120.0,
) -> ChaosRun:
    """Two web and two worker processes answer `phones` × `texts_per_phone` texts while things break."""
    run = ChaosRun(phones=phones, texts_per_phone=texts_per_phone)
    twilio = TwilioEmulator()
    twilio.clock = product_clock  # the workers compare its date_created with their own clock
    llm = OpenAIEmulator(responder=echo_last_user_message)
    with ExitStack() as stack:
        postgres = PostgresServer()
        stack.callback(postgres.close)
        postgres.start()
        redis = RedisServer(workdir / "redis")
        stack.callback(redis.stop)
        redis.start()
        twilio_url = stack.enter_context(serve_in_thread(_timed(twilio.app, run.created)))
        llm_url = stack.enter_context(serve_in_thread(with_jitter(llm.app, 0.05, 0.3)))
        env = product_env(
            database_url=postgres.url,
            redis_url=redis.url,
            twilio_base_url=twilio_url,
            openai_base_url=llm_url,
            burst_window_seconds=0,
            turn_lease_seconds=LEASE_SECONDS,
            # Short, so a text a killed worker left half-sent is checked with Twilio (and the texts to that
            # number queued behind it go) within seconds.
            TWILIO_TIMEOUT_SECONDS="2",
        )
        fleet = stack.enter_context(Fleet(env, workdir))
        fleet.cli("db", "upgrade")
        servers = [fleet.serve("web-1"), fleet.serve("web-2")]
        fleet.wait_ready(*servers)
        chaos = Chaos(run, fleet, postgres, redis, llm, twilio, seconds=seconds, kill_every=kill_every)
        chaos.start()
        try:
            asyncio.run(_drive(run, [server.url for server in servers], postgres.url, seconds, timeout))
        finally:
            chaos.stop()
        if dead := [server.name for server in servers if not server.running()]:
            run.statuses.append(-1)
            raise RuntimeError(f"web processes died during the run: {dead}")
        fleet.stop()  # nothing more can be sent once every process is down
        run.llm_texts = [str(request["messages"][-1]["content"]) for request in list(llm.requests)]
        run.sms = list(twilio.messages)
        if problems(run):
            fleet.print_logs()  # captured by pytest and shown with the failure
    return run
