"""Turn figures: CPU per turn and memory over many turns, and 1,000 phones answered with a slow LLM.

    python -m bench.turns [--turns 10000] [--phones 1000] [--json bench-results.json]

Real product processes (`serve --no-worker` and `worker`) on PostgreSQL + Redis, talking to the Twilio and
OpenAI emulators over loopback, as in production:
- *cpu*: texts are waiting before the worker starts, the LLM answers at once. The worker's CPU time per
  turn (from /proc) and its turns per second, for first contacts and again for the same customers (a
  fresh worker, their history read from the record); then its resident memory after the second and the
  last of `--turns` turns, in rounds of `--phones` texts.
- *slow LLM*: one web and one worker process with default settings, each of `--phones` phones texts once,
  every LLM answer takes 1 s; the seconds from the first webhook to the last reply Twilio received.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp

from tests.emulators.openai import OpenAIEmulator
from tests.emulators.server import serve_in_thread
from tests.emulators.twilio import TwilioEmulator
from tests.support import backends
from tests.support.processes import SMS_WEBHOOK, Fleet, ProductProcess, product_env, signed_sms
from tests.support.scale import with_jitter

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def phone(index: int) -> str:
    return f"+1415{index:07d}"


async def post_texts(server: str, count: int, round_number: int, connections: int = 64) -> None:
    """One text from each of `count` phones, `connections` webhooks in flight at a time; all must be 200."""
    # aiohttp, not httpx: httpx's pool slows to a crawl with a thousand requests queued on it.
    signed = [signed_sms(f"hello {round_number}-{index}", phone=phone(index)) for index in range(count)]
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(30)) as client:

        async def one(params: dict[str, str], headers: dict[str, str]) -> None:
            async with client.post(server + SMS_WEBHOOK, data=params, headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"webhook answered {response.status}: {(await response.text())[:200]}")

        await asyncio.gather(*(one(params, headers) for params, headers in signed))


def wait_for(
    condition: Callable[[], bool], *, timeout: float, what: str, watch: list[ProductProcess]
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if dead := [process.name for process in watch if not process.running()]:
            raise RuntimeError(f"{dead} exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.01)


def emulated(
    stack: ExitStack, workdir: Path, database_url: str, redis_url: str, *, llm_seconds: float, burst: float
) -> tuple[Fleet, TwilioEmulator]:
    """A fleet (no process started yet) whose Twilio and LLM are emulators; the LLM takes `llm_seconds`."""
    twilio, llm = TwilioEmulator(), OpenAIEmulator()
    llm.reply_with("Thanks, see you soon.")
    llm_app = with_jitter(llm.app, llm_seconds, llm_seconds) if llm_seconds else llm.app
    env = product_env(
        database_url=database_url,
        redis_url=redis_url,
        twilio_base_url=stack.enter_context(serve_in_thread(twilio.app)),
        openai_base_url=stack.enter_context(serve_in_thread(llm_app)),
        burst_window_seconds=burst,
        turn_lease_seconds=90,  # the default
    )
    return stack.enter_context(Fleet(env, workdir)), twilio


def measured_round(
    fleet: Fleet, web: ProductProcess, twilio: TwilioEmulator, per_round: int, number: int
) -> dict:
    """One round of texts queued before a fresh worker starts, so its CPU is the worker's alone."""
    asyncio.run(post_texts(web.url, per_round, number))
    worker = fleet.worker(f"worker-{number}")
    fleet.wait_ready(worker)
    started, cpu_before = time.monotonic(), cpu_seconds(worker.pid)
    expected = per_round * (number + 1)
    wait_for(lambda: len(twilio.messages) >= expected, timeout=600, what="a round", watch=[web, worker])
    seconds, cpu = time.monotonic() - started, cpu_seconds(worker.pid) - cpu_before
    return {"worker": worker, "cpu_ms": cpu / per_round * 1000, "per_second": per_round / seconds}


