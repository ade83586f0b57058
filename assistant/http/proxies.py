"""Who is calling: X-Forwarded-* headers are believed only from the proxies `TRUSTED_PROXIES` names."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache, partial

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from assistant.settings import Network


class TrustedProxies:
    """ASGI middleware: behind a trusted proxy, the client and scheme become the ones it forwarded.

    uvicorn's middleware does the rewriting (the client is the nearest untrusted X-Forwarded-For address);
    this one also records that a trusted proxy relayed the request, which X-Forwarded-Host needs.
    """

    def __init__(self, app: ASGIApp, networks: Sequence[Network]) -> None:
        self._app = app
        # Cached per peer address: the same few addresses call again and again.
        self._trusted = lru_cache(maxsize=4096)(partial(_trusted, networks=tuple(networks)))
        self._forwarded = ProxyHeadersMiddleware(app, trusted_hosts=[str(net) for net in networks])  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        peer = scope.get("client")
        relayed = bool(peer) and self._trusted(peer[0])
        scope["state"] = {**scope.get("state", {}), "relayed": relayed}
        if relayed:
            await self._forwarded(scope, receive, send)  # type: ignore[arg-type]
        else:  # its headers are not believed: nothing to rewrite
            await self._app(scope, receive, send)


def _trusted(host: str, networks: tuple[Network, ...]) -> bool:
    """Whether the peer is one of the proxies."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a unix socket path, or a test client's name
        return False
    return any(address in network for network in networks)


def relayed(request: Request) -> bool:
    """Whether a trusted proxy passed this request on, so its X-Forwarded-Host is the public host."""
    return bool(request.scope.get("state", {}).get("relayed"))


def client_address(request: Request) -> str:
    """The caller's address: the peer's, or behind a trusted proxy the one it forwarded (X-Forwarded-For)."""
    return request.client.host if request.client else "unknown"
