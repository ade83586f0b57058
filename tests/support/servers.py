"""PostgreSQL and Redis servers of a test's own, in its temporary folder, so it may stop and start them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.emulators.server import free_port

POSTGRES_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)
START_SECONDS = 30.0


def _server_env() -> dict[str, str]:
    """The environment for a server process: without libfaketime, which a test run may be under (to check
    the suite at any hour) and which Redis's allocator can't start with; servers keep the real time."""
    return {
        key: value
        for key, value in os.environ.items()
        if key != "LD_PRELOAD" and not key.startswith(("FAKETIME", "DONT_FAKE"))
    }


def _run_as() -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` account."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def postgres_available() -> bool:
    if POSTGRES_BIN is None or not (POSTGRES_BIN / "initdb").exists():
        return False
    if os.geteuid() != 0:
        return True
    return shutil.which("runuser") is not None and _has_account("postgres")


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


def _has_account(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class PostgresServer:
    """A throwaway cluster (no fsync: durability across a crash of the machine is not what is tested).

    Its folder is a temporary one of its own, outside pytest's (which the `postgres` account can't enter).
    """

    def __init__(self) -> None:
        assert POSTGRES_BIN is not None
        self.folder = Path(tempfile.mkdtemp(prefix="sms-assistant-postgres-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        self._running = False
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self._command("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _command(self, tool: str, *args: str, check: bool = True) -> int:
        assert POSTGRES_BIN is not None
        return subprocess.run(
            [*_run_as(), str(POSTGRES_BIN / tool), *args],
            check=check,
            capture_output=True,
            env=_server_env(),
            timeout=START_SECONDS * 2,
        ).returncode

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off"
            f" -c unix_socket_directories={self.folder}"
        )
        log = str(self.folder / "log")
        self._command("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
        self._running = True

    def stop(self, *, crash: bool = False) -> None:
        """Stop the server; `crash` stops it the way a power cut would (no shutdown checkpoint)."""
        if self._running:
            mode = "immediate" if crash else "fast"
            stopped = self._command("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)
            # A smart shutdown begun earlier may have finished on its own: pg_ctl then finds no server.
            if stopped != 0 and self._command("pg_ctl", "-D", str(self.data), "status", check=False) != 3:
                raise RuntimeError(f"pg_ctl could not stop the server in {self.data}")
            self._running = False

    def begin_smart_stop(self) -> None:
        """Ask for a smart shutdown and return at once: it refuses new connections ("the database system
        is shutting down") while sessions already open keep it up."""
        self._command("pg_ctl", "-D", str(self.data), "-m", "smart", "-W", "stop")

    def close(self) -> None:
        """Stop it and remove its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class RedisServer:
    """A Redis that keeps nothing on disk: a restart comes back empty, as Redis without persistence does."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.folder / "log").open("ab")
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.folder,
            env=_server_env(),
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self, *, crash: bool = False) -> None:
        if self._process is None:
            return
        self._process.send_signal(signal.SIGKILL if crash else signal.SIGTERM)
        self._process.wait(timeout=START_SECONDS)
        self._process = None
