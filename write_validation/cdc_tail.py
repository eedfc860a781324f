"""The newest events of a CDC stream, held in memory and topped up with only what is new.

Every validated write reads the newest `scan` events of both sides' streams. Reading (and
decoding) all of them every time cost about a third of a replay's CPU once the streams were
longer than `scan`, so a tail keeps them and asks Redis only for the entries added after the
newest one it holds. What a caller gets is what `capture.capture_cdc` would return at that
moment: each call tops up first, under a lock, so it sees every event added before it was made.

A stream that lost the newest entry held (flushed, trimmed to nothing, a server restarted
without persistence) is read again in full, so a tail never shows events its stream no longer
has at its newest end. Read-only, as all capture is: XRANGE and XREVRANGE.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import cast

import redis.asyncio as aioredis

from write_validation.store_reads import CdcEvent, RawStreamEntries, events_oldest_first


class CdcTail:
    """The newest `scan` events of `stream` on `client` (a bytes client: no decode_responses)."""

    def __init__(self, client: aioredis.Redis, stream: str, scan: int = 2000) -> None:
        self._client, self._stream, self._scan = client, stream, scan
        self._events: deque[CdcEvent] = deque(maxlen=scan)
        self._lock = asyncio.Lock()

    async def newest(self) -> list[CdcEvent]:
        """The newest `scan` events as of now, oldest first (a new list; the events are shared)."""
        async with self._lock:
            await self._top_up()
            return list(self._events)

    async def _top_up(self) -> None:
        if not self._events:
            self._refill(cast(RawStreamEntries, await self._client.xrevrange(self._stream, count=self._scan)))
            return
        last = self._events[-1].stream_id
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xrange(self._stream, min=last, max=last)  # is the newest held entry still there?
            pipe.xrevrange(self._stream, max="+", min=f"({last}", count=self._scan)
            still, added = await pipe.execute()
        if not still:
            self._refill(cast(RawStreamEntries, await self._client.xrevrange(self._stream, count=self._scan)))
            return
        self._events.extend(events_oldest_first(cast(RawStreamEntries, added)))  # a full batch pushes every older one out

    def _refill(self, entries: RawStreamEntries) -> None:
        self._events.clear()
        self._events.extend(events_oldest_first(entries))
