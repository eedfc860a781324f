"""The app factory: every part of the proxy wired together, started and stopped with the app."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
import redis.asyncio as aioredis
import uvloop
from aiohttp import web
from prometheus_client import CollectorRegistry

from config import ProxySettings
from diff_reports.types import VerdictKind, VerdictRecord
from judge.breaker import Breaker, BreakerMetrics, breaker_config
from judge.health import proxy_ready
from judge.protocols import Comparator, ComparisonExecutor, NoWriteValidation, RaisedHook, VerdictSink, WriteValidator
from judge.publisher import ProxyJobs
from traffic.shadowed import RecheckReads
from judge.recording import InMemorySink, VerdictRecorder
from judge.runner import JobRunner
from shadow_proxy.admin import ADMIN_TOKEN_NAME, AdminApi
from shadow_proxy.audit import RampKeys
from shadow_proxy.forward import Forwarder
from shadow_proxy.guardrails import Guardrail, GuardrailConfig
from shadow_proxy.links import LinkIndex
from shadow_proxy.metrics import ProxyMetrics
from shadow_proxy.queue import ShadowQueue
from shadow_proxy.ramp import RampControl, RampState
from shadow_proxy.shadow_calls import reread
from shadow_proxy.shadower import Shadower, ShadowTarget
from traffic.exchange import Exchange
from traffic.shadowed import ComparisonJob
from telemetry.http import mount_observability, request_id_middleware
from telemetry.logs import get_logger

if TYPE_CHECKING:
    from shadow_proxy.capture.recorder import CaptureRecorder

log = get_logger("shadow_proxy")


class ProxyRuntime:
    """Everything a running proxy holds. Tests and operators reach it as `app[PROXY]`."""

    def __init__(self, settings: ProxySettings, *, legacy_url: str, new_url: str, tap_secret: str,
                 ramp_redis_url: str, comparator: Comparator, sink: VerdictSink, validator: WriteValidator,
                 raised: RaisedHook | None, registry: CollectorRegistry,
                 recorder: CaptureRecorder | None = None) -> None:
        self.settings = settings
        self.legacy_url = legacy_url
        self.new_url = new_url
        self.tap_secret = tap_secret
        self.ramp_redis_url = ramp_redis_url
        self.comparator = comparator
        self.sink = sink
        self.validator = validator
        self.registry = registry
        self.recorder = recorder  # optional live capture (shadow_proxy.capture), independent of the ramp
        self.metrics = ProxyMetrics(registry)
        breakers = BreakerMetrics(registry, "tapcompare_proxy")
        # One breaker per dependency of the shadow side (judge/breaker.py): the rewrite, and (inline)
        # the write validation's store reads.
        self.rewrite_breaker = Breaker("rewrite", breaker_config(settings), breakers)
        self.validation_breaker = Breaker("sister_stores", breaker_config(settings), breakers)
        self.jobs_breaker = Breaker("jobs_redis", breaker_config(settings), breakers)
        self.links_breaker = Breaker("control_redis", breaker_config(settings), breakers)  # the link index
        self.keys = RampKeys(settings.ramp_key_prefix)
        self._user_raised = raised
        self.admin = AdminApi({ADMIN_TOKEN_NAME: settings.admin_token, **settings.admin_tokens}, self.keys)
        self.redis: aioredis.Redis | None = None
        self.ramp: RampState
        self.control: RampControl
        self.queue: ShadowQueue[Exchange]
        self.shadower: Shadower
        self.runner: JobRunner | None = None  # inline mode: the judge runs in this process
        self.forwarder: Forwarder
        self.guardrail: Guardrail | None = None
        self.links: LinkIndex
        self.jobs: ProxyJobs | None = None  # stream mode: comparisons go to `tapcompare worker`
        self._legacy_session: aiohttp.ClientSession | None = None
        self._shadow_session: aiohttp.ClientSession | None = None

    def raised(self, operation: str, error: BaseException) -> None:
        """The one error boundary of the shadow side: count, log, tell the user hook; never raise."""
        try:
            self.metrics.raised.labels(operation).inc()
            log.warning("shadow_raised", operation=operation, error=f"{type(error).__name__}: {error}")
            if self._user_raised is not None:
                self._user_raised(operation, error)
        except Exception:
            pass

    async def start(self) -> None:
        s = self.settings
        self.redis = aioredis.from_url(self.ramp_redis_url, decode_responses=True)
        self.control = RampControl(self.redis, self.keys)
        self.ramp = RampState(self.redis, self.keys, s.ramp_refresh_s, on_change=self._ramp_changed)
        await self.ramp.start()
        self.admin.bind(self.control, self.ramp, self.redis)
        self.links = LinkIndex(self.redis, self.keys, s.link_cache_size, breaker=self.links_breaker)
        # Separate pools: a slow or dead new service can never take the legacy's connections.
        self._legacy_session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=s.legacy_pool_size, keepalive_timeout=30),
            auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._shadow_session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=s.shadow_pool_size, keepalive_timeout=30),
            auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=s.shadow_timeout_s),
        )
        if s.guard_enabled:
            self.guardrail = Guardrail(GuardrailConfig(s.guard_window_s, s.guard_min_samples,
                                                       s.guard_max_error_rate, s.guard_max_mismatch_rate),
                                       self.control, self.metrics)
        self.jobs = ProxyJobs.open(s, self.ramp_redis_url, self.registry, self.raised, self.jobs_breaker)
        target = ShadowTarget(self.new_url, self.tap_secret, s.shadow_timeout_s,
                              max_response_bytes=s.max_shadow_response_bytes)
        executor: ComparisonExecutor
        if self.jobs is not None:
            executor = self.jobs.publisher
        else:
            executor = self.runner = self._inline_runner()
        self.shadower = Shadower(self._shadow_session, target, self.ramp, self.links, executor, self.metrics,
                                 self.raised, breaker=self.rewrite_breaker)
        self.queue = ShadowQueue(s.queue_size, s.shadow_workers, self.shadower.handle, self.raised,
                                 lambda ex: self.metrics.dropped.labels(ex.endpoint).inc())
        self.metrics.track_queue_depth(self.queue.depth)
        self.queue.start()
        if self.recorder is not None:
            await self.recorder.start(link_of=self.links.link_of, registry=self.registry, raised=self.raised)
        self.forwarder = Forwarder(self._legacy_session, self.legacy_url, s.legacy_timeout_s, s.max_body_bytes,
                                   self.ramp, self.queue, self.metrics, self.raised, self.recorder)
        log.info("proxy_started", legacy=self.legacy_url, new=self.new_url, ramp=self.ramp.pcts)

    def _inline_runner(self) -> JobRunner:
        """Inline mode: the judge in this process, its verdicts counted, stored and watched here."""
        s = self.settings
        session = self._shadow_session
        assert session is not None

        async def recheck(job: ComparisonJob) -> RecheckReads:
            return await reread(session, job, new_url=self.new_url, legacy_url=self.legacy_url,
                                timeout_s=s.shadow_timeout_s, max_bytes=s.max_shadow_response_bytes,
                                observe=lambda side, outcome, took: self.metrics.shadow.labels(side, outcome).observe(took),
                                breaker=self.rewrite_breaker)

        def count(record: VerdictRecord) -> None:
            self.metrics.verdicts.labels(record.path, VerdictKind(record.verdict).value).inc()

        recorder = VerdictRecorder(self.sink, self.guardrail, self.raised, count)
        return JobRunner(self.comparator, self.validator, self.raised,
                         recheck=recheck if s.recheck_read_mismatches else None,
                         validate_timeout_s=s.validate_timeout_s, recorder=recorder,
                         validation_breaker=self.validation_breaker)

    async def stop(self) -> None:
        # Primaries are finished by now (aiohttp drains them first); give queued shadows a moment.
        try:
            await self.queue.idle(min(self.settings.shadow_timeout_s + 0.5, 5.0))
        except TimeoutError:
            log.warning("shadow_queue_abandoned", depth=self.queue.depth())
        await self.queue.stop()
        if self.recorder is not None:
            await self.recorder.stop()
        await self.ramp.stop()
        if self.runner is not None:
            self.runner.close()
        if self.jobs is not None:
            await self.jobs.close()
        for session in (self._legacy_session, self._shadow_session):
            if session is not None:
                await session.close()
        if self.redis is not None:
            await self.redis.aclose()

    def _ramp_changed(self, pcts: dict[str, float]) -> None:
        for endpoint, pct in pcts.items():
            self.metrics.ramp_pct.labels(endpoint).set(pct)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        return await self.forwarder.handle(request)


PROXY = web.AppKey("tapcompare_proxy", ProxyRuntime)
# The proxy's HTTP server must hand it the client's request bytes as sent: aiohttp would otherwise
# decode a Content-Encoding'd body, and the legacy would get decoded bytes still labelled as encoded.
RUNNER_OPTIONS: dict[str, Any] = {"auto_decompress": False}


def serve_forever(app: web.Application, host: str, port: int) -> None:
    """Serve the proxy app until SIGINT/SIGTERM on a uvloop loop (`tapcompare proxy serve`).

    RUNNER_OPTIONS reach the request handler as keywords: aiohttp 3.14's run_app has no
    `handler_args`, and an unknown keyword makes aiohttp drop every custom handler option."""
    web.run_app(app, host=host, port=port, access_log=None, print=None, loop=uvloop.new_event_loop(),
                **RUNNER_OPTIONS)


def runner_options(app: web.Application) -> dict[str, Any]:
    """AppRunner keyword arguments for `app`: the proxy's own, or none for other apps."""
    return dict(RUNNER_OPTIONS) if PROXY in app else {}


