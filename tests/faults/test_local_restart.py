"""LocalStores can crash (kill -9) and restart one server of a set on its port, data kept."""

from __future__ import annotations


import asyncpg
import pytest
import redis.asyncio as aioredis
from pymemcache.client.base import Client

from sister_stores.local_servers import LocalStores, LocalStoreError, port_open


@pytest.fixture(scope="module")
def durable_stores(tmp_path_factory: pytest.TempPathFactory):
    local = LocalStores(tmp_path_factory.mktemp("restart-stores"), database="probe", durable=True)
    servers = local.up(("production",))
    try:
        yield local, servers["production"]
    finally:
        local.down()


async def test_kill_and_restart_each_server_on_its_port(durable_stores) -> None:
    local, addrs = durable_stores
    conn = await asyncpg.connect(addrs.postgres)
    await conn.execute("CREATE TABLE kept (v text)")
    await conn.execute("INSERT INTO kept VALUES ('before the crash')")
    await conn.close()
    r = aioredis.from_url(addrs.redis)
    await r.xadd("s", {"k": "v"})
    await r.aclose()
    mc_host, mc_port = addrs.memcached_host_port
    Client((mc_host, mc_port)).set("k", b"v")

    for kind in ("postgres", "memcached", "redis"):
        old = local.load_state()["production"].servers[kind]
        stopped = local.stop_one("production", kind, kill=True)
        assert not stopped.alive() and not port_open(stopped.port), kind
        new = local.start_one("production", kind)
        assert new.port == old.port and new.pid != old.pid and new.data_dir == old.data_dir, kind
        assert local.load_state()["production"].servers[kind].pid == new.pid

    conn = await asyncpg.connect(addrs.postgres)
    assert await conn.fetchval("SELECT v FROM kept") == "before the crash"  # committed survives kill -9
    await conn.close()
    r = aioredis.from_url(addrs.redis)
    assert await r.xlen("s") == 1  # the AOF brought the stream back
    await r.aclose()
    assert Client((mc_host, mc_port)).get("k") is None  # a cache restarts empty

    local.restart_one("production", "redis", kill=False)  # a clean stop works too
    assert port_open(local.load_state()["production"].servers["redis"].port)


def test_unknown_server_is_a_clear_error(durable_stores) -> None:
    local, _ = durable_stores
    with pytest.raises(LocalStoreError, match="sister.postgres"):
        local.stop_one("sister", "postgres")
