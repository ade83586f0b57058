"""A web server with image files (Starlette), to stand for where a business keeps its MMS media."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

MB = 1024 * 1024


@dataclass(frozen=True)
class File:
    """One file: its type and size; `headless` servers refuse HEAD and send no Content-Length."""

    content_type: str
    size: int
    headless: bool = False


DEFAULT_FILES = {
    "map.png": File("image/png", 40_000),
    "entrance.jpg": File("image/jpeg", 120_000),
    "studio.gif": File("image/gif", 300_000, headless=True),
    "menu.pdf": File("application/pdf", 20_000),
    "poster.jpg": File("image/jpeg", 6 * MB),
    "half.jpg": File("image/jpeg", 3 * MB),
}


class MediaHost:
    """Serves `files` by name under /media/; records each request as (method, name)."""

    def __init__(self) -> None:
        self.files: dict[str, File] = dict(DEFAULT_FILES)
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()  # uvicorn's thread answers while tests read from theirs
        self.app = Starlette(routes=[Route("/media/{name}", self._file, methods=["GET", "HEAD"])])

    def reset(self) -> None:
        with self._lock:
            self.files = dict(DEFAULT_FILES)
            self.requests.clear()

    async def _file(self, request: Request) -> Response:
        name = request.path_params["name"]
        with self._lock:
            self.requests.append((request.method, name))
            found = self.files.get(name)
        if found is None:
            return Response("not found", status_code=404)
        if request.method == "HEAD":
            if found.headless:
                return Response(status_code=405)
            return Response(headers={"content-type": found.content_type, "content-length": str(found.size)})
        if found.headless:
            return StreamingResponse(_chunks(found.size), media_type=found.content_type)
        return Response(b"\0" * found.size, media_type=found.content_type)


async def _chunks(size: int) -> AsyncIterator[bytes]:
    while size > 0:
        step = min(size, 64 * 1024)
        size -= step
        yield b"\0" * step
