"""Fuzz the chat API from its own OpenAPI document: no input gets a 5xx, and answers match the document."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from assistant.app import create_app
from assistant.http import openapi
from assistant.settings import Settings
from tests.conftest import IsolatedSettings
from tests.emulators.server import free_port

KEY = "fuzz-key"
# Bounded so the whole run stays well under a minute: a few dozen cases per operation and phase.
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"max-examples": 25},
        "phases": {"stateful": {"enabled": False}},
        # A schema can't say which phone numbers or time zones exist: those are answered 422, as documented.
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "404", "409", "422", "429"]}
        },
    }
)


@pytest.fixture
def served(make_settings: Callable[..., Settings]) -> Iterator[str]:
    """The whole app under uvicorn, lifespan and all, on a loopback port."""
    app = create_app(make_settings(chat_api_key=KEY, app_base_url="https://chat.example.com"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


# The document the server publishes (test_chat_api checks they are the same); one test per operation.
schema = schemathesis.openapi.from_dict(openapi.document(IsolatedSettings()), config=CONFIG)


@schema.parametrize()
# Locally every run explores new inputs; in CI (CI=true) the examples are fixed, so a landing never hinges
# on the luck of a draw: failures found locally become fixes, not flaky builds.
@settings(
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("CI") == "true",
)
def test_the_chat_api_answers_every_generated_request_without_a_server_error(case, served: str) -> None:
    case.call_and_validate(base_url=served, headers={"Authorization": f"Bearer {KEY}"})