def create_app(settings: ProxySettings, *, legacy_url: str, new_url: str, tap_secret: str, ramp_redis_url: str,
               comparator: Comparator, sink: VerdictSink | None = None, validator: WriteValidator | None = None,
               raised: RaisedHook | None = None, registry: CollectorRegistry | None = None,
               recorder: CaptureRecorder | None = None, resources: Sequence[Any] = ()) -> web.Application:
    """The proxy as an aiohttp application; run it with web.run_app or an AppRunner.

    /health, /metrics and /admin/* are the proxy's own; every other path goes to the legacy.
    `recorder` (shadow_proxy.capture.CaptureRecorder) also records sampled requests as a dataset log.
    `resources` (objects with async start() and close(), e.g. the results pipeline and the store
    validator) start, in order, before the proxy does and close, in reverse, after it stopped.
    Build it with `wiring.parts.Parts.proxy_app`, which chooses these parts from Settings.
    """
    registry = registry or CollectorRegistry()
    runtime = ProxyRuntime(settings, legacy_url=legacy_url, new_url=new_url, tap_secret=tap_secret,
                           ramp_redis_url=ramp_redis_url, comparator=comparator, sink=sink or InMemorySink(),
                           validator=validator or NoWriteValidation(), raised=raised, registry=registry,
                           recorder=recorder)
    app = web.Application(middlewares=[request_id_middleware(registry, "tapcompare_proxy")])
    app[PROXY] = runtime
    mount_observability(app, registry)

    async def lifecycle(_: web.Application):
        started: list[Any] = []
        try:
            for resource in resources:
                await resource.start()
                started.append(resource)
            await runtime.start()
        except BaseException:
            for resource in reversed(started):
                await resource.close()
            raise
        yield
        try:
            await runtime.stop()
        finally:
            for resource in reversed(started):
                await resource.close()

    app.cleanup_ctx.append(lifecycle)

    runtime.admin.mount(app)
    app.router.add_get("/ready", proxy_ready(runtime))
    app.router.add_route("*", "/{tail:.*}", runtime.handle)
    return app
