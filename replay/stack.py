"""Everything a replay drives, in-process in one asyncio loop, on free loopback ports.

legacy (production, with its CDC consumer) <- proxy (ramp 100% for all six endpoints) -> rewrite
(tap mode: production read-only + sister). The proxy and its judging parts (comparator, the
18-path store validator, the results pipeline and verdict metrics) come from the composition
root, `wiring.parts.Parts`, exactly as `proxy serve` builds them; the sink is a
CountingSink (the live sink plus per-request counts). `[capture] enabled` records the replayed
traffic as `proxy serve` would. The kill switch is off: a replay must count
every verdict, not stop shadowing when things look bad.

With `processes=True` (what `tapcompare replay` runs) the legacy and the rewrite each serve from a
process of their own (spawned, uvloop), so the proxy's loop (forwarding, comparison, validation,
results) gets a core to itself: a replay in one loop was CPU-bound on one core (benchmarks/README.md).
A child stops when its pipe to this process closes, so a killed replay leaves none behind.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from urllib.parse import urlsplit
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import redis.asyncio as aioredis
import uvloop
from aiohttp import web

from config import Settings
from results.store.store import ResultsStore
from results.store.writer import ResultsWriter
from legacy_adapter.app import create_app as legacy_app
from new_comments_service.app import create_app as new_app
from shadow_proxy.app import PROXY, ProxyRuntime, runner_options
from shadow_proxy.audit import RampKeys
from shadow_proxy.ramp import ENDPOINTS, RampControl
from judge.publisher import read_backlog
from replay.sink import CountingSink
from replay.stored_verdicts import StoredVerdicts
from replay.stores import ReplayStores
from sister_stores.addresses import StoreAddresses
from telemetry.tasks import waiting_tasks
from wiring.parts import Parts

HOST = "127.0.0.1"


class SettleTimeout(TimeoutError):
    """A replay did not settle in time: which step, and where the loop's tasks were waiting."""

    def __init__(self, step: str, timeout: float, tasks: list[str]) -> None:
        super().__init__(f"settling did not finish within {timeout:g} s: still waiting for {step}; "
                         f"tasks waiting: {' | '.join(tasks) or 'none'}")
        self.step = step


def replay_settings(settings: Settings, queue_size: int, workers: int = 0) -> Settings:
    """The settings a replay runs with: the rewrite in tap mode, the kill switch off, a queue that
    holds the run; the judge inline in the proxy, or (`workers` > 0) in stream-mode workers."""
    proxy = settings.proxy.model_copy(update={"guard_enabled": False,
                                              "compare_mode": "stream" if workers > 0 else "inline",
                                              "queue_size": max(settings.proxy.queue_size, queue_size)})
    new = settings.new_service.model_copy(update={"mode": "tap"})
    return settings.model_copy(update={"proxy": proxy, "new_service": new})


async def serve(app: web.Application, host: str = HOST, port: int = 0) -> tuple[web.AppRunner, str]:
    """Start `app` on a free port (or `port`); returns the runner and its base URL."""
    runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None, **runner_options(app))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://{host}:{bound}"


Service = str  # "legacy", "rewrite", or "worker-N": a stream-mode worker named so
CHILD_START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class WorkerTarget:
    """What a replay's worker judges against: the replay's own services and results database."""

    legacy_url: str
    new_url: str
    results_dsn: str


def with_service_urls(settings: Settings, legacy_url: str, new_url: str) -> Settings:
    """`settings` whose legacy and rewrite addresses are the given URLs (the worker's recheck reads)."""
    legacy, new = urlsplit(legacy_url), urlsplit(new_url)
    return settings.model_copy(update={
        "legacy": settings.legacy.model_copy(update={"host": legacy.hostname, "port": legacy.port}),
        "new_service": settings.new_service.model_copy(update={"host": new.hostname, "port": new.port})})


