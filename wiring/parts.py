"""The composition root: every part a running component needs, built from Settings in one place.

`Parts(settings)` is what every entry point builds from: `proxy serve` (inline and stream mode),
`tapcompare worker`, `replay`, `demo`, `report serve`, the benchmarks and the test stacks. Each
part is made here and nowhere else, so a part behaves the same whichever process runs it; which
parts a process runs follows from what it asks for. A stream-mode proxy only forwards, samples and
publishes; a worker judges (comparator, the 18-path validator, the results store, verdict
metrics). In inline mode the proxy's own process does all of it.

Fallbacks that judge less (`NoWriteValidation`, an in-memory sink) are built only when the caller
asks for them (`responses_only=True`, or a sink passed by a test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry

from config import Settings
from diff_reports.configure import comparator_from_settings
from diff_reports.metrics import VerdictMetrics, track_writer
from results.store.store import ResultsStore, ensure_database
from results.store.writer import ResultsWriter, WriterStats
from diff_reports.types import VerdictRecord
from shadow_proxy.app import create_app
from shadow_proxy.capture.from_settings import recorder_from_settings
from judge.protocols import Comparator, NoWriteValidation, RaisedHook, VerdictSink, WriteValidator
from judge.recording import ResultsSink
from sister_stores.addresses import StoreAddresses
from sister_stores.resolve import resolve_store_sets, results_address

if TYPE_CHECKING:
    from wiring.worker import WorkerService


class WiringError(RuntimeError):
    """A part a component needs cannot be built; the message says which and what to do."""


class Resource(Protocol):
    """A part with a lifetime: started before the component serves, closed after it stops."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


def ramp_redis_url(settings: Settings) -> str:
    """`proxy.ramp_redis`, else the sister set's Redis (resolved through the prod-vs-sister guard)."""
    if settings.proxy.ramp_redis:
        return settings.proxy.ramp_redis
    _, sister = resolve_store_sets(settings)
    return sister.redis


def results_dsn(settings: Settings, sister: StoreAddresses | None = None) -> str:
    """`reports.results_dsn`, else database `reports.results_database` on the sister PostgreSQL server."""
    if settings.reports.results_dsn:
        return settings.reports.results_dsn
    if sister is None:
        _, sister = resolve_store_sets(settings)
    return results_address(settings, sister)[0]


def default_comparator(settings: Settings) -> Comparator:
    """The comparison core configured from `[compare]` (rules, normalisation, learned noise)."""
    return comparator_from_settings(settings)


@dataclass
class ResultsPipeline:
    """The results store plus its batching writer; every verdict it is handed is also observed by
    the verdict metrics (the series the dashboard and alert rules query)."""

    dsn: str
    metrics: VerdictMetrics
    registry: CollectorRegistry
    version: str | None = None
    flush_interval_s: float = 0.5
    store: ResultsStore | None = None
    writer: ResultsWriter | None = None
    _tracked: bool = False

    async def start(self) -> None:
        await ensure_database(self.dsn)
        self.store = await ResultsStore.open(self.dsn)
        self.writer = ResultsWriter(self.store, version=self.version, observe=self.metrics.observe,
                                    flush_interval_s=self.flush_interval_s)
        if not self._tracked:  # a restarted component keeps its registry: one collector for its life
            track_writer(self.registry, self)
            self._tracked = True
        self.writer.start()

    @property
    def stats(self) -> WriterStats:
        return self.writer.stats if self.writer is not None else WriterStats()

    @property
    def pending(self) -> int:
        return self.writer.pending if self.writer is not None else 0

    async def drain(self, timeout: float) -> None:
        if self.writer is not None:
            await self.writer.drain(timeout)

    async def close(self) -> None:
        if self.writer is not None:
            await self.writer.close()
        if self.store is not None:
            await self.store.close()
            self.store = None


@dataclass
class ObservedJobStore:
    """A worker's results store seen through the verdict metrics: what a worker stores (once per
    job id) is observed as the inline proxy's writer observes it, and counted as written."""

    store: ResultsStore
    metrics: VerdictMetrics
    stats: WriterStats = field(default_factory=WriterStats)
    pending: int = 0  # a worker writes each batch in one transaction: nothing waits in memory

    async def write_jobs(self, jobs: list[tuple[str, list[tuple[VerdictRecord, str | None]]]]) -> set[str]:
        records = sum(len(r) for _, r in jobs)
        self.stats.submitted += records
        try:
            fresh = await self.store.write_jobs(jobs)
        except Exception:
            self.stats.failed += records
            raise
        self.stats.batches += 1
        for job_id, items in jobs:
            if job_id in fresh:
                self.stats.written += len(items)
                for record, _ in items:
                    self.metrics.observe(record)
        return fresh


