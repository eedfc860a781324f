"""Database-level chores on a store set's PostgreSQL: create from a template, mirror the schema,
grant the rewrite's read-only role, and reset the caches and streams between runs."""

from __future__ import annotations

import subprocess

import asyncpg
import redis.asyncio as aioredis
from pymemcache.client.base import Client as MemcacheClient

from sister_stores.addresses import StoreAddresses
from sister_stores.local_servers import find_postgres_bindir


def _server_dsn(dsn: str, database: str = "postgres") -> str:
    head, _, _ = dsn.rpartition("/")
    return f"{head}/{database}"


def _ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def database_name(dsn: str) -> str:
    return dsn.rpartition("/")[2].split("?")[0]


async def recreate_database(dsn: str, template: str | None = None) -> None:
    """Drop and create the database `dsn` names (optionally as a copy of `template`)."""
    name = database_name(dsn)
    conn = await asyncpg.connect(_server_dsn(dsn))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        tmpl = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{tmpl}')
    finally:
        await conn.close()


async def drop_database(dsn: str) -> None:
    conn = await asyncpg.connect(_server_dsn(dsn))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database_name(dsn)}" WITH (FORCE)')
    finally:
        await conn.close()


async def apply_sql(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def dump_schema(dsn: str) -> str:
    """The schema of `dsn` as SQL (pg_dump --schema-only), without owners or grants."""
    pg_dump = find_postgres_bindir() / "pg_dump"
    out = subprocess.run(
        [str(pg_dump), "--schema-only", "--no-owner", "--no-privileges", "--dbname", dsn],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"pg_dump --schema-only of {dsn} failed: {out.stderr.strip()}")
    return out.stdout


async def mirror_schema(production_dsn: str, sister_dsn: str) -> None:
    """Give the sister database exactly production's schema (sister must be empty)."""
    schema = dump_schema(production_dsn)
    # Recent pg_dump writes psql meta-commands (\restrict ...); they are not SQL, so drop them.
    sql = "\n".join(line for line in schema.splitlines() if not line.startswith("\\"))
    await apply_sql(sister_dsn, sql)


async def ensure_readonly_role(dsn: str, role: str) -> None:
    """A login role that can only SELECT in `dsn`'s public schema: the rewrite's production access.

    Only grants: the database's own privileges for PUBLIC are left alone (revoking CONNECT from
    PUBLIC would lock every other application role out of a real production database)."""
    conn = await asyncpg.connect(dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        quoted = _ident(role)
        if not exists:
            await conn.execute(f"CREATE ROLE {quoted} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
        await conn.execute(f"GRANT CONNECT ON DATABASE {_ident(database_name(dsn))} TO {quoted}")
        # PostgreSQL < 15 lets PUBLIC create in schema public (15+ no longer does).
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        await conn.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
        await conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {quoted}")
        await conn.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {quoted}")
    finally:
        await conn.close()


def readonly_dsn(dsn: str, role: str) -> str:
    """The same database reached as the read-only role."""
    scheme, _, rest = dsn.partition("://")
    hostpart = rest.split("@", 1)[-1]
    return f"{scheme}://{role}@{hostpart}"


async def flush_caches_and_streams(addresses: StoreAddresses) -> None:
    """Empty the set's Memcached and Redis (a clean state for a test or a fresh replay)."""
    host, port = addresses.memcached_host_port
    client = MemcacheClient((host, port), connect_timeout=2, timeout=2)
    try:
        client.flush_all(noreply=False)
    finally:
        client.close()
    r = aioredis.from_url(addresses.redis)
    try:
        await r.flushdb()
    finally:
        await r.aclose()
