"""The whole tap-compare stack on real servers, in-process: legacy (+ CDC consumer) on production,
the rewrite in tap mode (production read-only, writes to sister), the proxy at 100% with the
18-path StoreValidator. Time is the legacy's injected clock; the rewrite takes it from the proxy."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from config import NewServiceSettings, Settings
from diff_reports.types import VerdictKind, VerdictRecord
from shadow_proxy.app import PROXY
from judge.recording import InMemorySink
from wiring.parts import Parts
from sister_stores.addresses import StoreAddresses
from tests.contract.seed import THREADS_DIR
from tests.proxy.conftest import ADMIN_TOKEN, ProxyHandle, serve, set_ramp
from tests.support.stores import READONLY_ROLE, StoreSets

SECRET = "validation-tap-secret"
THREAD = "t3_haucpf"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Stack:
    url: str
    proxy: ProxyHandle
    sink: InMemorySink
    clock: Clock
    session: aiohttp.ClientSession
    sent: int = 0
    legacy_url: str = ""  # the legacy itself, past the proxy: traffic the shadow never sees

    async def post(self, path: str, user: str, retry_busy: int = 0, **form: str) -> dict:
        """POST through the proxy; `retry_busy`: resend (as a client would) when the legacy answers 503
        RATELIMIT (its per-comment lock was busy past its wait, on a loaded machine)."""
        for attempt in range(retry_busy + 1):
            async with self.session.post(self.url + path, data=form, headers={"X-Auth-User": user}) as resp:
                self.sent += 1
                body = await resp.json(content_type=None)
            if resp.status == 503 and "RATELIMIT" in str(body) and attempt < retry_busy:
                continue
            assert resp.status == 200, (path, form, body)
            return body
        raise AssertionError("unreachable")

    async def settle(self, timeout: float = 20.0) -> None:
        await self.proxy.runtime.forwarder.wait_completed(self.sent, timeout)
        await self.proxy.runtime.queue.idle(timeout)

    def verdicts(self, prefix: str = "") -> dict[str, Counter]:
        out: dict[str, Counter] = {}
        for r in self.sink.records:
            if r.path.startswith(prefix):
                out.setdefault(r.path, Counter())[r.verdict.value] += 1
        return out

    def flagged(self) -> set[str]:
        return {r.path for r in self.sink.records if r.verdict is VerdictKind.MISMATCH}

    def records(self, verdict: VerdictKind) -> list[VerdictRecord]:
        return [r for r in self.sink.records if r.verdict is verdict]


Seeder = Callable[[StoreAddresses, Settings], Awaitable[None]]


@asynccontextmanager
async def serving_stack(stores: StoreSets, seeder: Seeder, *, secret: str = SECRET, start: float = 1_700_000_000.0,
                        rewrite_on_clock: bool = False, queue_size: int | None = None,
                        keep: int = 1_000_000, proxy_overrides: dict[str, object] | None = None) -> AsyncIterator[Stack]:
    """The stack over production as `seeder` leaves it. `rewrite_on_clock`: the rewrite reads the
    legacy's clock too (score hiding depends on the read time), instead of the proxy's request time."""
    from legacy_adapter.app import create_app as legacy_app
    from new_comments_service.app import create_app as new_app

    settings = Settings(new_service=NewServiceSettings(mode="tap", tap_secret=secret, readonly_role=READONLY_ROLE,
                                                       memcached_pool_threads=4))
    prod = stores.production
    await seeder(prod, settings)
    clock = Clock(start)
    runners = []
    try:
        legacy_runner, legacy_url = await serve(legacy_app(prod, settings, clock=clock, consume=True))
        runners.append(legacy_runner)
        rewrite = new_app(settings, prod, stores.sister, clock=clock) if rewrite_on_clock else \
            new_app(settings, prod, stores.sister)
        new_runner, new_url = await serve(rewrite)
        runners.append(new_runner)
        overrides: dict[str, object] = {"admin_token": ADMIN_TOKEN, "guard_enabled": False,
                                        "ramp_redis": stores.sister.redis}
        if queue_size is not None:
            overrides["queue_size"] = queue_size
        overrides.update(proxy_overrides or {})
        proxy_settings = settings.proxy.model_copy(update=overrides)
        sink = InMemorySink(keep=keep)
        # The proxy `proxy serve` runs (comparator and 18-path validator from the composition root),
        # with an in-memory sink instead of the results store.
        parts = Parts(settings.model_copy(update={"proxy": proxy_settings}), stores=(prod, stores.sister))
        app = parts.proxy_app(sink=sink, legacy_url=legacy_url, new_url=new_url, with_capture=False)
        proxy_runner, url = await serve(app)
        runners.append(proxy_runner)
        handle = ProxyHandle(url, app[PROXY], sink)
        await set_ramp(handle, create=100, update=100, increment=100, info=100, comments=100, morechildren=100)
        async with aiohttp.ClientSession() as session:
            yield Stack(url, handle, sink, clock, session, legacy_url=legacy_url)
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


@asynccontextmanager
async def running_stack(stores: StoreSets, accounts: tuple[str, ...] = ("alice", "bob", "carol"),
                        start: float = 1_700_000_000.0, threads_dir=THREADS_DIR,
                        threads: tuple[str, ...] = (THREAD,)) -> AsyncIterator[Stack]:
    """The stack over real threads seeded into production."""
    from legacy_adapter.seeding import seed
    from legacy_adapter.store import LegacyStores

    async def seed_threads(prod: StoreAddresses, settings: Settings) -> None:
        st = await LegacyStores.open(prod.postgres, prod.memcached_host_port, prod.redis, settings.stores.cdc_stream)
        try:
            await seed(st, threads_dir, list(threads), accounts)
        finally:
            await st.close()

    async with serving_stack(stores, seed_threads, start=start, queue_size=5000) as stack:
        yield stack
