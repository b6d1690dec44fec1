"""Waiting for what happens asynchronously (events consumed, webhooks delivered), one way.

Tests never depend on timing: they poll a condition with a generous deadline.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T] | T],
    timeout: float = 30.0,
    what: str = "condition",
    interval: float = 0.05,
) -> T:
    """Call ``check`` (sync or async) until it returns a truthy value, and return that value.

    Fails with ``AssertionError`` naming ``what`` and the last value after ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {what} (last: {value!r})"
            )
        await asyncio.sleep(interval)


def eventually_blocking(
    check: Callable[[], T], timeout: float = 30.0, what: str = "condition", interval: float = 0.1
) -> T:
    """:func:`eventually` for synchronous tests (no event loop): sleeps between the calls."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {what} (last: {value!r})"
            )
        time.sleep(interval)


async def eventually_equals(
    check: Callable[[], Awaitable[T]], expected: T, timeout: float = 60.0, interval: float = 0.05
) -> T:
    """Await ``check()`` until it equals ``expected`` (a state, a count); fails naming the
    last value after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (value := await check()) != expected:
        if loop.time() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {expected!r} (last: {value!r})"
            )
        await asyncio.sleep(interval)
    return value
