"""Start-up checks: a component finds what it needs, or stops with one line naming the missing
piece and the command that fixes it (or the settings key whose address is wrong). Never a traceback.

Nothing here writes: the checks read catalogs, PING and ask Memcached for its version.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import click

from config import Settings
from config.safety import SECRETS_BY_COMPONENT, default_secrets_in_use, env_name
from results.store.migrations import MIGRATIONS, current_version
from sister_stores.addresses import StoreAddresses
from sister_stores.databases import (
    database_name,
    missing_tables,
    readonly_dsn,
    readonly_role_problems,
    schema_tables,
    structure,
)
from sister_stores.guard import SameStoreError
from sister_stores.local_servers import LocalStoreError
from sister_stores.prepare import FIX, StoreUnreachable, connect_postgres, probe_memcached, probe_redis
from sister_stores.resolve import check_results_distinct, resolve_store_sets, results_address, store_keys

COMPONENTS = tuple(SECRETS_BY_COMPONENT)


class NotReady(Exception):
    """One missing or wrong piece, already phrased as the line the user sees."""


def _missing(piece: str, detail: str = "") -> NotReady:
    return NotReady(f"{piece} is missing" + (f" ({detail})" if detail else "") + f"; run `{FIX}`")


@dataclass(frozen=True)
class _Needs:
    production_schema: bool = False
    production_cache: bool = False
    production_redis: bool = False
    readonly_role: bool = False
    sister: bool = False  # sister PostgreSQL with production's schema, its Memcached and Redis
    results: bool = False
    redis: tuple[tuple[str, str], ...] = ()  # (key, url) of control-plane / jobs Redis


UNRESOLVED = StoreAddresses("", "", "")  # the store sets, when a component needs none of them


def _addresses_given(settings: Settings, component: str, validate: bool) -> bool:
    """A worker or proxy that validates no write and is given its Redis and results addresses
    needs no store set at all (e.g. a responses-only worker on another host)."""
    p = settings.proxy
    if component not in ("proxy", "worker") or validate or not p.ramp_redis:
        return False
    return component == "proxy" and p.compare_mode == "stream" or bool(settings.reports.results_dsn)


def _needs(settings: Settings, component: str, sister: StoreAddresses, validate: bool) -> _Needs:
    stores = dict(production_schema=True, production_cache=True, production_redis=True, readonly_role=True, sister=True)
    if component == "legacy":
        return _Needs(production_schema=True, production_cache=True, production_redis=True)
    if component == "consume":
        return _Needs(production_redis=True)
    if component == "new-primary":
        return _Needs(production_schema=True, production_cache=True, production_redis=True)
    if component == "new-tap":
        return _Needs(production_schema=True, production_redis=True, readonly_role=True, sister=True)
    if component == "report":
        return _Needs(results=True)
    p = settings.proxy
    ramp = (("proxy.ramp_redis", p.ramp_redis) if p.ramp_redis else ("stores.sister.redis", sister.redis))
    jobs = ("proxy.jobs_redis", p.jobs_redis) if p.jobs_redis else ramp
    if component == "worker":
        return _Needs(results=True, redis=tuple(dict.fromkeys((ramp, jobs))), **(stores if validate else {}))
    # proxy: inline mode compares and stores results itself; stream mode hands jobs to workers.
    if p.compare_mode == "stream":
        return _Needs(redis=tuple(dict.fromkeys((ramp, jobs))))
    return _Needs(results=True, redis=(ramp,), **(stores if validate else {}))


def _legacy_tables() -> tuple[str, ...]:
    # Imported here, not at module level: `new serve` imports this module, and the rewrite's
    # command loads no legacy module (tests/new_service/test_infra.py); only the table names are read.
    from legacy_adapter.schema import schema_sql

    return schema_tables(schema_sql())


async def _check(settings: Settings, needs: _Needs, production: StoreAddresses, sister: StoreAddresses) -> None:
    keys = store_keys(settings)
    tables = _legacy_tables()
    if needs.production_schema or needs.readonly_role or needs.sister:
        conn = await connect_postgres(production.postgres, keys["production.postgres"], missing_ok=True)
        if conn is None:
            raise _missing(f"production.postgres database {database_name(production.postgres)}")
        try:
            if missing := await missing_tables(conn, tables):
                what = "no legacy table" if len(missing) == len(tables) else "no table " + ", ".join(missing)
                raise _missing("production.postgres legacy schema", what)
            if needs.readonly_role:
                await _readonly_role(conn, settings, production, tables)
            if needs.sister:
                await _sister_schema(conn, sister, keys["sister.postgres"])
        finally:
            await conn.close()
    if needs.production_cache:
        await probe_memcached(production.memcached, keys["production.memcached"])
    if needs.production_redis:
        await probe_redis(production.redis, keys["production.redis"])
    if needs.sister:
        await probe_memcached(sister.memcached, keys["sister.memcached"])
        await probe_redis(sister.redis, keys["sister.redis"])
    for key, url in needs.redis:
        await probe_redis(url, key)
    if needs.results:
        await _results(settings, production, sister)


async def _readonly_role(conn, settings: Settings, production: StoreAddresses, tables: tuple[str, ...]) -> None:
    role = settings.new_service.readonly_role
    piece = f"production.postgres read-only role {role}"
    unsafe, lacking = await readonly_role_problems(conn, role, list(tables))
    if unsafe:
        raise NotReady(f"new_service.readonly_role = {role!r}: the role {'; '.join(unsafe)}; "
                       "expected a role that can only SELECT (give it a role of its own)")
    if lacking:
        raise _missing(piece, "does not exist" if lacking == ["does not exist"] else "lacks " + "; ".join(lacking))
    try:
        ro = await connect_postgres(readonly_dsn(production.postgres, role), f"new_service.readonly_role = {role!r} on "
                                    "stores.production.postgres")
    except StoreUnreachable as exc:
        raise NotReady(f"{piece}: cannot connect as it: {exc}") from None
    assert ro is not None
    await ro.close()


async def _sister_schema(prod, sister: StoreAddresses, key: str) -> None:
    conn = await connect_postgres(sister.postgres, key, missing_ok=True)
    if conn is None:
        raise _missing(f"sister.postgres database {database_name(sister.postgres)}")
    try:
        reference, mine = await structure(prod), await structure(conn)
    finally:
        await conn.close()
    if not mine.tables:
        raise _missing("sister.postgres schema", "no tables; it is mirrored from production")
    if mine != reference:
        raise NotReady("sister.postgres schema differs from production (" + "; ".join(mine.differences(reference))
                       + f"); run `{FIX}` for what to do")


async def _results(settings: Settings, production: StoreAddresses, sister: StoreAddresses) -> None:
    dsn, key = results_address(settings, sister)
    if production is not UNRESOLVED:
        check_results_distinct(production, sister, dsn, key)
    conn = await connect_postgres(dsn, key, missing_ok=True)
    if conn is None:
        raise _missing(f"results database {database_name(dsn)}")
    try:
        version = await current_version(conn)
    finally:
        await conn.close()
    latest = max(v for v, _, _ in MIGRATIONS)
    # An older version is fine: the results store applies its migrations when it opens.
    if version > latest:
        raise NotReady(f"{key}: the results database is at migration {version}, newer than this tapcompare "
                       f"({latest}); expected an upgraded tapcompare")


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines)


def same_store_line(exc: SameStoreError) -> str:
    """The guard's refusal on one line, each clash named by its settings key."""
    head, *clashes = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not clashes:
        return head
    return head + " " + "; ".join(f"stores.sister.{clash}" for clash in clashes)


