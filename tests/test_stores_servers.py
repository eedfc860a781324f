"""Both store sets are real servers: write to and read back from each of the six."""

from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis
from pymemcache.client.base import Client

from tests.support.stores import StoreSets


async def test_each_of_six_servers_writes_and_reads_back(stores: StoreSets) -> None:
    seen_ports = set()
    for set_name, addrs in (("production", stores.production), ("sister", stores.sister)):
        conn = await asyncpg.connect(addrs.postgres)
        try:
            await conn.execute("CREATE TABLE probe (k text PRIMARY KEY, v text)")
            await conn.execute("INSERT INTO probe VALUES ($1, $2)", "set", set_name)
            assert await conn.fetchval("SELECT v FROM probe WHERE k = 'set'") == set_name
            seen_ports.add(("pg", conn._addr[1]))
        finally:
            await conn.close()

        host, port = addrs.memcached_host_port
        mc = Client((host, port))
        try:
            mc.set("probe", set_name.encode())
            assert mc.get("probe") == set_name.encode()
        finally:
            mc.close()
        seen_ports.add(("mc", port))

        r = aioredis.from_url(addrs.redis)
        try:
            await r.set("probe", set_name)
            assert await r.get("probe") == set_name.encode()
            seen_ports.add(("redis", r.connection_pool.connection_kwargs["port"]))
        finally:
            await r.aclose()
    # six distinct servers, not one server reached twice
    assert len(seen_ports) == 6


async def test_sets_are_isolated(stores: StoreSets) -> None:
    """A write to production is invisible in the sister set (separate servers, not shared state)."""
    r_prod = aioredis.from_url(stores.production.redis)
    r_sis = aioredis.from_url(stores.sister.redis)
    try:
        await r_prod.set("only-in-production", "1")
        assert await r_sis.get("only-in-production") is None
    finally:
        await r_prod.aclose()
        await r_sis.aclose()


async def test_sister_schema_mirrors_production(stores: StoreSets) -> None:
    query = """SELECT table_name, column_name, data_type FROM information_schema.columns
               WHERE table_schema = 'public' ORDER BY 1, 2"""
    cols = []
    for addrs in (stores.production, stores.sister):
        conn = await asyncpg.connect(addrs.postgres)
        try:
            cols.append([tuple(r) for r in await conn.fetch(query)])
        finally:
            await conn.close()
    assert cols[0] == cols[1]
    assert ("reddit_data_comment", "kind", "character varying") in cols[0]


async def test_readonly_role_cannot_write(stores: StoreSets) -> None:
    from sister_stores.databases import readonly_dsn
    from tests.support.stores import READONLY_ROLE

    conn = await asyncpg.connect(readonly_dsn(stores.production.postgres, READONLY_ROLE))
    try:
        assert await conn.fetchval("SELECT count(*) FROM reddit_thing_comment") == 0
        try:
            await conn.execute("INSERT INTO reddit_thing_comment (ups) VALUES (1)")
        except asyncpg.InsufficientPrivilegeError as exc:
            assert "permission denied" in str(exc)
        else:
            raise AssertionError("the read-only role was able to INSERT")
    finally:
        await conn.close()
