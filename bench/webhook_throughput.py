"""Webhook throughput: the project beside a bare Starlette app parsing the same form, in one run.

    python -m bench.webhook_throughput [--seconds 8] [--rounds 3] [--connections 64] [--json FILE]

Each request is a new signed MessageSid, as Twilio sends them. The load comes from wrk (Debian's `wrk`)
when it is installed, else from two processes of aiohttp clients, cycling through pre-signed bodies.
Three servers are measured one after another: a bare Starlette app that parses the form and answers
TwiML (the baseline), `serve --no-worker` on PostgreSQL + Redis (when TEST_DATABASE_URL and a Redis
server are there), and the embedded default.
They are measured in rounds, the baseline again in each; a server's figures are the medians over the
rounds, each ratio against its own round's baseline, written to the JSON file with every round's ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

from tests.support import backends

TOKEN = "bench-auth-token"
ACCOUNT = "AC" + "0" * 32
PUBLIC = "https://bench.example.com"
PATH = "/webhooks/twilio/sms"
WARMUP_SECONDS = 2  # before each measurement: the first requests prepare statements and fill caches
# Bodies signed per second of load: more than the project answers, so none is sent twice (a retry).
BODIES_PER_SECOND = 12_000
ROOT = Path(__file__).resolve().parent.parent

BARE_APP = """
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

async def sms(request):
    form = await request.form()
    {k: str(v) for k, v in form.multi_items()}
    return Response('<?xml version="1.0" encoding="UTF-8"?><Response />', media_type="application/xml")

app = Starlette(routes=[Route("/webhooks/twilio/sms", sms, methods=["POST"])])
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def signed_bodies(count: int) -> list[tuple[str, str]]:
    """(form body, X-Twilio-Signature) pairs, each with its own MessageSid and one of 500 phones."""
    validator = RequestValidator(TOKEN)
    bodies = []
    for n in range(count):
        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": ACCOUNT,
            "From": f"+1415555{n % 500:04d}",
            "To": "+15005550006",
            "Body": f"hello number {n}",
            "NumMedia": "0",
        }
        bodies.append((urlencode(params), validator.compute_signature(PUBLIC + PATH, params)))
    return bodies


WRK_SCRIPT = r"""
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  bodies, i, refused = {}, 0, 0
  for line in io.lines("BODIES_FILE") do
    local signature, body = line:match("^(%S+) (.*)$")
    bodies[#bodies + 1] = {body, signature}
  end
end
function request()
  i = i + 1  -- two threads: one sends the odd bodies, the other the even ones
  local item = bodies[((i * 2 + id) % #bodies) + 1]
  return wrk.format("POST", "/webhooks/twilio/sms", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = item[2] }, item[1])
end
function response(status, headers, body)
  if status ~= 200 then refused = refused + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("refused") end
  io.write("not 200: " .. total .. "\n")
end
"""


def wrk_script(bodies: list[tuple[str, str]], workdir: Path, name: str) -> Path:
    """A wrk Lua script that sends the bodies in turn (read from a file: too many for one Lua chunk)."""
    data = workdir / f"{name}.txt"
    data.write_text("".join(f"{signature} {body}\n" for body, signature in bodies))
    path = workdir / f"{name}.lua"
    path.write_text(WRK_SCRIPT.replace("BODIES_FILE", str(data)))
    return path


@dataclass(frozen=True)
class Requests:
    """Signed webhooks to send, and the wrk script that sends them (None: the Python load generator)."""

    bodies: list[tuple[str, str]]
    script: Path | None

    @classmethod
    def prepared(cls, count: int, workdir: Path, name: str, *, wrk: bool) -> Requests:
        bodies = signed_bodies(count)
        return cls(bodies, wrk_script(bodies, workdir, name) if wrk else None)

    def send(self, url: str, *, seconds: int, connections: int) -> dict[str, float]:
        if self.script:
            return run_wrk(url, self.script, seconds=seconds, connections=connections)
        return run_python_load(url, self.bodies, seconds=seconds, connections=connections)


