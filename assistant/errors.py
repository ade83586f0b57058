"""Our own small error hierarchy; adapters translate third-party exceptions into these."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# A server away for now, worth waiting for; anything else (a wrong key type, a bug, a missing file) is a
# real error. The adapters say "away" with these types: a socket error never reaches callers raw.
OUTAGES = (
    RedisConnectionError,
    RedisTimeoutError,
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
)


class AssistantError(Exception):
    """Base for every error the service raises on purpose."""


class LLMError(AssistantError):
    """The language model could not answer (timeout, 5xx, rate limit, bad response)."""


class SmsError(AssistantError):
    """A text could not be handed to the SMS gateway.

    `retryable`: the gateway surely created nothing (429, 503, no connection), so sending again is safe.
    `maybe_sent`: the request went out and no clear answer came back, so the gateway must be asked first.
    """

    def __init__(
        self, message: str, *, code: int | None = None, retryable: bool = False, maybe_sent: bool = False
    ) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.maybe_sent = maybe_sent


class RecipientOptedOut(SmsError):
    """The carrier or Twilio says the number has opted out (Twilio error 21610)."""


class InvalidRecipient(SmsError):
    """The number cannot receive texts (not a mobile number, invalid, unreachable region)."""
