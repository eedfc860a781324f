"""Both store sets, started once per test session from the machine's binaries; a clean state per test."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from legacy_adapter.schema import schema_sql
from sister_stores.addresses import StoreAddresses
from sister_stores.databases import (
    apply_sql,
    drop_database,
    ensure_readonly_role,
    flush_caches_and_streams,
    mirror_schema,
    recreate_database,
)

TEMPLATE_DB = "comments_template"
READONLY_ROLE = "tapcompare_ro"


@dataclass(frozen=True)
class StoreSets:
    production: StoreAddresses
    sister: StoreAddresses


async def prepare_templates(servers: dict[str, StoreAddresses]) -> None:
    """Production template: the legacy schema plus the read-only role; sister: a mirror of it."""
    prod, sister = servers["production"], servers["sister"]
    await apply_sql(prod.postgres, schema_sql())
    await ensure_readonly_role(prod.postgres, READONLY_ROLE)
    await mirror_schema(prod.postgres, sister.postgres)


async def fresh_sets(servers: dict[str, StoreAddresses]) -> StoreSets:
    name = f"t_{uuid.uuid4().hex[:12]}"
    out = {}
    for set_name, addrs in servers.items():
        fresh = addrs.with_database(name)
        await recreate_database(fresh.postgres, template=TEMPLATE_DB)
        await flush_caches_and_streams(fresh)
        out[set_name] = fresh
    return StoreSets(out["production"], out["sister"])


async def release_sets(sets: StoreSets) -> None:
    for addrs in (sets.production, sets.sister):
        await drop_database(addrs.postgres)


def run(coro):
    return asyncio.run(coro)
