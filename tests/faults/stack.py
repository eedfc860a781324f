"""The whole stack in-process over its own local store sets, for fault injection.

Legacy (with a separately restartable CDC consumer) on production, the rewrite in tap mode
(production read-only, sister for writes), the proxy at 100% with the StoreValidator, and a
ResultsWriter into a results database on the sister PostgreSQL server. Every component can be
stopped and started again on the same port while the proxy keeps running.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from config import NewServiceSettings, ProxySettings, Settings
from results.store.writer import ResultsWriter
from diff_reports.types import VerdictRecord
from legacy_adapter.app import create_app as legacy_app
from legacy_adapter.consumer import GROUP, Consumer
from new_comments_service.app import create_app as new_app
from shadow_proxy.app import PROXY, ProxyRuntime, runner_options
from judge.recording import ResultsSink
from wiring.parts import Parts
from sister_stores.addresses import StoreAddresses
from sister_stores.databases import apply_sql
from sister_stores.local_servers import LocalStores
from tests.contract.seed import seed_store_set
from tests.support.stores import READONLY_ROLE, prepare_templates

SECRET = "fault-injection-tap-secret"
RESULTS_DB = "fault_results"
CONSUMER_NAME = "legacy-1"


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass
class LegacyAnswer:
    """What the legacy handler produced for one request id (None for `raised`)."""

    status: int | None
    body: bytes | None
    headers: dict[str, str]
    raised: str | None = None


class RecordingSink(ResultsSink):
    """The live proxy's sink (every verdict to the results writer), keeping every verdict too (for
    accounting by request id)."""

    def __init__(self) -> None:
        super().__init__()
        self.records = deque()  # unbounded: the tests account for every verdict

    def by_request(self) -> dict[str, list[VerdictRecord]]:
        out: dict[str, list[VerdictRecord]] = {}
        for rec in self.records:
            out.setdefault(rec.request_id or "", []).append(rec)
        return out

    def verdicts(self, request_ids: set[str]) -> Counter[str]:
        return Counter(r.verdict.value for r in self.records if r.request_id in request_ids)


def recording_middleware(answers: dict[str, LegacyAnswer]) -> Any:
    """Outermost legacy middleware: the response the legacy itself produced, by X-Request-Id."""

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        rid = request.headers.get("X-Request-Id", "")
        try:
            resp = await handler(request)
        except Exception as exc:
            answers[rid] = LegacyAnswer(None, None, {}, raised=f"{type(exc).__name__}: {exc}")
            raise
        if isinstance(resp, web.Response):
            answers[rid] = LegacyAnswer(resp.status, resp.body, dict(resp.headers))  # type: ignore[arg-type]
        return resp

    return record


class Served:
    """One aiohttp app on a fixed loopback port that can be stopped and started again."""

    def __init__(self, build: Any, port: int = 0) -> None:
        self._build = build
        self.port = port
        self.runner: web.AppRunner | None = None
        self.app: web.Application | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.app = self._build()
        self.runner = web.AppRunner(self.app, shutdown_timeout=0.5, **runner_options(self.app))
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = self.app = None


class ConsumerHandle:
    """The legacy CDC consumer as its own task (a process of its own in production)."""

    def __init__(self, redis_url: str, stream: str) -> None:
        self._url, self._stream = redis_url, stream
        self._redis: aioredis.Redis | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._redis = aioredis.from_url(self._url)
        self.task = asyncio.create_task(Consumer(self._redis, self._stream, name=CONSUMER_NAME).run(),
                                        name="legacy-consumer")

    async def kill(self, *, expect_alive: bool = True) -> None:
        """A crash: cancelled wherever it is (entries read but not acked stay pending)."""
        assert self.task is not None
        if expect_alive:
            assert not self.task.done(), f"the consumer died on its own: {self.task!r}"
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        self.task = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


@dataclass
class FaultStack:
    root: Path
    settings: Settings = field(default_factory=lambda: Settings(new_service=NewServiceSettings(
        mode="tap", tap_secret=SECRET, readonly_role=READONLY_ROLE, memcached_pool_threads=4)))
    local: LocalStores | None = None
    production: StoreAddresses | None = None
    sister: StoreAddresses | None = None
    answers: dict[str, LegacyAnswer] = field(default_factory=dict)
    baseline: tuple[int, int] = (0, 0)   # (asyncio tasks, open fds) before anything started
    driver: Any = None                   # the traffic driver of the tests (tests/faults/driver.py)

    async def start(self) -> None:
        self.local = LocalStores(self.root, database="comments", durable=True)
        servers = await asyncio.to_thread(self.local.up)
        self.production, self.sister = servers["production"], servers["sister"]
        await prepare_templates(servers)
        await seed_store_set(self.production, self.settings)
        self.results_dsn = self.sister.with_database(RESULTS_DB).postgres
        await apply_sql(self.sister.postgres, f'CREATE DATABASE "{RESULTS_DB}"')
        proxy_settings = ProxySettings(admin_token="fault-admin-token", guard_enabled=False, shadow_timeout_s=2.0,
                                       validate_timeout_s=10.0, shadow_workers=4, queue_size=1000,
                                       ramp_redis=self.sister.redis)
        self.settings = self.settings.model_copy(update={"proxy": proxy_settings})
        # The parts `proxy serve` runs, from the one composition root; the results pipeline and the
        # validator start and stop with the proxy app.
        self.parts = Parts(self.settings, stores=(self.production, self.sister), results_dsn=self.results_dsn)
        self.parts.results.flush_interval_s = 0.05
        self.sink = self.parts.results_sink(RecordingSink())
        self.consumer = ConsumerHandle(self.production.redis, self.settings.stores.cdc_stream)
        self.consumer.start()
        self.legacy = Served(self._legacy_app)
        await self.legacy.start()
        self.new = Served(lambda: new_app(self.settings, self.production, self.sister))
        await self.new.start()
        self.proxy = Served(lambda: self.parts.proxy_app(sink=self.sink, legacy_url=self.legacy.url,
                                                         new_url=self.new.url, with_capture=False))
        await self.proxy.start()
        runtime = self.runtime
        for endpoint in ("info", "comments", "morechildren", "create", "update", "increment"):
            await runtime.control.set(endpoint, 100, who="faults", why="fault injection")
        await runtime.ramp.wait_until(lambda p: all(v == 100 for v in p.values()))

    def _legacy_app(self) -> web.Application:
        app = legacy_app(self.production, self.settings, consume=False)
        app.middlewares.insert(0, recording_middleware(self.answers))
        return app

    @property
    def writer(self) -> ResultsWriter:
        assert self.parts.results.writer is not None
        return self.parts.results.writer

    @property
    def runtime(self) -> ProxyRuntime:
        assert self.proxy.app is not None
        return self.proxy.app[PROXY]

    # -- faults ----------------------------------------------------------------------------------
    async def kill_store(self, set_name: str, kind: str) -> None:
        assert self.local is not None
        await asyncio.to_thread(self.local.stop_one, set_name, kind, kill=True)

    async def start_store(self, set_name: str, kind: str) -> None:
        assert self.local is not None
        await asyncio.to_thread(self.local.start_one, set_name, kind)

    async def results_db_down(self) -> None:
        """The results database refuses connections and its open ones are cut."""
        conn = await asyncpg.connect(self.sister.with_database("postgres").postgres)  # type: ignore[union-attr]
        try:
            await conn.execute(f'ALTER DATABASE "{RESULTS_DB}" WITH ALLOW_CONNECTIONS false')
            await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", RESULTS_DB)
        finally:
            await conn.close()

    async def results_db_up(self) -> None:
        conn = await asyncpg.connect(self.sister.with_database("postgres").postgres)  # type: ignore[union-attr]
        try:
            await conn.execute(f'ALTER DATABASE "{RESULTS_DB}" WITH ALLOW_CONNECTIONS true')
        finally:
            await conn.close()

    # -- inspection ------------------------------------------------------------------------------
    async def production_events(self) -> list[dict[str, str]]:
        r = aioredis.from_url(self.production.redis, decode_responses=True)  # type: ignore[union-attr]
        try:
            return [fields for _, fields in await r.xrange(self.settings.stores.cdc_stream)]
        finally:
            await r.aclose()

    async def consumer_lag(self) -> tuple[int, int]:
        """(pending, lag) of the legacy projections group on the production stream."""
        r = aioredis.from_url(self.production.redis, decode_responses=True)  # type: ignore[union-attr]
        try:
            groups = await r.xinfo_groups(self.settings.stores.cdc_stream)
            group = next(g for g in groups if g["name"] == GROUP)
            lag = group.get("lag")
            if lag is None:  # Redis cannot tell (e.g. after trimming): count what follows the last delivered entry
                after = await r.xrange(self.settings.stores.cdc_stream, min=f"({group['last-delivered-id']}", max="+")
                lag = len(after)
            return int(group["pending"]), int(lag)
        finally:
            await r.aclose()

    async def results_rows(self, request_ids: list[str]) -> int:
        conn = await asyncpg.connect(self.results_dsn)
        try:
            return await conn.fetchval("SELECT count(*) FROM results WHERE request_id = ANY($1::text[])", request_ids)
        finally:
            await conn.close()

    async def close(self) -> None:
        """Everything, in reverse; safe to call twice. The servers go down even if a step fails."""
        try:
            for served in (getattr(self, "proxy", None), getattr(self, "new", None), getattr(self, "legacy", None)):
                if served is not None:
                    await served.stop()
            if getattr(self, "consumer", None) is not None and self.consumer.task is not None:
                await self.consumer.kill(expect_alive=False)
        finally:
            if self.local is not None:
                local, self.local = self.local, None
                await asyncio.to_thread(local.down)
