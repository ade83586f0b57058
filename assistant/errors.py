"""Our own small error hierarchy; adapters translate third-party exceptions into these."""

from __future__ import annotations


class AssistantError(Exception):
    """Base for every error the service raises on purpose."""


class LLMError(AssistantError):
    """The language model could not answer (timeout, 5xx, rate limit, bad response)."""


class SmsError(AssistantError):
    """A text could not be handed to the SMS gateway."""

    def __init__(self, message: str, *, code: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class RecipientOptedOut(SmsError):
    """The carrier or Twilio says the number has opted out (Twilio error 21610)."""


class InvalidRecipient(SmsError):
    """The number cannot receive texts (not a mobile number, invalid, unreachable region)."""
