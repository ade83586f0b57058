"""Shared fixtures: isolated settings, real Redis/PostgreSQL when present, emulators, a running app."""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from twilio.request_validator import RequestValidator

from assistant.app import create_app
from assistant.runtime import Runtime
from assistant.settings import Settings
from storage.clock import Clock
from storage.database import create_engine
from storage.migrate import upgrade
from storage.redis import connect_redis
from storage.tables import Message
from tests.emulators.media import MediaHost
from tests.emulators.openai import OpenAIEmulator
from tests.emulators.server import serve_in_thread
from tests.emulators.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioEmulator
from tests.support import backends
from tests.support.clock import ManualClock

BUSINESS_NUMBER = "+15005550006"
PUBLIC_BASE_URL = "https://assistant.example.com"
# The moment tests live in unless they set their own: a Tuesday, 11:00 AM at the business (Los Angeles),
# inside opening hours and outside quiet hours, whatever the hour the suite runs at.
TEST_NOW = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)


class IsolatedSettings(Settings):
    """Settings from explicit values only: a developer's environment or .env never leaks into tests."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, *_: Any, **__: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return backends.describe()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in backends.skipped():
        terminalreporter.write_line(f"NOTE: {line}", yellow=True)


@pytest.fixture(params=backends.database_params())
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A migrated-on-demand, empty database: SQLite in tmp_path, and PostgreSQL when configured."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/assistant.db"
        return
    with backends.fresh_postgres_database() as url:
        yield url


@pytest.fixture
def clock() -> ManualClock:
    """The test clock: it stands at TEST_NOW until the test moves it."""
    return ManualClock(TEST_NOW)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real Redis database of our own (flushed around each test) when reachable, else in-process."""
    with backends.redis_database() as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An async engine on this test's database, migrated to the latest schema."""
    engine = create_engine(database_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[tuple[TwilioEmulator, str]]:
    emulator = TwilioEmulator()
    with serve_in_thread(emulator.app) as base_url:
        yield emulator, base_url


@pytest.fixture(scope="session")
def openai_server() -> Iterator[tuple[OpenAIEmulator, str]]:
    emulator = OpenAIEmulator()
    with serve_in_thread(emulator.app) as base_url:
        yield emulator, base_url


@pytest.fixture(scope="session")
def media_server() -> Iterator[tuple[MediaHost, str]]:
    host = MediaHost()
    with serve_in_thread(host.app) as base_url:
        yield host, base_url + "/media/"


@pytest.fixture
def media(media_server: tuple[MediaHost, str]) -> tuple[MediaHost, str]:
    """A web server with image files (and a PDF, and one too big), and the base URL of its files."""
    media_server[0].reset()
    return media_server


@pytest.fixture
def twilio(twilio_server: tuple[TwilioEmulator, str]) -> TwilioEmulator:
    twilio_server[0].reset()
    return twilio_server[0]


@pytest.fixture
def llm(openai_server: tuple[OpenAIEmulator, str]) -> OpenAIEmulator:
    openai_server[0].reset()
    return openai_server[0]


@pytest.fixture
def make_settings(database_url: str, redis_url: str) -> Callable[..., Settings]:
    """Embedded-mode settings on this test's database and Redis; keyword arguments override."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "redis_url": redis_url,
            "embedded_worker": True,
            "burst_window_seconds": 0.0,
            "turn_lease_seconds": 10.0,
        }
        values.update(overrides)
        return IsolatedSettings(**values)

    return build


@pytest.fixture
def twilio_settings(
    make_settings: Callable[..., Settings],
    twilio_server: tuple[TwilioEmulator, str],
    openai_server: tuple[OpenAIEmulator, str],
) -> Callable[..., Settings]:
    """Settings for the production adapters, pointed at the local emulators."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "twilio_account_sid": DEFAULT_ACCOUNT_SID,
            "twilio_auth_token": DEFAULT_AUTH_TOKEN,
            "twilio_phone_number": BUSINESS_NUMBER,
            "twilio_api_base_url": twilio_server[1],
            "public_base_url": PUBLIC_BASE_URL,
            "openai_api_key": "test-key",
            "openai_base_url": openai_server[1] + "/v1",
            "llm_model": "test-model",
            "llm_timeout_seconds": 5.0,
            "llm_max_retries": 0,
            # Unpaced: on the test clock, which stands still, a proactive text would never find a free
            # send slot after the first. Pacing has its own tests (test_pacing.py) on a moving clock.
            "send_rate_per_second": 0,
        }
        values.update(overrides)
        return make_settings(**values)

    return build


class RunningApp:
    """The ASGI app with its lifespan running, an HTTP client, and helpers to act like Twilio."""

    def __init__(self, app: Starlette, client: httpx.AsyncClient, settings: Settings) -> None:
        self.app = app
        self.client = client
        self.settings = settings

    @property
    def runtime(self) -> Runtime:
        return self.app.state.runtime

    def signature(self, path: str, params: dict[str, str]) -> str:
        validator = RequestValidator(self.settings.twilio_auth_token or "")
        return validator.compute_signature(
            (self.settings.public_base_url or "http://testserver") + path, params
        )

    async def twilio_post(
        self, path: str, params: dict[str, str], *, signature: str | None = None
    ) -> httpx.Response:
        headers = {"X-Twilio-Signature": signature if signature is not None else self.signature(path, params)}
        return await self.client.post(path, data=params, headers=headers)

    async def text(self, body: str, *, phone: str = "+14155550123", sid: str | None = None, **extra: str):
        """Deliver a signed inbound SMS webhook, as Twilio would."""
        params = {
            "MessageSid": sid or "SM" + uuid.uuid4().hex,
            "AccountSid": self.settings.twilio_account_sid or "",
            "From": phone,
            "To": BUSINESS_NUMBER,
            "Body": body,
            "NumMedia": "0",
            **extra,
        }
        return await self.twilio_post("/webhooks/twilio/sms", params)

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until no inbound text is pending a turn and no reply is waiting to be sent."""
        deadline = asyncio.get_running_loop().time() + timeout
        waiting = (Message.direction == "outbound") & Message.status.in_(["pending", "submitting"])
        while asyncio.get_running_loop().time() < deadline:
            pending = await self.runtime.messages.pending_phones()
            async with self.runtime.clients.engine.connect() as connection:
                in_flight = await connection.scalar(select(func.count()).select_from(Message).where(waiting))
            if not pending and not in_flight:
                return
            await asyncio.sleep(0.05)
        async with self.runtime.clients.engine.connect() as connection:
            columns = (Message.kind, Message.status, Message.next_attempt_at, Message.details)
            stuck = (await connection.execute(select(*columns).where(waiting))).all()
        # Say what is stuck, so a failure here can be told apart from a slow machine.
        raise AssertionError(f"turns did not finish in time: pending {pending}, unsent {stuck}")


@asynccontextmanager
async def running_app(settings: Settings, *, clock: Clock, **kwargs: Any) -> AsyncIterator[RunningApp]:
    app = create_app(settings, clock=clock, **kwargs)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        base = settings.public_base_url or "http://testserver"
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            yield RunningApp(app, client, settings)


@pytest.fixture
def start_app(clock: Clock) -> Callable[..., Any]:
    """`async with start_app(settings) as app:` runs the app for the block, on the test clock."""
    return functools.partial(running_app, clock=clock)


os.environ.setdefault("TZ", "UTC")
