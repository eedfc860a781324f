"""Legacy fixtures: a seeded production set, the legacy app on a real port with a controllable
clock (the CDC consumer is driven explicitly by the tests), and the opened stores."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from config import Settings
from legacy_adapter.app import create_app
from legacy_adapter.client import LegacyClient
from legacy_adapter.consumer import Consumer
from legacy_adapter.store import LegacyStores
from sister_stores.addresses import StoreAddresses
from tests.contract.seed import T0, seed_store_set
from tests.contract.harness import Clock
from tests.contract.services import serve_app


@dataclass
class LegacyEnv:
    url: str
    clock: Clock
    addresses: StoreAddresses
    st: LegacyStores
    client: LegacyClient

    async def drain(self) -> int:
        """Run the CDC consumer until the stream is fully applied."""
        return await Consumer(self.st.redis, self.st.stream).drain()


async def open_stores(addresses: StoreAddresses) -> LegacyStores:
    return await LegacyStores.open(addresses.postgres, addresses.memcached_host_port, addresses.redis)


@pytest.fixture
async def legacy(stores):
    settings = Settings()
    await seed_store_set(stores.production, settings)
    clock = Clock(T0)
    st = await open_stores(stores.production)
    async with serve_app(create_app(stores.production, settings, clock=clock)) as url:
        async with LegacyClient(url) as client:
            yield LegacyEnv(url, clock, stores.production, st, client)
    await st.close()
