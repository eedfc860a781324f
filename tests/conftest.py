"""Fixture layer: real PostgreSQL, Memcached and Redis servers for a production and a sister set."""

from __future__ import annotations

import pytest

from sister_stores.local_servers import LocalStores
from tests.support.stores import TEMPLATE_DB, StoreSets, fresh_sets, prepare_templates, release_sets, run


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
