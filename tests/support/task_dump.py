"""Before pytest-timeout stops a test, print where the event loop's tasks are waiting.

pytest-timeout's dump shows threads only: for a hung asyncio test that is an idle selector. Shortly
before the test's timeout a timer thread signals this process; the handler runs on the main thread,
inside the loop's select, and prints every task's chain of awaits to stderr (shown with the
failure), so an intermittent hang names its place the first time it happens.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from types import FrameType

import pytest

from telemetry.tasks import waiting_tasks

EARLY_S = 15.0  # how long before the timeout the tasks are printed


def _print_tasks(signum: int, frame: FrameType | None) -> None:
    if asyncio._get_running_loop() is None:  # noqa: SLF001 - no public test for "inside a loop" without raising
        print("+++ asyncio tasks: no event loop running on the main thread", file=sys.stderr)
        return
    print("+++ asyncio tasks waiting, shortly before the timeout:", file=sys.stderr)
    for line in waiting_tasks(limit=200):
        print("    " + line, file=sys.stderr)


def install() -> None:
    signal.signal(signal.SIGUSR1, _print_tasks)


def arm(item: pytest.Item) -> threading.Timer | None:
    marker = item.get_closest_marker("timeout")
    timeout = float(marker.args[0]) if marker is not None and marker.args else float(item.config.getini("timeout") or 0)
    if timeout <= EARLY_S:
        return None
    timer = threading.Timer(timeout - EARLY_S, os.kill, (os.getpid(), signal.SIGUSR1))
    timer.daemon = True
    timer.start()
    return timer
