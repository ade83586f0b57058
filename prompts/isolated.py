"""Render untrusted template drafts in a child process that is killed when it overruns its time limit.

The sandbox already refuses dangerous attributes and huge values, and stops between output chunks at its
time limit, but a loop that prints nothing (two nested `range(100000)`) never reaches that check, and a
thread can't be stopped. A process can: each draft renders in a long-lived child with a memory cap, and
a render that overruns is answered with an error while the child is killed and replaced. Run as
`python -m prompts.isolated`, the child reads one JSON request per line and writes one JSON answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from prompts.renderer import MAX_RENDER_SECONDS, PromptError, PromptRenderer

MEMORY_LIMIT_BYTES = 768 * 1024 * 1024
# The child gets its own time check first; the kill comes a little later, for loops that never yield.
KILL_AFTER_SECONDS = MAX_RENDER_SECONDS + 0.5
START_TIMEOUT_SECONDS = 20.0
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Placeholder(str):
    """A stand-in value for a variable we have no sample for: renders as ‹name›, and so do its attributes."""

    def __getattr__(self, name: str) -> Placeholder:
        if name.startswith("_"):
            raise AttributeError(name)
        return Placeholder(f"{self[:-1]}.{name}›")


class IsolatedRenderer:
    """Renders drafts in one child process at a time, with a hard time limit per render."""

    def __init__(self, *, kill_after: float = KILL_AFTER_SECONDS) -> None:
        self._kill_after = kill_after
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def render(
        self, source: str, values: Mapping[str, Any], placeholders: Iterable[str] = ()
    ) -> tuple[str, float]:
        """The rendered text and the seconds it took; PromptError for any failure, a timeout included."""
        request = json.dumps({"source": source, "values": values, "placeholders": list(placeholders)})
        async with self._lock:  # one render at a time per child; previews are rare and short
            process = await self._child()
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(request.encode() + b"\n")
                await process.stdin.drain()
                line = await asyncio.wait_for(process.stdout.readline(), self._kill_after)
            except TimeoutError:
                await self._kill()
                raise PromptError(f"template took longer than {MAX_RENDER_SECONDS:g} s to render") from None
            except (ConnectionError, OSError):
                await self._kill()
                raise PromptError("the template renderer stopped; try again") from None
            if not line:
                await self._kill()
                raise PromptError("the template used too much memory or crashed the renderer")
        answer = json.loads(line)
        if "error" in answer:
            raise PromptError(answer["error"])
        return answer["text"], answer["seconds"]

    async def aclose(self) -> None:
        async with self._lock:
            await self._kill()

    async def _child(self) -> asyncio.subprocess.Process:
        if self._process is not None and self._process.returncode is None:
            return self._process
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(_PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "prompts.isolated",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
            limit=4 * 1024 * 1024,
        )
        assert process.stdout is not None
        try:
            ready = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_SECONDS)
        except TimeoutError:
            ready = b""
        if not ready:
            process.kill()
            await process.wait()
            raise PromptError("the template renderer could not start")
        self._process = process
        return process

    async def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            process.kill()
        await process.wait()


def _serve() -> None:
    """The child's loop: one JSON request per stdin line, one JSON answer per stdout line."""
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    renderer = PromptRenderer()
    out = sys.stdout
    out.write('{"ready": true}\n')
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        values = dict(request["values"])
        values.update({name: Placeholder(f"‹{name}›") for name in request["placeholders"]})
        started = time.monotonic()
        try:
            answer: dict[str, Any] = {"text": renderer.render_source(request["source"], values)}
        except PromptError as exc:
            answer = {"error": str(exc)}
        except MemoryError:
            answer = {"error": "the template used too much memory"}
        except RecursionError:
            answer = {"error": "template error: it calls itself too deeply"}
        answer["seconds"] = round(time.monotonic() - started, 4)
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    _serve()