def _client_process(
    url: str, bodies: list[tuple[str, str]], seconds: float, connections: int, out: Any
) -> None:
    """One load process: `connections` loops posting in turn until time is up; sends back its figures."""
    import asyncio

    import aiohttp

    async def load() -> tuple[int, int, list[float]]:
        done, refused, latencies = 0, 0, []
        deadline = time.monotonic() + seconds
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def loop(offset: int) -> None:
                nonlocal done, refused
                n = offset
                while time.monotonic() < deadline:
                    body, signature = bodies[n % len(bodies)]
                    n += connections
                    headers = {
                        "Content-Type": "application/x-www-form-urlencoded",
                        "X-Twilio-Signature": signature,
                    }
                    started = time.monotonic()
                    async with session.post(url + PATH, data=body, headers=headers) as response:
                        await response.read()
                        refused += response.status != 200
                    latencies.append(time.monotonic() - started)
                    done += 1

            await asyncio.gather(*(loop(offset) for offset in range(connections)))
        return done, refused, latencies

    out.send(asyncio.run(load()))
    out.close()


def run_python_load(
    url: str, bodies: list[tuple[str, str]], *, seconds: int, connections: int, processes: int = 2
) -> dict[str, float]:
    """The wrk figures from `processes` aiohttp client processes, where wrk is not installed."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    pipes, workers = [], []
    for index in range(processes):
        receive, send = context.Pipe(duplex=False)
        share = bodies[index::processes]
        worker = context.Process(
            target=_client_process, args=(url, share, seconds, connections // processes, send)
        )
        worker.start()
        pipes.append(receive)
        workers.append(worker)
    results = [pipe.recv() for pipe in pipes]
    for worker in workers:
        worker.join()
    latencies = sorted(latency for _, _, part in results for latency in part)
    total = sum(done for done, _, _ in results)
    return {
        "requests_per_second": total / seconds,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000 if latencies else 0.0,
        "not_200": sum(refused for _, refused, _ in results),
    }


def run_wrk(url: str, script: Path, *, seconds: int, connections: int) -> dict[str, float]:
    """Requests per second, the p99 latency in ms, and any non-2xx answers."""
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99[2]]
    errors = re.search(r"not 200: (\d+)", out)
    return {
        "requests_per_second": rate,
        "p99_ms": float(p99[1]) * scale,
        "not_200": int(errors[1]) if errors else -1,
    }


@contextmanager
def server(args: list[str], env: dict[str, str], workdir: Path, port: int) -> Iterator[str]:
    """The server on `port`; its output goes to a file (a pipe nobody reads would fill and block it)."""
    log_path = workdir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{args} exited: {log_path.read_text()[-2000:]}")
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{args} did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def product_env(**values: str) -> dict[str, str]:
    own = ("TWILIO_", "OPENAI_", "DATABASE_URL", "REDIS_URL", "LOG_LEVEL", "PUBLIC_BASE_URL")
    env = {key: value for key, value in os.environ.items() if not key.startswith(own)}
    env.update(
        PYTHONPATH=str(ROOT),
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_PHONE_NUMBER="+15005550006",
        TWILIO_API_BASE_URL="http://127.0.0.1:9",  # nothing is sent: only the webhook is measured
        PUBLIC_BASE_URL=PUBLIC,
        BURST_WINDOW_SECONDS="30",
        **values,
    )
    return env


@dataclass(frozen=True)
class Round:
    """One round's load: each server gets the warm-up, then the measured requests."""

    warmup: Requests
    measured: Requests
    seconds: int
    connections: int

    def measure(self, name: str, args: list[str], env: dict[str, str], workdir: Path, port: int) -> dict:
        """The server's figures under the measured requests, after the warm-up (statements, caches)."""
        with server(args, env, workdir, port) as url:
            self.warmup.send(url, seconds=WARMUP_SECONDS, connections=self.connections)
            figures = self.measured.send(url, seconds=self.seconds, connections=self.connections)
        print(f"{name:<28} {figures['requests_per_second']:>9.0f} req/s   p99 {figures['p99_ms']:>7.1f} ms")
        if figures["not_200"]:
            raise RuntimeError(f"{name}: {figures['not_200']} answers were not 200: the figures mean nothing")
        return figures


