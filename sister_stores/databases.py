"""Database-level chores on a store set's PostgreSQL: create from a template, mirror the schema,
grant the rewrite's read-only role, reset the caches and streams between runs; and the read-only
inspections `stores prepare` and the start-up checks rest on (tables, structure, role rights)."""

from __future__ import annotations

import asyncio
import re
import subprocess
from dataclasses import dataclass

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


# -- what is there (catalog reads only) ----------------------------------------------------------

_CREATE_TABLE = re.compile(r'CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:public\.)?"?([A-Za-z_][\w$]*)"?', re.I)


def schema_tables(sql: str) -> tuple[str, ...]:
    """The tables a schema script creates, in order."""
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    names = tuple(dict.fromkeys(_CREATE_TABLE.findall(code)))
    if not names:
        raise ValueError("the legacy schema SQL creates no table (expected CREATE TABLE statements)")
    return names


async def missing_tables(conn: asyncpg.Connection, tables: tuple[str, ...]) -> list[str]:
    rows = await conn.fetch(
        "SELECT t FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i) "
        "WHERE to_regclass(format('public.%I', t)) IS NULL ORDER BY i", list(tables))
    return [r["t"] for r in rows]


_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"""
_INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"


@dataclass(frozen=True)
class Structure:
    """Tables, columns and indexes of the public schema: what a mirror must reproduce."""

    columns: frozenset[tuple[str, str, str, bool]]
    indexes: frozenset[tuple[str, str]]

    @property
    def tables(self) -> set[str]:
        return {c[0] for c in self.columns}

    def differences(self, reference: "Structure") -> list[str]:
        """How this structure falls short of (or goes beyond) `reference`, briefly."""
        out = []
        if lacks := sorted(reference.tables - self.tables):
            out.append("lacks table(s) " + ", ".join(lacks))
        if extra := sorted(self.tables - reference.tables):
            out.append("has other table(s) " + ", ".join(extra))
        common = reference.tables & self.tables
        changed = sorted({c[0] for c in reference.columns ^ self.columns if c[0] in common})
        if changed:
            out.append("columns differ in " + ", ".join(changed))
        if sorted(reference.indexes ^ self.indexes) and not out:
            out.append("indexes differ: " + ", ".join(sorted({i[0] for i in reference.indexes ^ self.indexes})))
        return out


async def structure(conn: asyncpg.Connection) -> Structure:
    cols = await conn.fetch(_COLUMNS)
    idx = await conn.fetch(_INDEXES)
    return Structure(frozenset((r[0], r[1], r[2], r[3]) for r in cols), frozenset((r[0], r[1]) for r in idx))


async def readonly_role_problems(conn: asyncpg.Connection, role: str, tables: list[str]) -> tuple[list[str], list[str]]:
    """(unsafe, lacking) for `role` on `conn`'s database: what lets it do more than SELECT, and
    which grants it needs but lacks. ["does not exist"] as lacking when there is no such role."""
    row = await conn.fetchrow("SELECT rolsuper, rolcanlogin, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = $1",
                              role)
    if row is None:
        return [], ["does not exist"]
    unsafe, lacking = [], []
    if row["rolsuper"]:
        unsafe.append("is a superuser")
    for flag, what in (("rolcreatedb", "can create databases"), ("rolcreaterole", "can create roles")):
        if row[flag]:
            unsafe.append(what)
    if not row["rolcanlogin"]:
        lacking.append("LOGIN")
    if not await conn.fetchval("SELECT has_database_privilege($1, current_database(), 'CONNECT')", role):
        lacking.append("CONNECT on the database")
    if not await conn.fetchval("SELECT has_schema_privilege($1, 'public', 'USAGE')", role):
        lacking.append("USAGE on schema public")
    if await conn.fetchval("SELECT has_schema_privilege($1, 'public', 'CREATE')", role):
        unsafe.append("can CREATE in schema public")
    privs = await conn.fetch(
        "SELECT t, has_table_privilege($1, format('public.%I', t), 'SELECT') AS r, "
        "has_table_privilege($1, format('public.%I', t), 'INSERT, UPDATE, DELETE, TRUNCATE') AS w "
        "FROM unnest($2::text[]) AS t WHERE to_regclass(format('public.%I', t)) IS NOT NULL ORDER BY t", role, tables)
    if no_select := [r["t"] for r in privs if not r["r"]]:
        lacking.append("SELECT on " + ", ".join(no_select))
    if writable := [r["t"] for r in privs if r["w"]]:
        unsafe.append("can write " + ", ".join(writable))
    return unsafe, lacking


async def close_pool(pool: asyncpg.Pool, timeout: float = 10.0) -> None:
    """Close an asyncpg pool; a connection that does not come back in time (the database refusing
    connections while the pool restores its floor, a query stuck on a dead server) is cut, so a
    shutdown never hangs on it."""
    try:
        await asyncio.wait_for(pool.close(), timeout)
    except TimeoutError:
        pool.terminate()
