"""Where this loop's tasks are waiting: each task's chain of awaits, innermost last.

A wait that runs out of time (a replay that does not settle, a stack that does not stop) says
what it was still waiting for, so an intermittent hang names its place in the first failure
instead of needing a reproduction. `Task.get_stack` shows only a suspended task's outer frame;
this follows `cr_await` down to the frame that is actually parked.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["await_chain", "waiting_tasks"]


def await_chain(task: asyncio.Task[Any]) -> str:
    """`name: outer (file:line) > ... > innermost (file:line)`."""
    steps = []
    coro: Any = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            where = frame.f_code.co_filename.rsplit("/", 2)
            steps.append(f"{frame.f_code.co_name} ({'/'.join(where[-2:])}:{frame.f_lineno})")
        inner = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None) or getattr(coro, "ag_await", None)
        if inner is not None and not _has_frame(inner) and frame is not None:
            # an async generator's asend/athrow hides the generator: contextlib's context managers
            # (aiohttp's cleanup_ctx, asynccontextmanager) keep it as `self.gen`
            gen = getattr(frame.f_locals.get("self"), "gen", None)
            inner = gen if getattr(gen, "ag_frame", None) is not None else inner
        coro = inner
    return f"{task.get_name()}: {' > '.join(steps) or repr(task.get_coro())}"


def _has_frame(obj: Any) -> bool:
    return any(getattr(obj, name, None) is not None for name in ("cr_frame", "gi_frame", "ag_frame"))


def waiting_tasks(limit: int = 20) -> list[str]:
    """The running loop's unfinished tasks but the caller's own, as await chains (at most `limit`)."""
    current = asyncio.current_task()
    tasks = sorted((t for t in asyncio.all_tasks() if t is not current and not t.done()), key=lambda t: t.get_name())
    return [await_chain(t) for t in tasks[:limit]]


async def cancel_and_wait(tasks: list[asyncio.Task[Any]], *, tries: int = 5, wait_s: float = 1.0) -> list[asyncio.Task[Any]]:
    """Cancel `tasks` and wait for them, cancelling again those still running after `wait_s`, up
    to `tries` times; returns the ones that never finished. A plain cancel-then-gather hangs for
    good when a library swallows the CancelledError (a client's timeout racing the cancel turns it
    into a TimeoutError that a retry loop catches): seen as a replay stuck in the proxy's shutdown."""
    pending = [t for t in tasks if not t.done()]
    for _ in range(tries):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, still = await asyncio.wait(pending, timeout=wait_s)
        pending = list(still)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a task that failed is not reported again as never retrieved
    return pending
