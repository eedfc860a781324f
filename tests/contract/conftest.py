"""Contract fixtures: one seeded production store set per test and the service under test."""

from __future__ import annotations

import pytest

from config import Settings
from tests.contract.harness import Clock
from tests.contract.seed import T0, seed_store_set
from tests.contract.services import SERVICES, ServiceFactory


@pytest.fixture(params=sorted(SERVICES))
def service_factory(request: pytest.FixtureRequest) -> ServiceFactory:
    return SERVICES[request.param]


@pytest.fixture
async def contract(stores, service_factory):
    """(base URL, clock, seeded production addresses) of the service under test."""
    settings = Settings()
    await seed_store_set(stores.production, settings)
    clock = Clock(T0)
    async with service_factory(stores.production, clock, settings) as url:
        yield url, clock, stores.production