async def _worker_main(name: str, settings: Settings, production: StoreAddresses, sister: StoreAddresses,
                       target: WorkerTarget, conn: Connection) -> None:
    """`tapcompare worker` as the composition root builds it, on the replay's stores and services."""
    parts = Parts(with_service_urls(settings, target.legacy_url, target.new_url), stores=(production, sister),
                  results_dsn=target.results_dsn, version="replay")
    service = parts.worker_service(consumer=f"replay-{name}")
    await service.start()
    run = asyncio.create_task(service.run())
    conn.send("started")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(conn.fileno(), stop.set)
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([run, stopped], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        service.worker.stop()  # the batch in hand is finished and stored
        await asyncio.gather(run, return_exceptions=True)
        await service.close()


async def _child_main(service: Service, settings: Settings, production: StoreAddresses, sister: StoreAddresses,
                      conn: Connection, target: WorkerTarget | None) -> None:
    if target is not None:
        await _worker_main(service, settings, production, sister, target, conn)
        return
    app = legacy_app(production, settings, consume=True) if service == "legacy" else new_app(settings, production, sister)
    runner, url = await serve(app)
    conn.send(url)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(conn.fileno(), stop.set)  # the parent closed its end (or died)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def _child(service: Service, settings: Settings, production: StoreAddresses, sister: StoreAddresses,
           conn: Connection, target: WorkerTarget | None = None) -> None:
    """A spawned process serving the legacy (with its CDC consumer), the rewrite, or (given a
    target) judging as a stream-mode worker, until its pipe closes."""
    uvloop.run(_child_main(service, settings, production, sister, conn, target))


@dataclass
class ServiceProcess:
    """One service serving in a process of its own; `stop()` closes the pipe and waits for it."""

    process: multiprocessing.process.BaseProcess
    conn: Connection
    url: str = ""

    @classmethod
    async def start(cls, service: Service, settings: Settings, production: StoreAddresses,
                    sister: StoreAddresses, target: WorkerTarget | None = None) -> ServiceProcess:
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=_child, args=(service, settings, production, sister, theirs, target),
                           name=f"replay-{service}", daemon=True)
        proc.start()
        theirs.close()
        child = cls(proc, ours)
        try:
            ready = await asyncio.to_thread(ours.poll, CHILD_START_TIMEOUT_S)
            if not ready:
                raise RuntimeError(f"the {service} process did not start within {CHILD_START_TIMEOUT_S:.0f} s")
            child.url = ours.recv()
        except (EOFError, OSError) as exc:
            await child.stop()
            raise RuntimeError(f"the {service} process exited at start-up (exit code {proc.exitcode})") from exc
        except BaseException:
            await child.stop()
            raise
        return child

    async def stop(self) -> None:
        self.conn.close()
        await asyncio.to_thread(self.process.join, 10.0)
        if self.process.is_alive():
            self.process.terminate()
            await asyncio.to_thread(self.process.join, 5.0)


