"""Real OS processes of the product (`python -m assistant ...`) for multi-process tests, never orphaned."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx
import redis
from twilio.request_validator import RequestValidator

import assistant
from storage.turn_queue import STREAM
from tests.emulators.server import free_port
from tests.emulators.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

BUSINESS_NUMBER = "+15005550006"
PUBLIC_BASE_URL = "https://assistant.example.com"
SMS_WEBHOOK = "/webhooks/twilio/sms"
# Redis databases no other test uses (conftest's is 13). Product keys have no prefix, so a concurrent run of
# these tests (another checkout, CI) needs a database of its own: each run claims a free one.
# The source tree this test process imported the product from: children must run the very same code.
SOURCE_ROOT = str(Path(assistant.__file__).resolve().parent.parent)
WORKER_STARTED = re.compile(r"worker \S+ started")


def product_env(
    *,
    database_url: str,
    redis_url: str,
    twilio_base_url: str,
    openai_base_url: str,
    burst_window_seconds: float,
    turn_lease_seconds: float,
    **extra: str,
) -> dict[str, str]:
    """The complete environment for a product process: nothing leaks in from the developer's own."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": SOURCE_ROOT,
        "TZ": "UTC",
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "INFO",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
        "TWILIO_PHONE_NUMBER": BUSINESS_NUMBER,
        "TWILIO_API_BASE_URL": twilio_base_url,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": openai_base_url + "/v1",
        "LLM_MODEL": "test-model",
        "LLM_MAX_RETRIES": "0",
        "BURST_WINDOW_SECONDS": str(burst_window_seconds),
        "TURN_LEASE_SECONDS": str(turn_lease_seconds),
        # Paced, but far above a long code's 1/s, so multi-process tests aren't slowed (bench.pacing sets 2).
        "SEND_RATE_PER_SECOND": "1000",
    }
    env.update(extra)
    return env


@cache
def _product_clock_offset() -> timedelta:
    """How far the product processes' clock is from this process's.

    Under libfaketime (the suite run at another hour) this process's clock is moved and theirs is not:
    their environment (`product_env`) leaves libfaketime out. Measured once, by a process started so.
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    before = time.time()
    done = subprocess.run(
        [sys.executable, "-c", "import time; print(time.time())"], env=env, capture_output=True, check=True
    )
    after = time.time()
    return timedelta(seconds=float(done.stdout) - (before + after) / 2)


def product_clock() -> datetime:
    """Now by the product processes' clock: for an emulator whose timestamps they compare with theirs (the
    Twilio emulator's date_created, which a check for a text sent before a crash goes by)."""
    return datetime.now(UTC) + _product_clock_offset()


def signed_sms(
    body: str, *, phone: str, sid: str | None = None, path: str = SMS_WEBHOOK
) -> tuple[dict[str, str], dict[str, str]]:
    """Form fields and headers of an inbound SMS webhook to `path`, signed as Twilio signs it (for
    PUBLIC_BASE_URL)."""
    params = {
        "MessageSid": sid or "SM" + uuid.uuid4().hex,
        "AccountSid": DEFAULT_ACCOUNT_SID,
        "From": phone,
        "To": BUSINESS_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(DEFAULT_AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, params)
    return params, {"X-Twilio-Signature": signature}


def queued_turns(url: str) -> int:
    """Entries left in the turn stream: workers delete each one when they acknowledge it."""
    client = redis.Redis.from_url(url)
    try:
        return int(client.xlen(STREAM))
    finally:
        client.close()


class ProductProcess:
    """One running `python -m assistant ...`, its stdout and stderr captured to a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.args = args
        self.log_path = workdir / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "assistant", *args],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> int:
        """SIGKILL, as a crash or the OOM killer would: no cleanup runs in the child; returns its status."""
        os.kill(self.pid, signal.SIGKILL)
        return self.popen.wait(timeout=10)

    def stop(self, grace_seconds: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it is still there after the grace period."""
        if self.running():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._log.close()


class Server(ProductProcess):
    """`serve --no-worker` on a loopback port."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(name, ["serve", "--no-worker", "--port", str(self.port)], env, workdir)


class Fleet:
    """Starts product processes and always takes them down again; prints their logs when the block fails."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.processes: list[ProductProcess] = []

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if exc_type is not None:
            self.print_logs()

    def stop(self) -> None:
        """Shut every process down: a worker finishes the turns it holds first."""
        # SIGTERM all first so they shut down in parallel, then wait for (or SIGKILL) each.
        for process in self.processes:
            if process.running():
                process.popen.terminate()
        for process in self.processes:
            process.stop(grace_seconds=15.0)

    def print_logs(self) -> None:
        for process in self.processes:
            print(f"----- {process.name} ({' '.join(process.args)}), exit {process.popen.returncode} -----")
            print(process.log_text())

    def serve(self, name: str) -> Server:
        server = Server(name, self.env, self.workdir)
        self.processes.append(server)
        return server

    def worker(self, name: str) -> ProductProcess:
        worker = ProductProcess(name, ["worker"], self.env, self.workdir)
        self.processes.append(worker)
        return worker

    def cli(self, *args: str, timeout: float = 60.0, stdin: str | None = None) -> str:
        """Run a one-shot `sms-assistant` command with the same environment; returns its stdout."""
        done = subprocess.run(
            [sys.executable, "-m", "assistant", *args],
            env=self.env,
            cwd=self.workdir,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"`sms-assistant {' '.join(args)}` exited {done.returncode}:\n{done.stderr}")
        return done.stdout

    def messages(self, phone: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """`sms-assistant messages list --json`, newest first."""
        args = ["messages", "list", "--json", "--limit", str(limit)]
        if phone:
            args += ["--phone", phone]
        return json.loads(self.cli(*args))

    def wait_ready(self, *processes: ProductProcess, timeout: float = 90.0) -> None:
        """Wait until each server answers 200 on /readyz and each worker has logged that it started."""
        # Generous: a process starting on a loaded machine (CI beside other jobs) takes many seconds.
        deadline = time.monotonic() + timeout
        waiting = list(processes)
        with httpx.Client(timeout=2.0) as client:
            while waiting:
                for process in list(waiting):
                    if not process.running():
                        raise RuntimeError(
                            f"{process.name} exited with {process.popen.returncode} before it was ready"
                        )
                    if _is_ready(process, client):
                        waiting.remove(process)
                if not waiting:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout:.0f} s: {[p.name for p in waiting]}")
                time.sleep(0.1)


def _is_ready(process: ProductProcess, client: httpx.Client) -> bool:
    if isinstance(process, Server):
        try:
            return client.get(process.url + "/readyz").status_code == 200
        except httpx.TransportError:
            return False
    return WORKER_STARTED.search(process.log_text()) is not None


def wait_until(
    condition: Callable[[], bool], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> None:
    """Poll `condition()` until it is true; raise AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
