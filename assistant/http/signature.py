"""Twilio webhook signatures: the URL Twilio signed, checked with the SDK's own validator."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from functools import lru_cache

from starlette.requests import Request
from twilio.request_validator import RequestValidator

from assistant.http.proxies import relayed
from assistant.settings import Settings


def signed_url(request: Request, settings: Settings) -> str:
    """The URL Twilio called: PUBLIC_BASE_URL + path + query, else this request's own URL."""
    path = request.url.path
    query = request.url.query
    if settings.public_base_url:
        url = settings.public_base_url.rstrip("/") + path
    else:
        # The scheme is already the forwarded one when a trusted proxy relayed the request.
        host = request.headers.get("host", request.url.netloc)
        if relayed(request):
            host = request.headers.get("x-forwarded-host", host).split(",")[0].strip()
        url = f"{request.url.scheme}://{host}{path}"
    return f"{url}?{query}" if query else url


def is_signed(request: Request, form: Mapping[str, str], settings: Settings) -> bool:
    signature = request.headers.get("x-twilio-signature", "")
    if not signature or not settings.twilio_auth_token:
        return False
    validator = _validator(settings.twilio_auth_token)
    url, params = signed_url(request, settings), dict(form)
    # Twilio signs the URL as configured, which is nearly always exactly this one: one HMAC. Only when that
    # differs does the SDK's full check run (it also tries the URL with and without the default port).
    expected = validator.compute_signature(url, params)
    return hmac.compare_digest(expected, signature) or bool(validator.validate(url, params, signature))


@lru_cache(maxsize=4)
def _validator(auth_token: str) -> RequestValidator:
    return RequestValidator(auth_token)