class Parts:
    """The parts of a running component, each built once, on first use."""

    def __init__(self, settings: Settings, *, registry: CollectorRegistry | None = None,
                 stores: tuple[StoreAddresses, StoreAddresses] | None = None, results_dsn: str | None = None,
                 responses_only: bool = False, version: str | None = None) -> None:
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        self._stores = stores
        self._results_dsn = results_dsn
        self.responses_only = responses_only
        self.version = version

    # -- addresses -------------------------------------------------------------------------------
    @cached_property
    def store_sets(self) -> tuple[StoreAddresses, StoreAddresses]:
        """(production, sister), through the prod-vs-sister guard."""
        return self._stores or resolve_store_sets(self.settings)

    @cached_property
    def results_dsn(self) -> str:
        # Configured addresses first: a worker or proxy given every address resolves no store set.
        return self._results_dsn or self.settings.reports.results_dsn or results_dsn(self.settings, self.store_sets[1])

    @cached_property
    def ramp_redis(self) -> str:
        return self.settings.proxy.ramp_redis or self.store_sets[1].redis

    @property
    def jobs_redis(self) -> str:
        return self.settings.proxy.jobs_redis or self.ramp_redis

    @property
    def legacy_url(self) -> str:
        return f"http://{self.settings.legacy.host}:{self.settings.legacy.port}"

    @property
    def new_url(self) -> str:
        return f"http://{self.settings.new_service.host}:{self.settings.new_service.port}"

    # -- the judging parts -----------------------------------------------------------------------
    @cached_property
    def comparator(self) -> Comparator:
        return default_comparator(self.settings)

    @cached_property
    def verdict_metrics(self) -> VerdictMetrics:
        return VerdictMetrics(self.registry)

    @cached_property
    def validator(self) -> WriteValidator:
        """The 18-path store validator (a Resource), or none when responses only were asked for."""
        if self.responses_only:
            return NoWriteValidation()
        from write_validation.store_validator import StoreValidator

        production, sister = self.store_sets
        s = self.settings
        return StoreValidator(production, sister, self.comparator.compare, stream=s.stores.cdc_stream,
                              tz_offset=s.legacy.tz_offset_seconds, readonly_role=s.new_service.readonly_role,
                              scan=s.proxy.cdc_scan_events)

    @cached_property
    def results(self) -> ResultsPipeline:
        return ResultsPipeline(self.results_dsn, self.verdict_metrics, self.registry, self.version)

    def results_sink(self, sink: ResultsSink | None = None) -> ResultsSink:
        """A sink that hands every verdict to the results pipeline's writer once it has started."""
        sink = sink if sink is not None else ResultsSink()
        sink.pipeline = self.results
        return sink

    # -- components ------------------------------------------------------------------------------
    def proxy_app(self, *, sink: VerdictSink | None = None, raised: RaisedHook | None = None,
                  legacy_url: str | None = None, new_url: str | None = None,
                  with_capture: bool = True) -> web.Application:
        """The proxy. Inline mode: it judges and stores here (validator and results pipeline start and
        stop with the app). Stream mode: it only publishes jobs; `worker_service` judges them."""
        s = self.settings
        resources: list[Resource] = []
        validator: WriteValidator = NoWriteValidation()
        if s.proxy.compare_mode == "inline":
            validator = self.validator
            if hasattr(validator, "start"):
                resources.append(validator)  # type: ignore[arg-type]
            if sink is None:
                sink = self.results_sink()
            if isinstance(sink, ResultsSink) and sink.pipeline is not None:
                resources.insert(0, sink.pipeline)
        if s.ramp.plan and s.ramp.plan_in_proxy:
            from wiring.ramp_plan import PlanRunner

            resources.append(PlanRunner.from_settings(s, ramp_redis=self.ramp_redis, results_dsn=self.results_dsn))
        return create_app(
            s.proxy, legacy_url=legacy_url or self.legacy_url, new_url=new_url or self.new_url,
            tap_secret=s.new_service.tap_secret, ramp_redis_url=self.ramp_redis, comparator=self.comparator,
            sink=sink, validator=validator, raised=raised, registry=self.registry,
            recorder=recorder_from_settings(s.capture) if with_capture else None, resources=resources,
        )

    def worker_service(self, *, consumer: str, batch: int = 32, compare_threads: int = 2) -> WorkerService:
        """One `tapcompare worker`: judges jobs from the stream into the results store."""
        from wiring.worker import WorkerAddresses, WorkerService

        metrics = self.verdict_metrics

        def observed(store: ResultsStore) -> ObservedJobStore:
            wrapped = ObservedJobStore(store, metrics)
            track_writer(self.registry, wrapped)
            return wrapped

        addresses = WorkerAddresses(jobs_redis=self.jobs_redis, results_dsn=self.results_dsn,
                                    ramp_redis=self.ramp_redis, legacy_url=self.legacy_url, new_url=self.new_url)
        return WorkerService(self.settings.proxy, addresses, self.comparator, self.validator, consumer=consumer,
                             batch=batch, version=self.version, compare_threads=compare_threads,
                             registry=self.registry, store_view=observed)

    def ui_app(self) -> web.Application:
        """The reviewer UI over the results database (opened, migrated and closed with the app)."""
        from results.ui.app import create_app as ui_app

        from results.store.queries import Thresholds

        import redis.asyncio as aioredis

        from shadow_proxy.audit import RampKeys
        from wiring.ramp_trail import RedisRampTrail

        rs = self.settings.reports
        redis = aioredis.from_url(self.ramp_redis)  # connects on first use: the ramp pages' audit trail
        app = ui_app(None, rs.token, dsn=self.results_dsn, retention_days=rs.retention_days,
                     thresholds=Thresholds.from_settings(rs),
                     ramp_trail=RedisRampTrail(redis, RampKeys(self.settings.proxy.ramp_key_prefix)),
                     ramp_policy=self.settings.ramp.policy)

        async def close_ramp_redis(_: web.Application) -> None:
            await redis.aclose()
        app.on_cleanup.append(close_ramp_redis)
        return app
