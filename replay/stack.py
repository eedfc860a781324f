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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Literal

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
from replay.sink import CountingSink
from replay.stores import ReplayStores
from sister_stores.addresses import StoreAddresses
from wiring.parts import Parts

HOST = "127.0.0.1"


def replay_settings(settings: Settings, queue_size: int) -> Settings:
    """The settings a replay runs with: the rewrite in tap mode, the kill switch off, a queue that holds the run."""
    proxy = settings.proxy.model_copy(update={"guard_enabled": False, "compare_mode": "inline",
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


Service = Literal["legacy", "rewrite"]
CHILD_START_TIMEOUT_S = 60.0


async def _child_main(service: Service, settings: Settings, production: StoreAddresses, sister: StoreAddresses,
                      conn: Connection) -> None:
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
           conn: Connection) -> None:
    """A spawned process serving the legacy (with its CDC consumer) or the rewrite until its pipe closes."""
    uvloop.run(_child_main(service, settings, production, sister, conn))


@dataclass
class ServiceProcess:
    """One service serving in a process of its own; `stop()` closes the pipe and waits for it."""

    process: multiprocessing.process.BaseProcess
    conn: Connection
    url: str = ""

    @classmethod
    async def start(cls, service: Service, settings: Settings, production: StoreAddresses,
                    sister: StoreAddresses) -> ServiceProcess:
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=_child, args=(service, settings, production, sister, theirs),
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
    _runners: list[web.AppRunner] = field(default_factory=list)
    _children: list[ServiceProcess] = field(default_factory=list)

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
            self.proxy_app = parts.proxy_app(sink=parts.results_sink(self.sink), raised=self._raised,
                                             legacy_url=self.legacy_url, new_url=self.new_url,
                                             with_capture=s.capture.enabled)
            runner, self.proxy_url = await serve(self.proxy_app)
            self._runners.append(runner)
            await self.runtime.ramp.wait_until(lambda p: all(p[e] >= 100 for e in ENDPOINTS))
        except BaseException:
            await self.stop()
            raise

    def _raised(self, operation: str, error: BaseException) -> None:
        self.raised[operation] += 1

    async def settle(self, requests: int, timeout: float) -> None:
        """Wait until the proxy handled `requests` primaries and the shadow queue is idle (workers
        included, so every validation has returned), then flush the results writer."""
        await self.runtime.forwarder.wait_completed(requests, timeout)
        await self.runtime.queue.idle(timeout)
        if self.writer is not None:
            await self.writer.drain(timeout)

    async def stop(self) -> None:
        """Proxy first (it drains its queue, then closes the validator and the results pipeline), then
        the services."""
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        for child in reversed(self._children):
            await child.stop()
        self._children.clear()
