"""The whole stack for a real Reddit client: legacy (with its CDC consumer) over production seeded
with every bundled thread, the rewrite in tap mode, the proxy at 100% on the three reads with the
real comparator. Built from the same helpers as tests/proxy and tests/validation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from config import NewServiceSettings, Settings
from diff_reports.configure import comparator_from_settings
from shadow_proxy.app import PROXY, create_app
from judge.recording import InMemorySink
from tests.contract.seed import THREADS_DIR
from tests.proxy.conftest import ADMIN_TOKEN, ProxyHandle, serve, set_ramp
from tests.support.stores import READONLY_ROLE, StoreSets

SECRET = "praw-tap-secret"


@dataclass
class PrawStack:
    proxy: ProxyHandle
    legacy_url: str
    threads: list[str]          # link fullnames seeded
    stores: StoreSets


@pytest.fixture
async def praw_stack(stores: StoreSets) -> AsyncIterator[PrawStack]:
    from legacy_adapter.app import create_app as legacy_app
    from legacy_adapter.seeding import seed
    from legacy_adapter.store import LegacyStores
    from new_comments_service.app import create_app as new_app

    settings = Settings(new_service=NewServiceSettings(mode="tap", tap_secret=SECRET, readonly_role=READONLY_ROLE,
                                                       memcached_pool_threads=4))
    prod = stores.production
    st = await LegacyStores.open(prod.postgres, prod.memcached_host_port, prod.redis, settings.stores.cdc_stream)
    try:
        report = await seed(st, THREADS_DIR)
    finally:
        await st.close()
    runners = []
    try:
        legacy_runner, legacy_url = await serve(legacy_app(prod, settings, consume=True))
        runners.append(legacy_runner)
        new_runner, new_url = await serve(new_app(settings, prod, stores.sister))
        runners.append(new_runner)
        proxy_settings = settings.proxy.model_copy(update={
            "admin_token": ADMIN_TOKEN, "guard_enabled": False, "queue_size": 5000, "shadow_timeout_s": 30.0})
        sink = InMemorySink(keep=1_000_000)
        app = create_app(proxy_settings, legacy_url=legacy_url, new_url=new_url, tap_secret=SECRET,
                         ramp_redis_url=stores.sister.redis, comparator=comparator_from_settings(settings), sink=sink)
        proxy_runner, url = await serve(app)
        runners.append(proxy_runner)
        handle = ProxyHandle(url, app[PROXY], sink)
        await set_ramp(handle, info=100, comments=100, morechildren=100)
        yield PrawStack(handle, legacy_url, report.threads, stores)
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
