"""Media a text carries (MMS): Twilio's limits, and the check of each URL's type and size before sending."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from assistant.errors import SmsError
from assistant.phones import region_of

# Twilio: up to 10 media per message, 5 MB for the message and its media together.
# https://www.twilio.com/docs/messaging/guides/accepted-mime-types, errors 21623 and 63034.
MAX_MEDIA = 10
MAX_TOTAL_BYTES = 5 * 1024 * 1024
# The image types Twilio fully supports over MMS (it resizes them for each handset and carrier); it takes
# others too, but passes them on untouched, and carriers drop many of them.
MMS_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png", "image/gif"})
# Twilio sends MMS only to numbers in the US and Canada; elsewhere its MMS Converter sends an SMS with a
# short link instead (or, with the converter off, refuses with a 400). We send that SMS ourselves: the
# same on every account, priced as the SMS it is, and within the segment budget.
MMS_REGIONS = frozenset({"US", "CA"})
MAX_URL_LENGTH = 2000
DEFAULT_TIMEOUT_SECONDS = 5.0


class MediaError(ValueError):
    """Media that cannot go in an MMS; the message says which one and why."""


class MediaUnreachable(MediaError):
    """A media URL that did not answer (or answered 5xx): perhaps only for now."""


@dataclass(frozen=True, slots=True)
class Media:
    """One image a text carries, as it was checked: its URL, content type and size in bytes (if known)."""

    url: str
    content_type: str
    size: int | None = None

    def record(self) -> dict[str, Any]:
        """As `messages.media` keeps it (inbound rows have url and content_type too)."""
        return {"url": self.url, "content_type": self.content_type, "size": self.size}


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """The URL, if Twilio could fetch it: https (http only on loopback, for local tests)."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise MediaError(f"a media URL is longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or parts.scheme not in ("https", "http") or (parts.scheme == "http" and not _loopback(host)):
        raise MediaError(f"{url!r} is not an https:// URL (Twilio fetches media from a public https URL)")
    return url


def check_urls(urls: Iterable[str]) -> tuple[str, ...]:
    """The URLs without blanks and repeats, each well formed, and no more than an MMS carries."""
    found = tuple(dict.fromkeys(url.strip() for url in urls if url.strip()))
    if len(found) > MAX_MEDIA:
        raise MediaError(f"{len(found)} media given; an MMS carries at most {MAX_MEDIA}")
    return tuple(check_url(url) for url in found)


def check_media(media: Sequence[Media]) -> tuple[Media, ...]:
    """The media, if one MMS can carry them all: count, image types, and 5 MB together."""
    check_urls(item.url for item in media)
    for item in media:
        if item.content_type not in MMS_TYPES:
            raise MediaError(
                f"{item.url} is {item.content_type or 'of no stated type'}; "
                "an MMS can carry JPEG, PNG or GIF images"
            )
    total = sum(item.size or 0 for item in media)
    if total > MAX_TOTAL_BYTES:
        raise MediaError(f"the media come to {_mb(total)}; Twilio takes at most 5 MB per message")
    return tuple(media)


def fitting(media: Iterable[Media]) -> tuple[Media, ...]:
    """The first of these (repeats dropped) that fit in one MMS together, for media gathered from several
    places (an FAQ and an action)."""
    kept: list[Media] = []
    total = 0
    for item in {item.url: item for item in media}.values():
        if len(kept) < MAX_MEDIA and total + (item.size or 0) <= MAX_TOTAL_BYTES:
            kept.append(item)
            total += item.size or 0
    return tuple(kept)


def from_records(records: Iterable[Mapping[str, Any]] | None) -> tuple[Media, ...]:
    """The media as `messages.media` keeps them."""
    return tuple(
        Media(str(item.get("url", "")), str(item.get("content_type", "")), item.get("size"))
        for item in records or ()
    )


def takes_mms(phone: str) -> bool:
    """Whether Twilio delivers an MMS to this number (US and Canada only)."""
    return region_of(phone) in MMS_REGIONS


def urls_to_send(records: Iterable[Mapping[str, Any]] | None) -> tuple[str, ...]:
    """The media URLs of a recorded text, checked again right before it goes (no network: see MediaInspector).

    Raises SmsError (not retryable): a text whose media can't go would fail the same way every time.
    """
    try:
        return tuple(item.url for item in check_media(from_records(records)))
    except MediaError as exc:
        raise SmsError(f"media refused before sending: {exc}") from None


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


class MediaInspector:
    """Asks each media URL's server for its type and size (HEAD, else a capped GET), as Twilio will.

    This runs where a person names the media: a staff member attaching it in the console (before anything
    is written), and the business file's media at start-up. Not right before each send: that would put a
    third party's latency inside a paced send slot, for URLs already checked; the send path re-checks the
    recorded type and size instead (`urls_to_send`), and Twilio reports a file changed since as a failed
    delivery.
    """

    def __init__(
        self, *, timeout: float = DEFAULT_TIMEOUT_SECONDS, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            timeout=timeout, follow_redirects=True, max_redirects=3, transport=transport
        )

    async def inspect(self, urls: Iterable[str]) -> tuple[Media, ...]:
        """The media at these URLs, if one MMS can carry them; MediaError says which one can't and why."""
        checked = check_urls(urls)
        return check_media(await asyncio.gather(*(self._one(url) for url in checked)))

    async def _one(self, url: str) -> Media:
        try:
            response = await self._http.head(url)
            if response.status_code in (405, 501) or "content-length" not in response.headers:
                return await self._measured(url)  # a server that won't say: count the bytes ourselves
        except httpx.TimeoutException:
            raise MediaUnreachable(f"{url} did not answer within {self._timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise MediaUnreachable(f"cannot fetch {url}: {type(exc).__name__}") from None
        _raise_for(url, response)
        return Media(url, _content_type(response), _length(response))

    async def _measured(self, url: str) -> Media:
        """GET the file, reading no more than the limit (and one byte) to learn its size."""
        async with self._http.stream("GET", url) as response:
            _raise_for(url, response)
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_TOTAL_BYTES:
                    break
            return Media(url, _content_type(response), size)

    async def aclose(self) -> None:
        await self._http.aclose()


def _raise_for(url: str, response: httpx.Response) -> None:
    if response.status_code >= 500:
        raise MediaUnreachable(f"{url} answered HTTP {response.status_code}")
    if response.status_code >= 400:
        raise MediaError(f"{url} answered HTTP {response.status_code}")


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def _length(response: httpx.Response) -> int | None:
    try:
        return int(response.headers["content-length"])
    except (KeyError, ValueError):
        return None
