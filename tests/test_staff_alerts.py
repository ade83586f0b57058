"""Staff are told when a conversation needs them: a text to each staff number and a signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from assistant.runtime import Runtime, open_runtime
from assistant.settings import ConfigError
from storage.messages import InboundText
from tests.emulators.server import serve_in_thread

CUSTOMER = "+14155550601"
STAFF = "+14155550699"
SECRET = "a shared secret of some length"


class AlertReceiver:
    """Staff's own endpoint: keeps what it was sent, and can be told to fail."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.failures = 0
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/alerts", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> JSONResponse:
        body = await request.body()
        with self._lock:
            if self.failures:
                self.failures -= 1
                return JSONResponse({"error": "down"}, status_code=503)
            self.received.append({"headers": dict(request.headers), "body": body})
        return JSONResponse({"ok": True})


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[tuple[AlertReceiver, str]]:
    receiver = AlertReceiver()
    with serve_in_thread(receiver.app) as url:
        yield receiver, url + "/alerts"


@pytest.fixture
def receiver(receiver_server: tuple[AlertReceiver, str]) -> AlertReceiver:
    receiver_server[0].received.clear()
    receiver_server[0].failures = 0
    return receiver_server[0]


@pytest.fixture
def alert_settings(make_settings, receiver_server):
    def build(**overrides: Any):
        values = {
            "staff_alert_numbers": STAFF,
            "staff_alert_webhook_url": receiver_server[1],
            "staff_alert_webhook_secret": SECRET,
        }
        return make_settings(**(values | overrides))

    return build


async def _text(runtime: Runtime, body: str, sid: str) -> None:
    await runtime.inbound.accept(
        InboundText(sid=sid, from_number=CUSTOMER, to_number="+15005550006", body=body, media=[])
    )
    await runtime.worker().drain()


def _signed(received: dict[str, Any]) -> bool:
    headers, body = received["headers"], received["body"]
    expected = hmac.new(
        SECRET.encode(), headers["x-assistant-timestamp"].encode() + b"." + body, hashlib.sha256
    )
    return hmac.compare_digest(headers["x-assistant-signature"], "sha256=" + expected.hexdigest())


async def test_a_handoff_texts_staff_and_posts_a_signed_alert_once(alert_settings, receiver, clock) -> None:
    async with open_runtime(alert_settings(), clock=clock) as runtime:
        await _text(runtime, "can I talk to a human?", "SM" + "1" * 32)
        await runtime.worker().sweep()  # the worker's own pass tells staff
        again = await runtime.alerts.send_due()
        texts = runtime.clients.gateway.sent_to(STAFF)
        customer = runtime.clients.gateway.sent_to(CUSTOMER)
    assert [text.body.split(" Reply STOP")[0] for text in texts] == [
        f"Acme Fitness assistant: {CUSTOMER} needs a person (customer asked for a person)."
    ]
    assert "member of our team" in customer[0].body
    (posted,) = receiver.received
    assert _signed(posted) and json.loads(posted["body"])["phone"] == CUSTOMER
    assert json.loads(posted["body"])["event"] == "staff_alert" and again == 0


async def test_at_most_one_alert_per_conversation_per_cooldown(alert_settings, receiver, clock) -> None:
    async with open_runtime(alert_settings(staff_alert_cooldown_seconds=600), clock=clock) as runtime:
        await _text(runtime, "I want a person", "SM" + "2" * 32)
        await runtime.alerts.send_due()
        clock.advance(minutes=5)
        await _text(runtime, "hello?? a person please", "SM" + "3" * 32)
        within = await runtime.alerts.send_due()
        clock.advance(minutes=10)
        await _text(runtime, "still need a person", "SM" + "4" * 32)
        after = await runtime.alerts.send_due()
        texts = runtime.clients.gateway.sent_to(STAFF)
    assert within == 0 and after == 1
    assert len(texts) == 2 and len(receiver.received) == 2


async def test_a_webhook_that_is_down_is_tried_again_without_texting_staff_twice(
    alert_settings, receiver, clock
) -> None:
    receiver.failures = 1
    async with open_runtime(alert_settings(), clock=clock) as runtime:
        await _text(runtime, "talk to a human", "SM" + "5" * 32)
        first = await runtime.alerts.send_due()
        second = await runtime.alerts.send_due()
        texts = runtime.clients.gateway.sent_to(STAFF)
    assert (first, second) == (0, 1)
    assert len(texts) == 1 and len(receiver.received) == 1 and _signed(receiver.received[0])


async def test_a_reply_that_could_not_be_sent_alerts_staff(make_settings, clock) -> None:
    async with open_runtime(make_settings(staff_alert_numbers=STAFF), clock=clock) as runtime:
        runtime.clients.gateway.fail_for(CUSTOMER, 21211)  # not a number that can get texts
        await _text(runtime, "what are your hours?", "SM" + "6" * 32)
        await runtime.alerts.send_due()
        texts = runtime.clients.gateway.sent_to(STAFF)
    (alert,) = texts
    assert CUSTOMER in alert.body and "reply text could not be sent" in alert.body


async def test_an_opted_out_staff_number_is_not_texted(make_settings, clock) -> None:
    async with open_runtime(make_settings(staff_alert_numbers=STAFF), clock=clock) as runtime:
        await runtime.consent.record(STAFF, "opt_out", source="keyword", raw_text="STOP", matched="STOP")
        await _text(runtime, "a human please", "SM" + "7" * 32)
        told = await runtime.alerts.send_due()
        texts = runtime.clients.gateway.sent_to(STAFF)
        staged = [m for m in await runtime.messages.listing(phone=STAFF)]
    assert told == 1 and texts == []
    assert [(m.kind, m.status) for m in staged] == [("staff_alert", "suppressed")]


def test_a_webhook_needs_its_secret(make_settings) -> None:
    with pytest.raises((ConfigError, ValueError), match="STAFF_ALERT_WEBHOOK_SECRET"):
        make_settings(staff_alert_webhook_url="https://alerts.example/hook")