def cpu_and_memory(workdir: Path, database_url: str, redis_url: str, turns: int, per_round: int) -> dict:
    """The worker's CPU per turn (first contacts, then the same customers again), turns per second and
    memory growth, with an LLM that answers at once."""
    with ExitStack() as stack:
        fleet, twilio = emulated(stack, workdir, database_url, redis_url, llm_seconds=0, burst=0)
        web = fleet.serve("web")
        fleet.wait_ready(web)
        rounds = max(2, turns // per_round)
        first = measured_round(fleet, web, twilio, per_round, 0)
        first["worker"].stop()
        # The same customers again: their history is read from the record and remembered.
        again = measured_round(fleet, web, twilio, per_round, 1)
        worker = again["worker"]
        memory = [rss_mb(worker.pid)]
        for number in range(2, rounds):
            asyncio.run(post_texts(web.url, per_round, number))
            expected = per_round * (number + 1)
            watch = [web, worker]
            wait_for(lambda n=expected: len(twilio.messages) >= n, timeout=600, what="a round", watch=watch)
        memory.append(rss_mb(worker.pid))
        if len(twilio.messages) != per_round * rounds:
            raise RuntimeError(f"Twilio got {len(twilio.messages)} texts for {per_round * rounds} turns")
    return {
        "turns_measured": per_round,
        "worker_cpu_ms_per_turn": round(first["cpu_ms"], 2),
        "turns_per_second": round(first["per_second"], 1),
        "returning_worker_cpu_ms_per_turn": round(again["cpu_ms"], 2),
        "returning_turns_per_second": round(again["per_second"], 1),
        "turns_total": per_round * rounds,
        "worker_rss_mb_first_round": round(memory[0], 1),
        "worker_rss_mb_last_round": round(memory[-1], 1),
        "worker_memory_growth": round(memory[-1] / memory[0] - 1, 3),
    }


def slow_llm(workdir: Path, database_url: str, redis_url: str, phones: int) -> dict:
    """Every phone texts once, the LLM takes 1 s: seconds until the last reply, on default settings."""
    with ExitStack() as stack:
        # The default burst window: a text waits 2 s for more from the same number before its turn.
        fleet, twilio = emulated(stack, workdir, database_url, redis_url, llm_seconds=1.0, burst=2.0)
        web, worker = fleet.serve("web"), fleet.worker("worker")
        fleet.wait_ready(web, worker)
        started = time.monotonic()
        asyncio.run(post_texts(web.url, phones, 0, connections=phones))
        accepted = time.monotonic() - started
        wait_for(lambda: len(twilio.messages) >= phones, timeout=300, what="every reply", watch=[web, worker])
        seconds = time.monotonic() - started
        peak = rss_mb(worker.pid)
    return {
        "phones": phones,
        "llm_seconds": 1.0,
        "all_webhooks_answered_seconds": round(accepted, 2),
        "last_reply_seconds": round(seconds, 2),
        "worker_rss_mb": round(peak, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=10_000, help="turns in the memory run")
    parser.add_argument("--phones", type=int, default=1000, help="phones per round, and in the slow-LLM run")
    parser.add_argument("--only", choices=["cpu", "slow-llm"], help="run one scenario")
    parser.add_argument("--json", default="bench-results.json", help="where to add the figures")
    options = parser.parse_args()
    if not (backends.postgres_available() and backends.redis_available()):
        print("turn figures skipped: they need PostgreSQL (TEST_DATABASE_URL) and Redis (TEST_REDIS_URL)")
        return 0
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="turn-bench-") as tmp:
        if options.only in (None, "cpu"):
            with backends.fresh_postgres_database() as database, backends.redis_database() as redis_url:
                results["cpu"] = cpu_and_memory(Path(tmp), database, redis_url, options.turns, options.phones)
            print(json.dumps(results["cpu"], indent=2))
        if options.only in (None, "slow-llm"):
            with backends.fresh_postgres_database() as database, backends.redis_database() as redis_url:
                results["slow_llm"] = slow_llm(Path(tmp), database, redis_url, options.phones)
            print(json.dumps(results["slow_llm"], indent=2))
    path = Path(options.json)
    stored = json.loads(path.read_text()) if path.is_file() else {}
    stored["turns"] = {**stored.get("turns", {}), **results}
    path.write_text(json.dumps(stored, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
