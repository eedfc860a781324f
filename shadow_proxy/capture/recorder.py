"""Record sampled live requests into the dataset format, off the request path.

The request handler calls `offer(exchange)` once the legacy response is written: a
`put_nowait` into a bounded buffer, nothing else. A full buffer (or a stopped recorder) drops
the exchange and counts it. A background task does the work: sampling (sticky by thread), parsing
and scrubbing (`datasets.imports.common.to_record`, `scrub.Scrubber`), and appending JSON Lines
in a worker thread. Only requests the legacy answered 2xx are recorded; the rest are counted as
skipped by reason. While running the file is `<path>.part`; `stop()` drains the buffer (bounded
by `drain_timeout_s`), flushes, rotates an existing `<path>` to `<path>.<UTC stamp>` and renames
the part to `<path>`. The captured file is a request log; `capture.dataset.write_capture_dataset`
adds a seed snapshot to make it a dataset.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

import orjson
from prometheus_client import CollectorRegistry

from shadow_proxy.capture.sampling import CaptureSampler, LinkResolver
from datasets.scrub import Scrubber
from datasets.imports.common import HttpRequest, Skip, to_record
from traffic.exchange import Exchange, parse_body
from judge.protocols import RaisedHook
from traffic.routes import Unshadowable, parse_request
from telemetry.logs import get_logger
from telemetry.metrics import counter

log = get_logger("shadow_proxy.capture")
_BATCH = 256


class CaptureRecorder:
    def __init__(self, path: str | Path, scrubber: Scrubber, *, sample_pct: float = 100.0, buffer_size: int = 10_000,
                 salt: str = "capture", drain_timeout_s: float = 5.0) -> None:
        if not 0 <= sample_pct <= 100:
            raise ValueError(f"sample_pct must be from 0 to 100, got {sample_pct!r}")
        self.path = Path(path)
        self.part_path = self.path.with_name(self.path.name + ".part")
        self.scrubber = scrubber
        self.sampler = CaptureSampler(sample_pct, salt)
        self.buffer_size = buffer_size
        self.drain_timeout_s = drain_timeout_s
        self.offered = self.dropped = self.sampled_out = self.written = self.processed = 0
        self.skipped: Counter[str] = Counter()
        self.rotated_to: Path | None = None
        self._queue: asyncio.Queue[Exchange] | None = None
        self._task: asyncio.Task[None] | None = None
        self._fh: IO[bytes] | None = None
        self._accepting = False
        self._raised: RaisedHook | None = None
        self._metrics: dict[str, Any] | None = None
        self._progress = asyncio.Condition()

    # -- request path -------------------------------------------------------------------------

    def offer(self, exchange: Exchange) -> bool:
        """Non-blocking: buffer the exchange, or drop and count it. Never raises."""
        self.offered += 1
        if not self._accepting or self._queue is None or self.sampler.pct <= 0:
            return self._drop() if self.sampler.pct > 0 else False
        try:
            self._queue.put_nowait(exchange)
            return True
        except asyncio.QueueFull:
            return self._drop()

    def _drop(self) -> bool:
        self.dropped += 1
        if self._metrics:
            self._metrics["dropped"].inc()
        return False

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self, *, link_of: LinkResolver | None = None, registry: CollectorRegistry | None = None,
                    raised: RaisedHook | None = None) -> None:
        """Open `<path>.part` and start the writer. `link_of`: the proxy's link index, for votes."""
        self.sampler.resolver = link_of
        self._raised = raised
        if registry is not None and self._metrics is None:
            self._metrics = {
                "dropped": counter(registry, "tapcompare_capture_dropped_total", "Captures shed: buffer full or stopped"),
                "written": counter(registry, "tapcompare_capture_written_total", "Request records written"),
                "skipped": counter(registry, "tapcompare_capture_skipped_total", "Requests not captured", ("reason",)),
            }
        self.part_path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = await asyncio.to_thread(open, self.part_path, "wb")
        self._queue = asyncio.Queue(self.buffer_size)
        self._accepting = True
        self._task = asyncio.create_task(self._run(), name="capture-writer")
        log.info("capture_started", path=str(self.path), pct=self.sampler.pct, buffer=self.buffer_size)

    async def stop(self) -> Path:
        """Drain (bounded), flush, rotate; returns the final path of the capture."""
        self._accepting = False
        if self._queue is not None and self._task is not None:
            try:
                async with asyncio.timeout(self.drain_timeout_s):
                    await self._queue.join()
            except TimeoutError:
                log.warning("capture_drain_abandoned", left=self._queue.qsize())
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._fh is not None:
            await asyncio.to_thread(self._close)
            self._fh = None
        log.info("capture_stopped", path=str(self.path), written=self.written, dropped=self.dropped,
                 skipped=dict(self.skipped), sampled_out=self.sampled_out)
        return self.path

    def _close(self) -> None:
        assert self._fh is not None
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        if self.path.exists():
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            self.rotated_to = self.path.with_name(f"{self.path.name}.{stamp}")
            n = 1
            while self.rotated_to.exists():
                self.rotated_to, n = self.path.with_name(f"{self.path.name}.{stamp}.{n}"), n + 1
            self.path.rename(self.rotated_to)
        self.part_path.rename(self.path)

    async def wait_processed(self, count: int, timeout: float = 5.0) -> None:
        """Wait until `count` buffered exchanges have been handled (written or skipped): for tests."""
        async with asyncio.timeout(timeout):
            async with self._progress:
                await self._progress.wait_for(lambda: self.processed >= count)

    # -- the writer ---------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            lines: list[bytes] = []
            for exchange in batch:
                try:
                    record = await self._record(exchange)
                except Exception as exc:  # a bad exchange must not stop the capture
                    self._skip("error")
                    if self._raised is not None:
                        self._raised("capture", exc)
                    continue
                if record is not None:
                    record = {"kind": "request", "seq": self.written + len(lines) + 1, **record}
                    lines.append(orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n")
            try:
                if lines:
                    await asyncio.to_thread(self._write, lines)
                    self.written += len(lines)
                    if self._metrics:
                        self._metrics["written"].inc(len(lines))
            except OSError as exc:
                self._skip("write_failed", len(lines))
                if self._raised is not None:
                    self._raised("capture_write", exc)
            finally:
                for _ in batch:
                    self._queue.task_done()
                self.processed += len(batch)
                async with self._progress:
                    self._progress.notify_all()

    def _write(self, lines: list[bytes]) -> None:
        assert self._fh is not None
        self._fh.write(b"".join(lines))
        self._fh.flush()

    def _skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] += n
        if self._metrics:
            self._metrics["skipped"].labels(reason).inc(n)

    async def _record(self, ex: Exchange) -> dict[str, Any] | None:
        """The request record of one exchange, or None (sampled out or skipped, counted)."""
        if not self.sampler.everything:
            ok_status = 200 <= ex.status < 300
            body = parse_body(ex.legacy_headers, ex.legacy_body) if ok_status else None
            if body is not None:
                self.sampler.learn(body)
            if not await self._in_sample(ex):
                self.sampled_out += 1
                return None
        req = HttpRequest(ex.method, ex.raw_path, ex.headers, ex.body, ex.status, ex.legacy_headers, ex.legacy_body)
        try:
            return to_record(req, self.scrubber)
        except Skip as exc:
            self._skip(exc.reason)
            return None

    async def _in_sample(self, ex: Exchange) -> bool:
        try:
            parsed = parse_request(ex.endpoint, ex.path, ex.raw_query, ex.headers.get("Content-Type"), ex.body)
        except Unshadowable:
            return True  # not recordable anyway: to_record counts it with its reason
        thread = await self.sampler.thread_of(parsed.target, parsed.link)
        return thread is None or self.sampler.sampled(thread)
