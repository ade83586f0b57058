"""Twilio's Messages API as an `SmsGateway`, through the official SDK and its aiohttp client."""

from __future__ import annotations

import asyncio
import base64
import importlib
import logging
from collections.abc import Sequence
from datetime import datetime

import aiohttp
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from assistant.errors import InvalidRecipient, RecipientOptedOut, SmsError
from assistant.logs import mask_phone
from assistant.settings import ConfigError, Settings
from assistant.sms.port import OutgoingSms, SentSms

logger = logging.getLogger(__name__)

OPTED_OUT_CODES = frozenset({21610})
INVALID_RECIPIENT_CODES = frozenset({21211, 21408, 21612, 21614})
# Answers that mean Twilio turned the request away before creating a message, so sending again is safe.
RETRY_STATUSES = frozenset({429, 503})
RETRY_CODES = frozenset({20429})
DEFAULT_RETRY_DELAYS = (0.5, 1.0)


def error_for_code(
    code: int | None, message: str, *, retryable: bool = False, maybe_sent: bool = False
) -> SmsError:
    """Our error for a Twilio error code (21610 opted out, 21211/21408/21612/21614 bad recipient)."""
    if code in OPTED_OUT_CODES:
        return RecipientOptedOut(message, code=code)
    if code in INVALID_RECIPIENT_CODES:
        return InvalidRecipient(message, code=code)
    return SmsError(message, code=code, retryable=retryable, maybe_sent=maybe_sent)


class _TimedHttpClient(AsyncTwilioHttpClient):
    """The SDK's aiohttp client with our timeout applied and credentials sent as a header."""

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        # The SDK keeps the constructor's timeout but hands aiohttp the per-call one, which is None for
        # `create_async`, and aiohttp reads None as "no timeout at all".
        timeout = timeout if timeout is not None else self.timeout
        # aiohttp deprecates `auth=` and `BasicAuth`; the SDK's request log skips Authorization headers.
        headers = dict(headers or {})
        if auth is not None:
            credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {credentials}"
        return await super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


