"""Starting the service as an operator does: the banner, and one line naming the fix when it can't start."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis as redis_sync

from tests.emulators.server import free_port
from tests.support import backends, servers

needs_postgres = pytest.mark.skipif(
    not backends.postgres_available(),
    reason="needs PostgreSQL: set TEST_DATABASE_URL=postgresql+asyncpg://...",
)
needs_redis = pytest.mark.skipif(
    not backends.redis_available(), reason=f"needs a Redis server at {backends.TEST_REDIS_URL}"
)


def environment(**values: str) -> dict[str, str]:
    """The developer's environment without our own settings, plus these."""
    own = ("TWILIO_", "OPENAI_", "DATABASE_URL", "REDIS_URL", "LOG_LEVEL", "BUSINESS_CONFIG", "PHONE_REGION")
    env = {key: value for key, value in os.environ.items() if not key.startswith(own)}
    return {**env, **values}


def sms_assistant(
    *args: str, cwd: Path, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        cwd=cwd,
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_refusal(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Start-up stopped with a non-zero exit and a single line saying why, and no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0]


class Served:
    """`sms-assistant serve` running in a child process on a free port."""

    def __init__(self, cwd: Path, **env: str) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "assistant", "serve", "--port", port],
            cwd=cwd,
            env=environment(PYTHONUNBUFFERED="1", **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.communicate()
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve was not ready within {timeout:g} s")

    def stop(self) -> tuple[str, str]:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.communicate(timeout=60)


@pytest.fixture
def redis_db() -> Iterator[str]:
    with backends.redis_database() as url:
        yield url


def test_serve_prints_the_banner_and_sends_visitors_to_the_sandbox(tmp_path: Path) -> None:
    served = Served(tmp_path)
    try:
        served.wait_ready()
        home = httpx.get(served.url + "/", timeout=10)
        sandbox = httpx.get(served.url + "/", timeout=10, follow_redirects=True)
    finally:
        stdout, _ = served.stop()

    assert home.status_code == 302 and home.headers["location"] == "/sandbox"
    assert "Text Acme Fitness as a customer would" in sandbox.text
    banner = stdout.splitlines()
    assert banner[0].startswith("SMS Assistant ") and banner[0].endswith("embedded (one process)")
    assert "  business  Acme Fitness (America/Los_Angeles)" in banner
    assert any(
        line.startswith("  database  sqlite+aiosqlite:///./data/assistant.db (schema") for line in banner
    )
    assert "  redis     in-process (memory://)" in banner
    assert any(line.startswith("  llm       offline engine") for line in banner)
    assert any(line.startswith("  sms       sandbox outbox") for line in banner)
    assert "  worker    runs in this process" in banner
    assert f"  open      {served.url}/sandbox    the phone simulator" in banner
    assert f"            {served.url}/admin      the staff console" in banner
    assert "            no staff account yet: sms-assistant staff add NAME" in banner


@needs_redis
def test_serve_without_a_worker_says_texts_will_wait(tmp_path: Path, redis_db: str) -> None:
    served = Served(tmp_path, REDIS_URL=redis_db, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/a.db")
    try:
        served.wait_ready()
        ready = httpx.get(served.url + "/readyz", timeout=10).json()
    finally:
        stdout, _ = served.stop()

    assert "production (shared Redis)" in stdout.splitlines()[0]
    assert "  worker    none in this process: texts wait until a worker runs (sms-assistant worker)" in stdout
    assert ready["workers"] == 0 and "no worker is running" in ready["warning"]


@needs_redis
def test_serve_stops_with_an_error_when_its_worker_stops(tmp_path: Path, redis_db: str) -> None:
    # The queue's key holds something else, so the worker can't read it: nobody would answer the sandbox.
    redis_sync.Redis.from_url(redis_db).set("turns", "not a stream")
    served = Served(
        tmp_path,
        REDIS_URL=redis_db,
        EMBEDDED_WORKER="true",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/a.db",
    )
    try:
        code = served.process.wait(timeout=60)
    finally:
        _, stderr = served.stop()

    assert code == 1
    assert "the embedded worker stopped (ResponseError: WRONGTYPE" in stderr
    assert stderr.strip().splitlines()[-1].startswith("sms-assistant: the embedded worker stopped")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"LOG_LEVEL": "LOUD"},
            "LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (got 'LOUD')",
        ),
        ({"PHONE_REGION": "ZZ"}, "PHONE_REGION: must be the two-letter region"),
        ({"BUSINESS_CONFIG": "broken.toml"}, "hours: mon must look like \"09:00-17:00\" (got '9-5')"),
        ({"BUSINESS_CONFIG": "missing.toml"}, "BUSINESS_CONFIG file not found: missing.toml"),
    ],
    ids=["log-level", "phone-region", "broken-business-file", "missing-business-file"],
)
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_bad_configuration_stops_start_up_with_one_line(
    tmp_path: Path, command: str, env: dict[str, str], expected: str
) -> None:
    (tmp_path / "broken.toml").write_text('name = "Acme"\ntimezone = "UTC"\n[hours]\nmon = "9-5"\n')
    redis = {"REDIS_URL": "redis://127.0.0.1:1/0"} if command == "worker" else {}  # checked later than these
    result = sms_assistant(command, cwd=tmp_path, **redis, **env)
    assert_one_line_refusal(result, expected)
    assert not (tmp_path / "data").exists()  # refused before anything was opened or written


