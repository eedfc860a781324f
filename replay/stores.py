"""The store sets a replay runs on: local servers (or configured ones), fresh databases, the seed.

Fresh (the default): both `comments` databases are recreated (legacy schema on production, the
read-only role granted, the schema mirrored to sister), caches and streams flushed, and the
results database recreated. Both sets then get the *same* seed through the legacy model, so
seeded entities need no hydration. The seed's CDC events are trimmed from both streams once the
projections are built: they are the state at the cut-off, not traffic, and a validator scanning
the stream should see only the replay's writes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from config import Settings
from legacy_adapter.dataset_seed import DatasetSeedReport, seed_dataset
from legacy_adapter.schema import schema_sql
from legacy_adapter.store import LegacyStores
from sister_stores.addresses import StoreAddresses
from sister_stores.databases import (
    apply_sql, ensure_readonly_role, flush_caches_and_streams, mirror_schema, recreate_database,
)
from sister_stores.guard import check_distinct
from sister_stores.local_servers import LocalStores

DEFAULT_STORES_DIR = ".tapcompare/replay-stores"


class ReplayStoresError(RuntimeError):
    """The stores cannot be prepared as asked; the message says why and what to do."""


@dataclass
class ReplayStores:
    production: StoreAddresses
    sister: StoreAddresses
    results_dsn: str
    local: LocalStores | None  # set when the replay started local servers (stop them with `down()`)
    owned: bool = False        # both sets and the results database are the replay's own (fresh may recreate them)

    def down(self) -> list[str]:
        return self.local.down() if self.local is not None else []


def open_stores(settings: Settings, stores_dir: str | Path = DEFAULT_STORES_DIR) -> ReplayStores:
    """Start (or reuse) local servers under `stores_dir` for the sets configured `local`."""
    cfg = settings.stores
    wanted = tuple(n for n in ("production", "sister") if getattr(cfg, n).local)
    local = LocalStores(stores_dir, cfg.database) if wanted else None
    started = local.up(wanted) if local is not None else {}

    def one(name: str) -> StoreAddresses:
        if name in started:
            return started[name]
        c = getattr(cfg, name)
        return StoreAddresses(c.postgres, c.memcached, c.redis)

    production, sister = one("production"), one("sister")
    check_distinct(production, sister)
    results = settings.reports.results_dsn or sister.with_database(settings.reports.results_database).postgres
    owned = len(wanted) == 2 and not settings.reports.results_dsn
    return ReplayStores(production, sister, results, local, owned)


async def _has_schema(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        return False
    try:
        return bool(await conn.fetchval("SELECT to_regclass('reddit_thing_comment') IS NOT NULL"))
    finally:
        await conn.close()


async def prepare(stores: ReplayStores, settings: Settings, *, fresh: bool) -> None:
    """Databases, schema, role, caches: fresh, or (no-fresh) only what is missing."""
    prod, sister = stores.production, stores.sister
    if fresh:
        if not stores.owned:
            raise ReplayStoresError("a fresh replay recreates databases, and some configured stores (or the results "
                                    "database) are not local ones of the replay; prepare them yourself and pass --no-fresh")
        await recreate_database(prod.postgres)
        await apply_sql(prod.postgres, schema_sql())
        await recreate_database(sister.postgres)
        await mirror_schema(prod.postgres, sister.postgres)
        await flush_caches_and_streams(prod)
        await flush_caches_and_streams(sister)
        await recreate_database(stores.results_dsn)
    else:
        if not await _has_schema(prod.postgres):
            await recreate_database(prod.postgres)
            await apply_sql(prod.postgres, schema_sql())
        if not await _has_schema(sister.postgres):
            await recreate_database(sister.postgres)
            await mirror_schema(prod.postgres, sister.postgres)
    await ensure_readonly_role(prod.postgres, settings.new_service.readonly_role)


async def _seed_one(addresses: StoreAddresses, stream: str, records: Sequence[Mapping[str, Any]]) -> DatasetSeedReport:
    st = await LegacyStores.open(addresses.postgres, addresses.memcached_host_port, addresses.redis, stream)
    try:
        return await seed_dataset(st, records)
    finally:
        await st.close()


async def _trim(redis_url: str, stream: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        await client.xtrim(stream, maxlen=0, approximate=False)
    finally:
        await client.aclose()


async def seed_both(stores: ReplayStores, settings: Settings, records: Sequence[Mapping[str, Any]]) -> DatasetSeedReport:
    """The same seed into production and sister (concurrently); production's report is returned."""
    stream = settings.stores.cdc_stream
    prod_report, sister_report = await asyncio.gather(_seed_one(stores.production, stream, records),
                                                      _seed_one(stores.sister, stream, records))
    if (prod_report.comments, prod_report.links) != (sister_report.comments, sister_report.links):
        raise ReplayStoresError(f"production and sister seeded differently: {prod_report} vs {sister_report}")
    await asyncio.gather(_trim(stores.production.redis, stream), _trim(stores.sister.redis, stream))
    return prod_report
