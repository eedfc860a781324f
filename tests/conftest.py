"""Fixture layer: real PostgreSQL, Memcached and Redis servers for a production and a sister set."""

from __future__ import annotations

import pytest

from sister_stores.local_servers import LocalStores
from tests.support import task_dump
from tests.support.stores import TEMPLATE_DB, StoreSets, fresh_sets, prepare_templates, release_sets, run

task_dump.install()


@pytest.fixture(autouse=True)
def _tasks_printed_before_a_timeout(request: pytest.FixtureRequest):
    """A hang prints its asyncio tasks' awaits before pytest-timeout stops it (tests/support/task_dump.py)."""
    timer = task_dump.arm(request.node)
    yield
    if timer is not None:
        timer.cancel()


@pytest.fixture(scope="session")
def local_stores(tmp_path_factory: pytest.TempPathFactory):
    local = LocalStores(tmp_path_factory.mktemp("stores"), database=TEMPLATE_DB)
    servers = local.up()
    try:
        run(prepare_templates(servers))
        yield local, servers
    finally:
        local.down()


@pytest.fixture
def stores(local_stores) -> StoreSets:
    """A fresh database (from the schema template) on both sets, and flushed caches and streams."""
    _, servers = local_stores
    sets = run(fresh_sets(servers))
    yield sets
    run(release_sets(sets))
