"""The suites' one way to wait: poll a probe until its answer is what the test waits for, with a
deadline (never a bare sleep that papers over a race)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], Any] = bool, *, timeout: float = 5.0,
                     every: float = 0.01, what: str = "the condition") -> T:
    """`await probe()` until `done(answer)` holds; that answer. After `timeout` seconds an
    AssertionError names `what` and the last answer seen."""
    deadline = time.monotonic() + timeout
    while True:
        got = await probe()
        if done(got):
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g}s for {what}; last saw {got!r}")
        await asyncio.sleep(every)


def until(probe: Callable[[], T], done: Callable[[T], Any] = bool, *, timeout: float = 5.0, every: float = 0.1,
          what: str = "the condition") -> T:
    """`eventually` for a synchronous probe (a test driving the real CLI from outside)."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if done(got):
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g}s for {what}; last saw {got!r}")
        time.sleep(every)  # the poll interval, bounded by the deadline