class TwilioGateway:
    """Sends texts through Twilio's REST API (`POST /2010-04-01/Accounts/{sid}/Messages.json`)."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_base_url: str = "https://api.twilio.com",
        status_callback_url: str | None = None,
        timeout: float = 10.0,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
    ) -> None:
        if not (from_number or messaging_service_sid):
            raise ValueError("TwilioGateway needs a sender: from_number or messaging_service_sid")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._account_sid = account_sid
        self._auth_token = auth_token
        # A Messaging Service picks the number from its own pool, so it wins over a fixed sender.
        self._messaging_service_sid = messaging_service_sid or None
        self._from_number = None if messaging_service_sid else from_number
        self._api_base_url = api_base_url.rstrip("/")
        self._status_callback_url = status_callback_url
        self._timeout = timeout
        self._retry_delays = tuple(retry_delays)
        self._http: _TimedHttpClient | None = None
        self._client: Client | None = None
        # The SDK imports its Messages resource on first use, ~0.1 s: done now, so a process's first send
        # isn't that much later than its slot (paced texts would bunch behind it).
        importlib.import_module("twilio.rest.api.v2010.account.message")

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioGateway:
        """A gateway configured from the service's settings."""
        if not (settings.twilio_account_sid and settings.twilio_auth_token):
            raise ConfigError("Twilio is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        return cls(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            from_number=settings.twilio_phone_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            api_base_url=settings.twilio_api_base_url,
            status_callback_url=settings.status_callback_url,
            timeout=settings.twilio_timeout_seconds,
        )

    def _sdk(self) -> Client:
        # Built on first use: aiohttp's session must be created inside the running event loop.
        if self._client is None:
            self._http = _TimedHttpClient(timeout=self._timeout)
            client = Client(
                self._account_sid,
                self._auth_token,
                http_client=self._http,
                # A non-empty environment keeps the SDK from reading os.environ (TWILIO_EDGE/TWILIO_REGION
                # would rewrite the host of every URL); configuration comes from Settings only.
                environment={"TWILIO_ACCOUNT_SID": self._account_sid},
            )
            # The Api domain (api.twilio.com) is where Messages lives; pointing it elsewhere is the SDK's
            # own seam for Twilio-compatible endpoints (emulators, regional or compatible providers).
            client.api.base_url = self._api_base_url
            self._client = client
        return self._client

    async def send(self, message: OutgoingSms) -> SentSms:
        """Hand one text to Twilio; retry only answers that prove no message was created."""
        client = self._sdk()
        # A country's own sender is sent as From, past the default number and the Messaging Service.
        service = None if message.sender else self._messaging_service_sid
        sender = message.sender or self._from_number
        attempts = len(self._retry_delays) + 1
        for attempt in range(1, attempts + 1):
            try:
                created = await client.messages.create_async(
                    to=message.to,
                    body=message.body,
                    from_=sender,
                    messaging_service_sid=service,
                    status_callback=self._status_callback_url,
                    # Repeated MediaUrl fields; none at all for a plain SMS.
                    media_url=list(message.media) if message.media else values.unset,
                )
            except Exception as exc:  # the SDK and aiohttp raise many types; none may escape
                error = self._translate(exc, message.to)
                if not error.retryable or attempt == attempts:
                    logger.warning(
                        "twilio send to %s failed (attempt %d/%d, code %s): %s",
                        mask_phone(message.to),
                        attempt,
                        attempts,
                        error.code,
                        error,
                    )
                    # Twilio's own exception may quote the full number; ours carries its status and code.
                    raise error from (None if isinstance(exc, TwilioException) else exc)
                delay = self._retry_delays[attempt - 1]
                logger.info(
                    "twilio send to %s refused (code %s), retrying in %.1fs",
                    mask_phone(message.to),
                    error.code,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            logger.info("twilio accepted %s to %s (%s)", created.sid, mask_phone(message.to), created.status)
            return SentSms(
                sid=str(created.sid),
                status=str(created.status or "queued"),
                sender=created.from_ or service or sender or "",
            )
        raise AssertionError("unreachable")  # the loop always returns or raises

    async def find_sent(self, message: OutgoingSms, *, since: datetime) -> SentSms | None:
        """Look through Twilio's newest messages to this number for this body, created since `since`."""
        # Filtered by To and compared on date_created, not by DateSent: a text still queued at Twilio has
        # no date_sent yet, and missing it would send it twice.
        try:
            records = await self._sdk().messages.list_async(to=message.to, limit=50, page_size=50)
        except Exception as exc:  # the SDK and aiohttp raise many types; none may escape
            raise self._translate(exc, message.to) from None
        for record in records:
            if record.date_created is not None and record.date_created < since:
                break  # newest first: everything further is older
            if record.body == message.body and str(record.direction or "").startswith("outbound"):
                sender = record.from_ or self._messaging_service_sid or self._from_number or ""
                return SentSms(sid=str(record.sid), status=str(record.status or "queued"), sender=sender)
        return None

    def _translate(self, exc: Exception, to: str) -> SmsError:
        """Our error for whatever the SDK or aiohttp raised; `retryable` only when surely nothing was sent."""
        if isinstance(exc, TwilioRestException | TwilioServiceException):
            status = int(exc.status)
            code = _as_int(exc.code)
            text = exc.msg if isinstance(exc, TwilioRestException) else (exc.detail or exc.title)
            # Twilio repeats the number in some messages ("The 'To' number +1... is not valid").
            text = str(text).replace(to, mask_phone(to))
            retryable = status in RETRY_STATUSES or code in RETRY_CODES
            # Any other server error came after Twilio read the request: it may have created the message.
            unsure = not retryable and status >= 500
            return error_for_code(
                code, f"Twilio HTTP {status}: {text}", retryable=retryable, maybe_sent=unsure
            )
        if isinstance(exc, aiohttp.ClientSSLError):
            return SmsError(f"TLS failure talking to Twilio: {exc}", retryable=False)
        if isinstance(exc, aiohttp.ClientConnectorError):
            # The TCP connection never opened (refused, DNS), so no request reached Twilio.
            return SmsError(f"cannot connect to Twilio: {exc.os_error}", retryable=True)
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            # Not sent either, but the timeout is already spent: left for the caller to reschedule.
            return SmsError(f"connecting to Twilio timed out after {self._timeout}s", retryable=True)
        if isinstance(exc, TimeoutError):
            # The request went out and no answer came: Twilio may have created the message.
            return SmsError(
                f"no answer from Twilio within {self._timeout}s; the text may have been sent", maybe_sent=True
            )
        if isinstance(exc, aiohttp.ClientError):
            return SmsError(f"connection to Twilio failed mid-request: {type(exc).__name__}", maybe_sent=True)
        if isinstance(exc, TwilioException):
            return SmsError(f"Twilio SDK error: {type(exc).__name__}", maybe_sent=True)
        return SmsError(f"unexpected answer from Twilio: {type(exc).__name__}", maybe_sent=True)

    async def aclose(self) -> None:
        """Close the aiohttp session (safe to call twice, or before any send)."""
        if self._http is not None:
            await self._http.close()
            self._http = None
            self._client = None


def _as_int(code: object) -> int | None:
    try:
        return int(code)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
