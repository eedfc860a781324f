"""Per-thread order of shadow calls: tickets handed out in the order exchanges leave the queue.

Several queue workers handle exchanges at once, and the thread key of a write (a vote on a comment
created a moment ago) is known only once the link index has learned it from an earlier exchange.
So the intake (learning links, resolving the key, taking a ticket) runs one exchange at a time in
queue order, and the shadow calls then run per thread in ticket order: the rewrite applies a
thread's writes in the order the legacy answered them, and a read goes to the rewrite only once
every write of its thread that the legacy answered before it has been applied there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ThreadOrder:
    def __init__(self) -> None:
        self.intake = asyncio.Lock()   # held while an exchange is given its key and ticket
        self._issued: dict[str, int] = {}  # writes admitted per thread
        self._done: dict[str, int] = {}    # of those, finished (applied, failed or skipped)
        self._waiting: dict[str, int] = {}  # tasks waiting on the thread's counts
        self._changed = asyncio.Condition()

    def admit_write(self, key: str) -> int:
        """The write's ticket (call under `intake`)."""
        ticket = self._issued.get(key, 0)
        self._issued[key] = ticket + 1
        return ticket

    def reserve_read(self, key: str) -> int:
        """A read's barrier: how many writes of the thread were admitted before it (under `intake`).
        The thread's counts are kept until the read has passed `read_barrier`."""
        self._waiting[key] = self._waiting.get(key, 0) + 1
        return self._issued.get(key, 0)

    async def read_barrier(self, key: str, count: int) -> None:
        """Until the `count` writes admitted before the read have finished."""
        try:
            await self._until_done(key, count)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
            self._forget_if_idle(key)

    @asynccontextmanager
    async def turn(self, key: str, ticket: int) -> AsyncIterator[None]:
        """The write's turn: after every earlier write of its thread; always marked finished."""
        try:
            await self._until_done(key, ticket)  # the counts stay meanwhile: this write is pending
            yield
        finally:
            self._done[key] = self._done.get(key, 0) + 1  # first, so a cancelled notify loses nothing
            self._forget_if_idle(key)
            async with self._changed:
                self._changed.notify_all()

    async def _until_done(self, key: str, count: int) -> None:
        if self._done.get(key, 0) < count:
            async with self._changed:
                await self._changed.wait_for(lambda: self._done.get(key, 0) >= count)

    def _forget_if_idle(self, key: str) -> None:
        """Nothing of the thread pending and nobody waiting: its counts restart at 0."""
        if self._done.get(key, 0) == self._issued.get(key, 0) and key not in self._waiting:
            self._done.pop(key, None)
            self._issued.pop(key, None)
