"""The proxy side of stream mode: XADD each comparison job (bounded, MAXLEN ~) and watch the backlog.

Publishing never blocks a client: it runs in the shadow queue's workers, after the legacy answered
(and, for writes, after the new service answered). A failed XADD is counted and sent to the
`raised` boundary; that job is lost, like an exchange the full shadow queue sheds.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from config import ProxySettings
from judge.breaker import Breaker
from judge.codec import encode
from judge.metrics import BACKLOG_KINDS, BacklogMetrics, PublisherMetrics
from judge.protocols import RaisedHook
from sister_stores.streams import Backlog, read_backlog
from telemetry.logs import get_logger
from traffic.shadowed import ComparisonJob
from write_validation.ordering import Book, RedisOrderBook, order_book_prefix

log = get_logger("judge")
JOB_FIELD = b"job"


class BacklogMonitor:
    """Samples the backlog every `interval_s`; above `threshold` it is counted and logged."""

    def __init__(self, redis: aioredis.Redis, stream: str, group: str, threshold: int, metrics: BacklogMetrics,
                 interval_s: float = 5.0) -> None:
        self._redis, self._stream, self._group = redis, stream, group
        self.threshold = threshold
        self._metrics = metrics
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.over = False
        self.last: Backlog | None = None

    async def sample(self) -> Backlog:
        b = await read_backlog(self._redis, self._stream, self._group)
        self.last = b
        for kind, value in zip(BACKLOG_KINDS, (b.length, b.lag, b.pending, b.total)):
            self._metrics.backlog.labels(kind).set(value)
        if b.total > self.threshold:
            self._metrics.exceeded.inc()
            if not self.over:
                log.warning("jobs_backlog_high", stream=self._stream, backlog=b.total, lag=b.lag,
                            pending=b.pending, length=b.length, threshold=self.threshold)
        elif self.over:
            log.info("jobs_backlog_recovered", stream=self._stream, backlog=b.total, threshold=self.threshold)
        self.over = b.total > self.threshold
        return b

    def start(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="jobs-backlog")

    async def stop(self) -> None:
        # The event ends the loop even when the Redis client swallows the cancellation (it can).
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.sample()
            except Exception as exc:  # Redis away: keep the last values, try again
                log.warning("jobs_backlog_unreadable", error=f"{type(exc).__name__}: {exc}")
            try:
                await asyncio.wait_for(self._stop.wait(), self._interval_s)
            except TimeoutError:
                pass


def _applied_by_rewrite(job: ComparisonJob) -> bool:
    """A write job whose rewrite call answered 2xx: the rewrite has applied it to the sister."""
    if job.kind != "write" or job.new is None or job.new.raised or not isinstance(job.new.value, dict):
        return False
    status = job.new.value.get("status")
    return isinstance(status, int) and 200 <= status < 300


class JobPublisher:
    """XADD jobs; with a shared ordering book, first mark each write the rewrite applied (so every
    worker's race rule knows it, whichever worker validates it, and whenever)."""

    def __init__(self, redis: aioredis.Redis, stream: str, maxlen: int, metrics: PublisherMetrics,
                 raised: RaisedHook, book: Book | None = None, breaker: Breaker | None = None) -> None:
        self._redis, self._stream, self._maxlen = redis, stream, maxlen
        # The jobs Redis's breaker: while open nothing is sent, and each job is a counted failure.
        self.breaker = breaker
        self._metrics = metrics
        self._raised = raised
        self.book = book

    async def _mark_applied(self, job: ComparisonJob) -> None:
        if self.book is None or not _applied_by_rewrite(job):
            return
        try:
            await self.book.mark_applied(job.entity, job.request_id)
            if job.endpoint == "create" and job.link.startswith("t3_"):
                await self.book.mark_applied(f"link:{job.link}", job.request_id)
        except Exception as exc:  # the validator marks it too (later): at worst a `raced` verdict
            self._raised("order_book", exc)

    async def publish(self, job: ComparisonJob) -> bool:
        if self.breaker is not None and not self.breaker.allow():
            self._metrics.failed.labels(job.endpoint).inc()
            return False
        await self._mark_applied(job)
        try:
            data = encode(replace(job, published_at=time.time()))
            await self._redis.xadd(self._stream, {JOB_FIELD: data}, maxlen=self._maxlen, approximate=True)
        except Exception as exc:
            if self.breaker is not None:
                self.breaker.failure()
            self._metrics.failed.labels(job.endpoint).inc()
            self._raised("publish", exc)
            return False
        if self.breaker is not None:
            self.breaker.success()
        self._metrics.published.labels(job.endpoint).inc()
        return True

    async def submit(self, job: ComparisonJob) -> None:
        """The stream-mode executor: publish (a failure is counted and reaches `raised`)."""
        await self.publish(job)


class ProxyJobs:
    """What a proxy in stream mode holds: its jobs Redis, the publisher and the backlog monitor."""

    def __init__(self, settings: ProxySettings, redis_url: str, registry: CollectorRegistry,
                 raised: RaisedHook, breaker: Breaker | None = None) -> None:
        self.redis = aioredis.from_url(redis_url, socket_timeout=5.0, socket_connect_timeout=2.0)
        self.publisher = JobPublisher(self.redis, settings.jobs_stream, settings.jobs_maxlen,
                                      PublisherMetrics(registry), raised,
                                      book=RedisOrderBook(self.redis, order_book_prefix(settings.jobs_stream)),
                                      breaker=breaker)
        self.monitor = BacklogMonitor(self.redis, settings.jobs_stream, settings.jobs_group,
                                      settings.jobs_backlog_alert, BacklogMetrics(registry, settings.jobs_backlog_alert))

    @classmethod
    def open(cls, settings: ProxySettings, ramp_redis_url: str, registry: CollectorRegistry,
             raised: RaisedHook, breaker: Breaker | None = None) -> "ProxyJobs | None":
        """None in inline mode (the default)."""
        if settings.compare_mode != "stream":
            return None
        jobs = cls(settings, settings.jobs_redis or ramp_redis_url, registry, raised, breaker)
        jobs.monitor.start()
        return jobs

    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        await self.monitor.stop()
        await self.redis.aclose()
