"""Logging set-up: phone numbers masked, secrets kept out, a turn id on every line of a turn."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from datetime import UTC, datetime

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


# The turn being answered in this task ("turn:42", named by its first text), for every line it logs.
TURN: contextvars.ContextVar[str | None] = contextvars.ContextVar("turn", default=None)


class TurnId(logging.Filter):
    """Puts the current turn's id on the record (`record.turn`, None outside a turn)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.turn = TURN.get()
        return True


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the turn's id, and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "turn", None):
            line["turn"] = record.turn
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    """Log to stderr, as text lines or (`json`) one JSON object per line, phone numbers masked in both."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskPhones())
    handler.addFilter(TurnId())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library loggers can print request URLs and headers; keep them quiet unless asked.
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