def require_ready(settings: Settings, component: str, host: str | None = None, *, validate: bool = True) -> None:
    """Raise click.ClickException (one line) unless `component` can start: its secrets are not the
    built-in defaults when `host` is reachable from elsewhere, the sister set is not production,
    and every store it needs answers and holds what it should. `validate=False`: a proxy or
    worker that compares responses only (no store validation)."""
    if component not in COMPONENTS:
        raise ValueError(f"unknown component {component!r}; expected one of {', '.join(COMPONENTS)}")
    if defaults := default_secrets_in_use(settings, component, host):
        raise click.ClickException(
            f"refusing to listen on {host!r} with the built-in default of {', '.join(defaults)}; expected a secret "
            f"of your own when bound to a non-loopback address (set it in the config file or as "
            f"{', '.join(env_name(k) for k in defaults)}), or listen on 127.0.0.1")
    try:
        try:
            production, sister = resolve_store_sets(settings)
        except LocalStoreError:
            if not _addresses_given(settings, component, validate):
                raise
            production = sister = UNRESOLVED  # every address it needs is configured: no store set to start
        asyncio.run(_check(settings, _needs(settings, component, sister, validate), production, sister))
    except SameStoreError as exc:
        raise click.ClickException(same_store_line(exc)) from None
    except (LocalStoreError, StoreUnreachable, NotReady) as exc:
        raise click.ClickException(_one_line(str(exc))) from None