async def set_full_ramp(redis_url: str, prefix: str, who: str = "replay") -> None:
    """Every endpoint at 100% (audited like any ramp change), before the proxy starts."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        control = RampControl(client, RampKeys(prefix))
        for endpoint in ENDPOINTS:
            await control.set(endpoint, 100, who=who, why="replay: every request is shadowed")
    finally:
        await client.aclose()


@dataclass
class ReplayStack:
    settings: Settings
    stores: ReplayStores
    clock: Callable[[], float] = time.time
    legacy_url: str = ""
    new_url: str = ""
    proxy_url: str = ""
    sink: CountingSink = field(default_factory=CountingSink)
    raised: Counter[str] = field(default_factory=Counter)
    parts: Parts | None = None
    proxy_app: web.Application | None = None
    processes: bool = False  # legacy and rewrite in processes of their own (needs the default clock)
    workers: int = 0  # > 0: the proxy publishes jobs (stream mode) and this many worker processes judge them
    stored: StoredVerdicts | None = None  # with workers: what they stored, fed to the sink
    _runners: list[web.AppRunner] = field(default_factory=list)
    _children: list[ServiceProcess] = field(default_factory=list)
    _workers: list[ServiceProcess] = field(default_factory=list)

    @property
    def results(self) -> ResultsStore | None:
        return self.parts.results.store if self.parts is not None else None

    @property
    def writer(self) -> ResultsWriter | None:
        return self.parts.results.writer if self.parts is not None else None

    @property
    def runtime(self) -> ProxyRuntime:
        assert self.proxy_app is not None
        return self.proxy_app[PROXY]

    async def start(self) -> None:
        s, st = self.settings, self.stores
        try:
            self.parts = parts = Parts(s, stores=(st.production, st.sister), results_dsn=st.results_dsn,
                                       version="replay")
            if self.processes and self.clock is time.time:
                self._children = list(await asyncio.gather(
                    ServiceProcess.start("legacy", s, st.production, st.sister),
                    ServiceProcess.start("rewrite", s, st.production, st.sister)))
                self.legacy_url, self.new_url = (c.url for c in self._children)
            else:
                runner, self.legacy_url = await serve(legacy_app(st.production, s, clock=self.clock, consume=True))
                self._runners.append(runner)
                runner, self.new_url = await serve(new_app(s, st.production, st.sister))
                self._runners.append(runner)
            await set_full_ramp(parts.ramp_redis, s.proxy.ramp_key_prefix)
            if self.workers > 0:
                await self._start_workers()
            self.proxy_app = parts.proxy_app(sink=parts.results_sink(self.sink), raised=self._raised,
                                             legacy_url=self.legacy_url, new_url=self.new_url,
                                             with_capture=s.capture.enabled)
            runner, self.proxy_url = await serve(self.proxy_app)
            self._runners.append(runner)
            await self.runtime.ramp.wait_until(lambda p: all(p[e] >= 100 for e in ENDPOINTS))
        except BaseException:
            await self.stop()
            raise

    async def _start_workers(self) -> None:
        """The workers first (they migrate the results database), then the listener, then (the
        caller) the proxy: no job can be stored before the listener listens."""
        st = self.stores
        assert self.parts is not None
        await self.parts.results.start()  # the database and its schema, once; and the reports read it
        target = WorkerTarget(self.legacy_url, self.new_url, st.results_dsn)
        self._workers = list(await asyncio.gather(*(
            ServiceProcess.start(f"worker-{i + 1}", self.settings, st.production, st.sister, target)
            for i in range(self.workers))))
        self.stored = StoredVerdicts(st.results_dsn, self.sink)
        await self.stored.start()

    async def _stream_idle(self, timeout: float) -> None:
        """Every published job acknowledged by a worker (so stored), and every store applied here."""
        assert self.stored is not None and self.parts is not None
        p = self.settings.proxy
        client = aioredis.from_url(self.parts.jobs_redis)
        try:
            async with asyncio.timeout(timeout):
                while (await read_backlog(client, p.jobs_stream, p.jobs_group)).total > 0:
                    await asyncio.sleep(0.05)  # polling the stream's backlog, a condition with a deadline
        finally:
            await client.aclose()
        await self.stored.caught_up(timeout)

    def _raised(self, operation: str, error: BaseException) -> None:
        self.raised[operation] += 1

    async def settle(self, requests: int, timeout: float) -> None:
        """Wait until the proxy handled `requests` primaries and the shadow queue is idle (workers
        included, so every validation has returned), then flush the results writer; within
        `timeout` in all, or SettleTimeout naming the step and what the loop's tasks wait on."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout  # one budget for all the steps, not one each
        steps: list[tuple[str, Callable[[float], Awaitable[None]]]] = [
            (f"the proxy to finish {requests} primaries",
             lambda left: self.runtime.forwarder.wait_completed(requests, left)),
            ("the shadow queue to go idle", self.runtime.queue.idle)]
        if self.stored is not None:
            steps.append(("the workers to store every published job", self._stream_idle))
        writer = self.writer
        if writer is not None:
            steps.append(("the results writer to drain", writer.drain))
        for step, wait in steps:
            try:
                await wait(max(deadline - loop.time(), 0.0))
            except TimeoutError:
                raise SettleTimeout(step, timeout, waiting_tasks()) from None

    async def stop(self) -> None:
        """Proxy first (it drains its queue, then closes the validator and the results pipeline), then
        the services."""
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        for worker in self._workers:
            await worker.stop()
        self._workers.clear()
        if self.stored is not None:
            await self.stored.close()
            if self.parts is not None:
                await self.parts.results.close()
        for child in reversed(self._children):
            await child.stop()
        self._children.clear()
