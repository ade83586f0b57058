"""Logs mask phone numbers and leave everything else readable."""

from __future__ import annotations

import io
import json
import logging

import pytest

from assistant.logs import MaskPhones, configure_logging, mask_phone
from assistant.runtime import open_runtime
from storage.messages import InboundText


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("answered +14155550123 with offline", "answered +1415***0123 with offline"),
        ("to +1 (415) 555-0123 now", "to +1415***0123 now"),
        (
            '"GET /sandbox/messages?phone=%2B14155550111 HTTP/1.1"',
            '"GET /sandbox/messages?phone=+1415***0111 HTTP/1.1"',
        ),
        ("customer 4155550123 texted", "customer 4155***0123 texted"),
        ("Uvicorn running on http://127.0.0.1:8000", "Uvicorn running on http://127.0.0.1:8000"),
        ("message 42 in 1.25 s, 2 segments", "message 42 in 1.25 s, 2 segments"),
        ("sid SM0123456789abcdef0123456789abcdef", "sid SM0123456789abcdef0123456789abcdef"),
    ],
)
def test_phone_numbers_are_masked(line: str, masked: str) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (line,), None)
    MaskPhones().filter(record)
    assert record.getMessage() == masked


def test_short_numbers_are_fully_hidden() -> None:
    assert mask_phone("12345") == "***"


@pytest.fixture
def json_logs():
    """The service's own logging set-up with LOG_FORMAT=json, read back; pytest's handlers back afterwards."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    configure_logging("INFO", "json")
    written = io.StringIO()
    root.handlers[0].setStream(written)  # the handler it made for stderr, read here instead
    yield lambda: [json.loads(line) for line in written.getvalue().splitlines()]
    root.handlers[:], root.level = saved, level


async def test_json_logs_are_one_object_a_line_with_the_turn_on_each_and_numbers_masked(
    json_logs, make_settings, clock
) -> None:
    phone = "+14155550177"
    async with open_runtime(make_settings(), clock=clock) as runtime:
        inbound, _ = await runtime.messages.record_inbound(
            InboundText(sid="SM" + "9" * 32, from_number=phone, to_number="+15005550006", body="hi", media=[])
        )
        await runtime.queue.enqueue_many([phone])
        await runtime.worker().drain()
    lines = json_logs()
    answered = [line for line in lines if line["message"].startswith("answered ")]
    assert answered and answered[0]["turn"] == f"turn:{inbound.id}"
    assert {"time", "level", "logger", "message"} <= answered[0].keys()
    assert all(phone not in json.dumps(line) for line in lines) and "+1415***0177" in answered[0]["message"]
