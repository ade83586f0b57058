"""Serve an ASGI app with uvicorn on a free loopback port in a background thread; make its answers wait."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

# No hold outlasts this: a test that forgot to release one still ends, and fails on what it asserts.
HOLD_LIMIT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_in_thread(app: object, port: int | None = None) -> Iterator[str]:
    """Run `app` on 127.0.0.1 until the block ends; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=2,
        # Like Twilio's and OpenAI's own servers, keep idle connections open longer than the clients do
        # (aiohttp: 15 s). At uvicorn's 5 s, a client reusing one just as it closes sees a reset.
        timeout_keep_alive=75,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("emulator did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Holds:
    """Makes an emulator's answers wait: a delay, a closed gate, or until n requests are in flight at once.

    Tests set these from their own thread while the emulator answers on uvicorn's; `reset` ends every wait.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self.delay = 0.0
        self.closed = False
        self.until_in_flight = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def close(self) -> None:
        """Hold every answer until `open`."""
        self.closed = True

    def open(self) -> None:
        self.closed = False

    def until_concurrent(self, count: int) -> None:
        """Hold answers until `count` requests have been in flight together, then answer them all."""
        with self._lock:
            self.until_in_flight, self.max_in_flight = count, self.in_flight

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self.delay, self.closed, self.until_in_flight, self.max_in_flight = 0.0, False, 0, 0

    async def wait(self) -> None:
        """Hold one request as the holds say (an async wait, so concurrent requests overlap)."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            generation = self._generation
        try:
            await self._wait(generation)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _wait(self, generation: int) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        while self._generation == generation and loop.time() - started < HOLD_LIMIT_SECONDS:
            waited = loop.time() - started
            if waited >= self.delay and not self.closed and self.max_in_flight >= self.until_in_flight:
                return
            await asyncio.sleep(min(0.01, max(self.delay - waited, 0.001)))
