"""Everything one `tapcompare worker` process runs: the consumer loop, its results store, the
legacy recheck, the kill switch over its verdicts, the backlog monitor, and /health, /metrics, /ready."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CollectorRegistry

from config import ProxySettings
from results.store.store import ResultsStore, ensure_database
from shadow_proxy.audit import RampKeys
from shadow_proxy.guardrails import Guardrail, GuardrailConfig
from traffic.shadowed import ComparisonJob
from judge.breaker import Breaker, BreakerMetrics, breaker_config
from judge.health import Check, worker_ready
from judge.metrics import BacklogMetrics, WorkerMetrics
from judge.publisher import BacklogMonitor
from traffic.shadowed import RecheckReads
from judge.runner import JobRunner
from judge.worker import JobStore, JobWorker, WorkerConfig
from shadow_proxy.metrics import ProxyMetrics
from judge.protocols import Comparator, WriteValidator
from shadow_proxy.ramp import RampControl
from shadow_proxy.shadow_calls import reread
from write_validation.ordering import RedisOrderBook, order_book_prefix
from telemetry.http import mount_observability


@dataclass(frozen=True)
class WorkerAddresses:
    jobs_redis: str
    results_dsn: str
    ramp_redis: str               # the kill switch ramps endpoints down here (audited)
    legacy_url: str | None = None  # read-mismatch recheck; None: no recheck
    new_url: str | None = None     # the rewrite, read again in a recheck; None: the legacy alone is re-read


class WorkerService:
    def __init__(self, settings: ProxySettings, addresses: WorkerAddresses, comparator: Comparator,
                 validator: WriteValidator, *, consumer: str, batch: int = 32, version: str | None = None,
                 compare_threads: int = 2, registry: CollectorRegistry | None = None,
                 store_view: Callable[[ResultsStore], JobStore] | None = None) -> None:
        self.settings = settings
        self.addresses = addresses
        self.registry = registry or CollectorRegistry()
        self.metrics = WorkerMetrics(self.registry)
        breakers = BreakerMetrics(self.registry, "tapcompare_worker")
        # The worker's own dependencies (judge/breaker.py): the store reads of write validation, and
        # the rewrite read again in a recheck.
        self.validation_breaker = Breaker("sister_stores", breaker_config(settings), breakers)
        self.rewrite_breaker = Breaker("rewrite", breaker_config(settings), breakers)
        self.config = WorkerConfig(settings.jobs_stream, settings.jobs_group, consumer, batch=batch,
                                   claim_idle_ms=int(settings.jobs_claim_idle_s * 1000), version=version)
        self._comparator = comparator
        self._validator = validator
        self._compare_threads = compare_threads
        self._store_view = store_view  # how the worker sees its results store (the composition root observes it)
        self.redis: aioredis.Redis | None = None
        self._ramp_redis: aioredis.Redis | None = None
        self.store: ResultsStore | None = None
        self._session: aiohttp.ClientSession | None = None
        self.worker: JobWorker
        self.runner: JobRunner
        self.monitor: BacklogMonitor

    async def start(self) -> None:
        s, a = self.settings, self.addresses
        self.redis = aioredis.from_url(a.jobs_redis, socket_connect_timeout=2.0)
        await ensure_database(a.results_dsn)
        self.store = await ResultsStore.open(a.results_dsn)
        recheck = None
        if a.legacy_url and s.recheck_read_mismatches:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=s.shadow_pool_size),
                                                  cookie_jar=aiohttp.DummyCookieJar())
            recheck = self._recheck
        guardrail = None
        if s.guard_enabled:
            self._ramp_redis = aioredis.from_url(a.ramp_redis, decode_responses=True)
            guardrail = Guardrail(GuardrailConfig(s.guard_window_s, s.guard_min_samples, s.guard_max_error_rate,
                                                  s.guard_max_mismatch_rate),
                                  RampControl(self._ramp_redis, RampKeys(s.ramp_key_prefix)),
                                  ProxyMetrics(CollectorRegistry()))  # trips: logged + audited, not exported here
        share = getattr(self._validator, "share_order_book", None)
        if share is not None:
            # One ordering book for the proxies' publishers and every worker (ordering.py): more
            # workers must not turn a write whose predecessor another worker validated into `raced`.
            share(RedisOrderBook(self.redis, order_book_prefix(s.jobs_stream)))
        start = getattr(self._validator, "start", None)
        if start is not None:
            await start()
        self.runner = JobRunner(self._comparator, self._validator, lambda op, e: self.worker.raised(op, e),
                                recheck=recheck, validate_timeout_s=s.validate_timeout_s,
                                compare_threads=self._compare_threads, validation_breaker=self.validation_breaker)
        store: JobStore = self._store_view(self.store) if self._store_view is not None else self.store
        self.worker = JobWorker(self.redis, self.config, self.runner, store, self.metrics, guardrail=guardrail)
        await self.worker.ensure_group()
        self.monitor = BacklogMonitor(self.redis, s.jobs_stream, s.jobs_group, s.jobs_backlog_alert,
                                      BacklogMetrics(self.registry, s.jobs_backlog_alert))
        self.monitor.start()

    async def _recheck(self, job: ComparisonJob) -> RecheckReads:
        """The rewrite read again (when its address is known), then the legacy."""
        assert self._session is not None and self.addresses.legacy_url
        return await reread(self._session, job, new_url=self.addresses.new_url, legacy_url=self.addresses.legacy_url,
                            timeout_s=self.settings.shadow_timeout_s, max_bytes=self.settings.max_shadow_response_bytes,
                            breaker=self.rewrite_breaker)

    async def run(self) -> None:
        await self.worker.run()

    async def close(self) -> None:
        self.worker.stop()
        await self.monitor.stop()
        self.runner.close()
        close = getattr(self._validator, "close", None)
        if close is not None:
            await close()
        for part in (self._session,):
            if part is not None:
                await part.close()
        if self.store is not None:
            await self.store.close()
        for r in (self.redis, self._ramp_redis):
            if r is not None:
                await r.aclose()

    def checks(self) -> dict[str, Check]:
        out: dict[str, Check] = {}
        if self.redis is not None:
            out["jobs_redis"] = self.redis.ping
        if self.store is not None:
            store = self.store
            out["results_db"] = lambda: store.pool.fetchval("SELECT 1")
        return out

    def app(self) -> web.Application:
        """/health (alive), /metrics, /ready (jobs Redis and results database reachable)."""
        app = web.Application()
        mount_observability(app, self.registry)
        app.router.add_get("/ready", worker_ready(self.checks))
        return app


async def serve_worker(service: WorkerService, host: str, port: int) -> None:
    """Start, serve the probes, consume until SIGTERM/SIGINT (the batch in hand is finished), close."""
    await service.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.worker.stop)
    runner = web.AppRunner(service.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    try:
        await service.run()
    except asyncio.CancelledError:
        pass
    finally:
        await runner.cleanup()
        await service.close()