def combined(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One server's figures over the rounds: the medians, and each round's share of the bare app's."""
    figures: dict[str, Any] = {
        "requests_per_second": statistics.median(r["requests_per_second"] for r in rounds),
        "p99_ms": statistics.median(r["p99_ms"] for r in rounds),
    }
    if "ratio_to_bare" in rounds[0]:
        figures["ratio_to_bare"] = statistics.median(r["ratio_to_bare"] for r in rounds)
        figures["ratio_to_bare_by_round"] = [r["ratio_to_bare"] for r in rounds]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=8, help="how long each server is loaded per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of bare app, then project")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--json", default="bench-results.json", help="where to add the figures")
    parser.add_argument(
        "--load", choices=["wrk", "python"], help="the load generator (default: wrk if found)"
    )
    options = parser.parse_args()
    generator = options.load or ("wrk" if shutil.which("wrk") else "python")
    python = [sys.executable]
    measured: dict[str, list[dict[str, Any]]] = {"bare_starlette": [], "production": [], "embedded": []}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="webhook-bench-")))
        (workdir / "bare.py").write_text(BARE_APP)
        bare_env = {**os.environ, "PYTHONPATH": str(workdir)}
        production: dict[str, str] = {}
        if backends.postgres_available() and backends.redis_available():
            production["DATABASE_URL"] = stack.enter_context(backends.fresh_postgres_database())
            production["REDIS_URL"] = stack.enter_context(backends.redis_database())
        else:
            print("PostgreSQL + Redis not available: production figure skipped")
        names = {"production": "serve --no-worker (PG+Redis)", "embedded": "embedded default"}
        # The machine's speed drifts from one run to the next: each round measures the bare app again,
        # right before the project's servers, and each ratio is against its own round's bare figure.
        for round_number in range(1, options.rounds + 1):
            print(f"round {round_number} of {options.rounds}")
            # New MessageSids every round: a webhook Twilio sent before is a retry, answered another way.
            wrk = generator == "wrk"
            load = Round(
                warmup=Requests.prepared(WARMUP_SECONDS * BODIES_PER_SECOND, workdir, "warmup", wrk=wrk),
                measured=Requests.prepared(options.seconds * BODIES_PER_SECOND, workdir, "measured", wrk=wrk),
                seconds=options.seconds,
                connections=options.connections,
            )
            port = free_port()
            bare_args = [*python, "-m", "uvicorn", "bare:app", "--port", str(port), "--log-level", "warning"]
            bare = load.measure("bare Starlette", bare_args, bare_env, workdir, port)
            measured["bare_starlette"].append(bare)
            # The embedded worker would answer the earlier rounds' texts meanwhile: a new database each round.
            embedded = {"DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/round-{round_number}.db"}
            servers = [("production", ["--no-worker"], production)] if production else []
            for key, extra, env in [*servers, ("embedded", [], embedded)]:
                port = free_port()
                args = [*python, "-m", "assistant", "serve", "--port", str(port), *extra]
                figures = load.measure(names[key], args, product_env(**env), workdir, port)
                ratio = figures["requests_per_second"] / bare["requests_per_second"]
                figures["ratio_to_bare"] = round(ratio, 3)
                measured[key].append(figures)
    results: dict[str, Any] = {
        "connections": options.connections,
        "seconds": options.seconds,
        "rounds": options.rounds,
        "load_generator": generator,
        "cpus": os.cpu_count(),
        **{key: combined(rounds) for key, rounds in measured.items() if rounds},
    }
    for key in ("production", "embedded"):
        if key in results:
            each = ", ".join(f"{ratio:.0%}" for ratio in results[key]["ratio_to_bare_by_round"])
            print(f"{key}: {results[key]['ratio_to_bare']:.0%} of bare Starlette (median; rounds {each})")
    path = Path(options.json)
    stored = json.loads(path.read_text()) if path.is_file() else {}
    stored["webhook_throughput"] = results
    path.write_text(json.dumps(stored, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
