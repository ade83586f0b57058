"""Webhook throughput: the project beside a bare Starlette app parsing the same form, in one run.

    python -m bench.webhook_throughput [--seconds 10] [--connections 64] [--json bench-results.json]

Each request is a new signed MessageSid, as Twilio sends them. The load comes from wrk (Debian's `wrk`)
when it is installed, else from two processes of aiohttp clients, cycling through pre-signed bodies.
Three servers are measured one after another: a bare Starlette app that parses the form and answers
TwiML (the baseline), `serve --no-worker` on PostgreSQL + Redis (when TEST_DATABASE_URL and a Redis
server are there), and the embedded default.
Figures are printed and written to the JSON file as ratios against the baseline of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


def wrk_script(bodies: list[tuple[str, str]], workdir: Path) -> Path:
    """A wrk Lua script that sends the bodies in turn (read from a file: too many for one Lua chunk)."""
    data = workdir / "bodies.txt"
    data.write_text("".join(f"{signature} {body}\n" for body, signature in bodies))
    path = workdir / "bodies.lua"
    path.write_text(WRK_SCRIPT.replace("BODIES_FILE", str(data)))
    return path


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


def measure(name: str, args: list[str], env: dict[str, str], workdir: Path, port: int, **load: Any) -> dict:
    script, bodies = load.pop("script"), load.pop("bodies")
    with server(args, env, workdir, port) as url:
        figures = run_wrk(url, script, **load) if script else run_python_load(url, bodies, **load)
    print(f"{name:<28} {figures['requests_per_second']:>9.0f} req/s   p99 {figures['p99_ms']:>7.1f} ms")
    if figures["not_200"]:
        raise RuntimeError(f"{name}: {figures['not_200']} answers were not 200: the figures mean nothing")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10, help="how long each server is loaded")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--json", default="bench-results.json", help="where to add the figures")
    parser.add_argument(
        "--load", choices=["wrk", "python"], help="the load generator (default: wrk if found)"
    )
    options = parser.parse_args()
    generator = options.load or ("wrk" if shutil.which("wrk") else "python")
    load = {"seconds": options.seconds, "connections": options.connections}
    results: dict[str, Any] = {
        "connections": options.connections,
        "seconds": options.seconds,
        "load_generator": generator,
        "cpus": os.cpu_count(),
    }
    python = [sys.executable]
    with tempfile.TemporaryDirectory(prefix="webhook-bench-") as tmp:
        workdir = Path(tmp)
        bodies = signed_bodies(options.seconds * 8000)
        load["bodies"] = bodies
        load["script"] = wrk_script(bodies, workdir) if generator == "wrk" else None
        (workdir / "bare.py").write_text(BARE_APP)
        bare_args = [
            *python,
            "-m",
            "uvicorn",
            "bare:app",
            "--port",
            str(port := free_port()),
            "--log-level",
            "warning",
        ]
        bare_env = {**os.environ, "PYTHONPATH": str(workdir)}
        bare = measure("bare Starlette", bare_args, bare_env, workdir, port, **load)
        results["bare_starlette"] = bare

        def project(name: str, key: str, extra: list[str], **env: str) -> None:
            port = free_port()
            args = [*python, "-m", "assistant", "serve", "--port", str(port), *extra]
            figures = measure(name, args, product_env(**env), workdir, port, **load)
            figures["ratio_to_bare"] = round(figures["requests_per_second"] / bare["requests_per_second"], 3)
            results[key] = figures

        if backends.postgres_available() and backends.redis_available():
            with backends.fresh_postgres_database() as database_url, backends.redis_database() as redis_url:
                project(
                    "serve --no-worker (PG+Redis)",
                    "production",
                    ["--no-worker"],
                    DATABASE_URL=database_url,
                    REDIS_URL=redis_url,
                )
        else:
            print("PostgreSQL + Redis not available: production figure skipped")
        project("embedded default", "embedded", [], DATABASE_URL=f"sqlite+aiosqlite:///{workdir}/bench.db")
    for key in ("production", "embedded"):
        if key in results:
            print(f"{key}: {results[key]['ratio_to_bare']:.0%} of bare Starlette")
    path = Path(options.json)
    stored = json.loads(path.read_text()) if path.is_file() else {}
    stored["webhook_throughput"] = results
    path.write_text(json.dumps(stored, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
