"""A bounded shadow queue that sheds load: `offer` never waits; a full queue drops and counts.

Workers run the shadow handler one item at a time each; every exception ends in the `raised`
hook (the single error boundary), so a failing shadow can never reach the primary path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from judge.protocols import RaisedHook
from telemetry.tasks import cancel_and_wait

T = TypeVar("T")


class ShadowQueue(Generic[T]):
    def __init__(self, maxsize: int, workers: int, handle: Callable[[T], Awaitable[None]],
                 raised: RaisedHook, on_drop: Callable[[T], None]) -> None:
        self._queue: asyncio.Queue[T] = asyncio.Queue(maxsize=maxsize)
        self._workers = workers
        self._handle = handle
        self._raised = raised
        self._on_drop = on_drop
        self._tasks: list[asyncio.Task] = []
        self.maxsize = maxsize
        self.dropped = 0
        self.handled = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._busy = 0

    def depth(self) -> int:
        return self._queue.qsize()

    def offer(self, item: T) -> bool:
        """Enqueue without waiting; False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            self._on_drop(item)
            return False
        self._idle.clear()
        return True

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"shadow-worker-{i}") for i in range(self._workers)]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(tasks)  # bounded: a shadow call that swallows its cancellation cannot hang shutdown

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until nothing is queued or in flight (tests, graceful shutdown)."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    async def _work(self) -> None:
        while True:
            item = await self._queue.get()
            self._busy += 1
            try:
                await self._handle(item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the boundary: recorded, never propagated
                self._raised("shadow", exc)
            finally:
                self._busy -= 1
                self.handled += 1
                self._queue.task_done()
                if self._busy == 0 and self._queue.empty():
                    self._idle.set()
