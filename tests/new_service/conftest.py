"""Fixtures: the new service in primary or tap mode over the per-test store sets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config import NewServiceSettings, Settings
from new_comments_service.app import create_app
from tests.new_service.support import FakeClock, seed_base
from tests.support.stores import READONLY_ROLE, StoreSets

TAP_SECRET = "tap-secret-for-tests"


def settings(mode: str) -> Settings:
    return Settings(new_service=NewServiceSettings(mode=mode, tap_secret=TAP_SECRET, readonly_role=READONLY_ROLE,
                                                   memcached_pool_threads=4))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def seeded(stores: StoreSets) -> StoreSets:
    await seed_base(stores.production.postgres)
    return stores


@pytest.fixture
async def primary(seeded: StoreSets, clock: FakeClock) -> AsyncIterator[TestClient]:
    app = create_app(settings("primary"), seeded.production, None, clock)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
async def tap(seeded: StoreSets, clock: FakeClock) -> AsyncIterator[TestClient]:
    app = create_app(settings("tap"), seeded.production, seeded.sister, clock)
    async with TestClient(TestServer(app)) as client:
        yield client
