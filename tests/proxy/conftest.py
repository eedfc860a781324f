"""Proxy fixtures: real loopback servers for the legacy and the new service, the proxy in front,
ramp state in the real (sister) Redis of the `stores` fixture.

To test against the real services later, change `legacy_app` / `new_app` to build them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web

from config import ProxySettings
from diff_reports.types import Observation, VerdictKind, VerdictRecord
from shadow_proxy.app import PROXY, ProxyRuntime, create_app, runner_options
from judge.recording import InMemorySink
from tests.proxy.standins import TAP_SECRET, BackendState, make_backend

ADMIN_TOKEN = "test-admin-token"


class EqualityComparator:
    """Status + body equality: the comparison core's job, reduced to what the proxy tests need."""

    def compare(self, path: str, legacy: Observation, new: Observation, *, entity: str | None = None,
                request_id: str | None = None) -> VerdictRecord:
        if new.raised:
            return VerdictRecord(path, VerdictKind.SHADOW_ERROR, entity, request_id, reason=new.error)
        verdict = VerdictKind.MATCH if legacy.value == new.value else VerdictKind.MISMATCH
        return VerdictRecord(path, verdict, entity, request_id, legacy.value, new.value)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, shutdown_timeout=0.5, **runner_options(app))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@dataclass
class Backend:
    url: str
    state: BackendState


@pytest.fixture
def legacy_app() -> Callable[[], tuple[web.Application, BackendState]]:
    def build() -> tuple[web.Application, BackendState]:
        state = BackendState("legacy")
        return make_backend(state), state
    return build


@pytest.fixture
def new_app() -> Callable[[], tuple[web.Application, BackendState]]:
    def build() -> tuple[web.Application, BackendState]:
        state = BackendState("new")
        return make_backend(state), state
    return build


@pytest.fixture
async def legacy(legacy_app) -> AsyncIterator[Backend]:
    app, state = legacy_app()
    runner, url = await serve(app)
    yield Backend(url, state)
    state.release.set()
    await runner.cleanup()


@pytest.fixture
async def new(new_app) -> AsyncIterator[Backend]:
    app, state = new_app()
    runner, url = await serve(app)
    yield Backend(url, state)
    state.release.set()
    await runner.cleanup()


@dataclass
class ProxyHandle:
    url: str
    runtime: ProxyRuntime
    sink: InMemorySink

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def proxy_factory(stores):
    """Start proxies (`async with proxy_factory(legacy_url, new_url, **settings) as p`)."""
    redis_url = stores.sister.redis

    @contextlib.asynccontextmanager
    async def start(legacy_url: str, new_url: str, ramp_redis: str | None = None,
                    **overrides) -> AsyncIterator[ProxyHandle]:
        settings = ProxySettings(**{"admin_token": ADMIN_TOKEN, "shadow_timeout_s": 1.0, "shadow_workers": 4,
                                    "queue_size": 100, "guard_enabled": False, **overrides})
        sink = InMemorySink()
        app = create_app(settings, legacy_url=legacy_url, new_url=new_url, tap_secret=TAP_SECRET,
                         ramp_redis_url=ramp_redis or redis_url, comparator=EqualityComparator(), sink=sink)
        runner, url = await serve(app)
        try:
            yield ProxyHandle(url, app[PROXY], sink)
        finally:
            await runner.cleanup()

    return start


@pytest.fixture
async def proxy(proxy_factory, legacy, new) -> AsyncIterator[ProxyHandle]:
    async with proxy_factory(legacy.url, new.url) as handle:
        yield handle


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session


async def set_ramp(handle: ProxyHandle, **pcts: float) -> None:
    """Set percentages through the audited control and wait until this proxy sees them."""
    for endpoint, pct in pcts.items():
        await handle.runtime.control.set(endpoint, pct, who="test", why="test setup")
    await handle.runtime.ramp.wait_until(lambda p: all(p[e] == v for e, v in pcts.items()))


async def settle(handle: ProxyHandle, requests: int, timeout: float = 10.0) -> None:
    """Wait until `requests` primaries are fully handled and the shadow queue has drained."""
    await handle.runtime.forwarder.wait_completed(requests, timeout)
    await handle.runtime.queue.idle(timeout)


def metric(handle: ProxyHandle, name: str, **labels: str) -> float:
    return handle.runtime.registry.get_sample_value(name, labels) or 0.0
