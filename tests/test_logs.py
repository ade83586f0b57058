"""Logs mask phone numbers and leave everything else readable."""

from __future__ import annotations

import logging

import pytest

from assistant.logs import MaskPhones, mask_phone


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
