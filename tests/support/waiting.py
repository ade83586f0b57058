"""Waiting for a condition, never for a length of time: poll until it holds, with a generous deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

DEADLINE_SECONDS = 30.0


async def eventually(
    read: Callable[[], Awaitable[T]],
    *,
    until: Callable[[T], bool],
    timeout: float = DEADLINE_SECONDS,
    what: str = "the condition",
) -> T:
    """Call `read()` until `until(value)` holds and return that value; AssertionError after `timeout` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await read()
        if until(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {value!r})")
        await asyncio.sleep(0.05)
