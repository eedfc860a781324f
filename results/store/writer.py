"""The batching writer: `submit()` is synchronous and never waits on the database.

It is the proxy's VerdictSink (`await writer.record(r)` == `writer.submit(r)`).
Records go into a bounded in-memory buffer; a background task flushes it when `batch_size`
records are pending or `flush_interval_s` has passed. A full buffer drops the record and counts
it (`stats.dropped`); a failed batch is counted (`stats.failed`) and logged, never raised into
the caller. Nothing here can delay or fail a proxied request.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from diff_reports.types import VerdictRecord
from telemetry.logs import get_logger

log = get_logger("results.store")  # the one logging set-up: telemetry/logs.py


class BatchSink(Protocol):
    """What the writer flushes into (ResultsStore satisfies it)."""

    async def write_batch(self, items: list[tuple[VerdictRecord, str | None]]) -> None:  # pragma: no cover
        raise NotImplementedError


@dataclass
class WriterStats:
    submitted: int = 0
    written: int = 0
    dropped: int = 0     # the buffer was full
    failed: int = 0      # the batch holding them could not be written
    batches: int = 0


class ResultsWriter:
    def __init__(self, sink: BatchSink, *, version: str | None = None, batch_size: int = 500,
                 flush_interval_s: float = 0.5, max_pending: int = 20_000,
                 on_drop: Callable[[VerdictRecord], None] | None = None,
                 observe: Callable[[VerdictRecord], None] | None = None) -> None:
        if batch_size < 1 or max_pending < batch_size:
            raise ValueError("need 1 <= batch_size <= max_pending")
        self.sink = sink
        self.version = version
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_pending = max_pending
        self.on_drop = on_drop
        self.observe = observe  # e.g. VerdictMetrics.observe: sees every verdict, dropped or not
        self.stats = WriterStats()
        self._buffer: deque[tuple[VerdictRecord, str | None]] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._flush_now = False

    # ---- request path -------------------------------------------------------------------------
    def submit(self, record: VerdictRecord, version: str | None = None) -> bool:
        """Queue a record (with the new-service version it ran on); False when it was dropped."""
        self.stats.submitted += 1
        if self.observe is not None:
            try:
                self.observe(record)
            except Exception:  # metrics must never fail the caller
                log.exception("verdict_observer_failed")
        if self._closing or len(self._buffer) >= self.max_pending:
            self.stats.dropped += 1
            if self.on_drop is not None:
                self.on_drop(record)
            return False
        self._buffer.append((record, version if version is not None else self.version))
        self._idle.clear()
        if len(self._buffer) >= self.batch_size:
            self._wake.set()
        return True

    async def record(self, record: VerdictRecord) -> None:
        """The proxy's VerdictSink protocol: same as submit(), never waits on the database."""
        self.submit(record)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    # ---- background ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="results-writer")

    async def _run(self) -> None:
        while True:
            if not self._buffer:
                self._idle.set()
                if self._closing:
                    return
            deadline = time.monotonic() + self.flush_interval_s
            while len(self._buffer) < self.batch_size and not (self._closing or self._flush_now):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except asyncio.TimeoutError:
                    break
            await self._flush_some()
            if not self._buffer:
                self._flush_now = False

    async def _flush_some(self) -> None:
        batch = [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]
        if not batch:
            return
        try:
            await self.sink.write_batch(batch)
            self.stats.written += len(batch)
        except Exception:  # never propagate into the proxy; count and log
            self.stats.failed += len(batch)
            log.exception("results_batch_not_written", records=len(batch))
        self.stats.batches += 1

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until everything submitted so far is written (or failed)."""
        if self._task is None:
            while self._buffer:
                await self._flush_some()
            return
        self._flush_now = True
        self._wake.set()
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def close(self, timeout: float = 10.0) -> None:
        """Flush what is pending, then stop; later submissions are dropped and counted."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout)
            self._task = None
        while self._buffer:
            await self._flush_some()
        self._idle.set()