@needs_postgres
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_missing_postgres_database_names_the_fix(tmp_path: Path, command: str) -> None:
    missing = backends.postgres_url("sms_assistant_never_created")
    result = sms_assistant(command, cwd=tmp_path, DATABASE_URL=missing, REDIS_URL="redis://127.0.0.1:6379/0")
    assert_one_line_refusal(
        result,
        "database 'sms_assistant_never_created' does not exist",
        "createdb sms_assistant_never_created",
        "sms-assistant db upgrade",
    )


@needs_postgres
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unmigrated_postgres_database_names_the_fix(tmp_path: Path, command: str) -> None:
    with backends.empty_postgres_database() as url:
        result = sms_assistant(command, cwd=tmp_path, DATABASE_URL=url, REDIS_URL="redis://127.0.0.1:6379/0")
        assert_one_line_refusal(result, "has no tables yet: run `sms-assistant db upgrade`")
        upgraded = sms_assistant("db", "upgrade", cwd=tmp_path, DATABASE_URL=url)
    assert upgraded.returncode == 0 and upgraded.stderr == ""
    assert (
        upgraded.stdout.startswith("database at revision ")
        and "upgraded from an empty database" in upgraded.stdout
    )


def test_an_unreachable_database_names_the_fix(tmp_path: Path) -> None:
    nowhere = f"postgresql+asyncpg://assistant:s3cret@127.0.0.1:{free_port()}/assistant"
    result = sms_assistant("serve", cwd=tmp_path, DATABASE_URL=nowhere)
    assert_one_line_refusal(
        result, "cannot reach the database at postgresql+asyncpg://assistant:***@127.0.0.1"
    )
    assert "s3cret" not in result.stderr


def test_an_unreachable_redis_names_the_fix(tmp_path: Path) -> None:
    nowhere = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    result = sms_assistant("serve", "--no-worker", cwd=tmp_path, REDIS_URL=nowhere)
    assert_one_line_refusal(result, "cannot reach Redis at redis://:***@127.0.0.1", "REDIS_URL")
    assert "hunter2" not in result.stderr


def test_a_misspelt_setting_gets_a_warning_naming_the_real_one(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("OPENAI_KEY=sk-test\n")
    result = sms_assistant("optouts", "export", cwd=tmp_path, TWILIO_ACOUNT_SID="AC123")
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "sms-assistant: warning: OPENAI_KEY is not a setting and is ignored; did you mean OPENAI_API_KEY?",
        "sms-assistant: warning: TWILIO_ACOUNT_SID is not a setting and is ignored; "
        "did you mean TWILIO_ACCOUNT_SID?",
    ]
    assert "sk-test" not in result.stderr


@needs_redis
@pytest.mark.skipif(not servers.postgres_available(), reason="needs the PostgreSQL server binaries")
def test_a_worker_started_before_its_database_waits_for_it(tmp_path: Path, redis_db: str) -> None:
    database = servers.PostgresServer()
    with contextlib.closing(database), running_worker(tmp_path, database.url, redis_db) as worker:
        wait_for_line(tmp_path / "worker.log", "cannot reach the database")
        assert worker.poll() is None, "the worker gave up instead of waiting"
        database.start()
        migrated = sms_assistant("db", "upgrade", cwd=tmp_path, DATABASE_URL=database.url)
        assert migrated.returncode == 0, migrated.stderr
        wait_for_line(tmp_path / "worker.log", "started")
        assert worker.poll() is None


@contextlib.contextmanager
def running_worker(tmp_path: Path, database_url: str, redis_url: str) -> Iterator[subprocess.Popen[str]]:
    """`sms-assistant worker` logging to tmp_path/worker.log, stopped after the block."""
    with (tmp_path / "worker.log").open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "assistant", "worker"],
            cwd=tmp_path,
            env=environment(DATABASE_URL=database_url, REDIS_URL=redis_url, LOG_LEVEL="INFO"),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield worker
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def wait_for_line(path: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{path.read_text()}"
        time.sleep(0.05)
