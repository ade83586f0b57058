"""Logging set-up: phone numbers masked, secrets kept out."""

from __future__ import annotations

import logging
import re

NOISY_LOGGERS = (
    "twilio.http_client",
    "twilio.async_http_client",
    "httpx",
    "httpx2",
    "openai",
    "aiosqlite",
    "asyncio",
    "alembic",  # `db upgrade` and start-up say in one line where the schema stands
)
# E.164 and formatted numbers (+1 415-555-0100, URL-encoded %2B...), or bare runs of 10-15 digits.
# Dots are left out so IP addresses and versions stay readable.
PHONE = re.compile(r"(?:\+|%2[Bb])\d[\d \-()]{6,}\d|(?<![\w.])\d{10,15}(?![\w.])")


def mask_phone(phone: str) -> str:
    """'+14155550100' → '+1415***0100': enough to tell numbers apart, not enough to dial."""
    phone = re.sub("^%2[Bb]", "+", phone.strip())
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 8:
        return "***"
    prefix = "+" if phone.startswith("+") else ""
    return f"{prefix}{digits[:4]}***{digits[-4:]}"


class MaskPhones(logging.Filter):
    """Rewrites every phone-number-looking run in a record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = PHONE.sub(lambda match: mask_phone(match.group()), message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskPhones())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library loggers can print request URLs and headers; keep them quiet unless asked.
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
