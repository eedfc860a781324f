"""Ready a production and a sister store set, idempotently, or only say what is missing.

The pieces, in order, each reported on one line as already there, done, missing or failed:
every server reachable; the production database and the legacy schema on it (applied only when
a legacy table is missing, as CREATE ... IF NOT EXISTS, so existing tables and rows are never
touched); the rewrite's SELECT-only role on production; the sister database and its schema,
mirrored from production (only into a sister database without tables); the results database and
its migrations. Nothing is written before every server answered.

sister_stores imports only config, so the legacy schema SQL and the results migrations are
parameters (`PreparePlan`), handed in by the `tapcompare` command.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis.asyncio as aioredis

from sister_stores.addresses import StoreAddresses
from sister_stores.databases import (
    database_name,
    ensure_readonly_role,
    missing_tables,
    mirror_schema,
    readonly_role_problems,
    schema_tables,
    structure,
)

T = TypeVar("T")
FIX = "tapcompare stores prepare"
CONNECT_TIMEOUT_S = 5.0

PRESENT, DONE, MISSING, FAILED, REACHABLE = "already there", "done", "missing", "failed", "reachable"


@dataclass(frozen=True)
class Piece:
    """One thing a component needs, and its state after `prepare_stores` looked at it."""

    name: str
    state: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state in (PRESENT, DONE, REACHABLE)

    def line(self) -> str:
        text = f"{self.name}: {self.state}" + (f" ({self.detail})" if self.detail else "")
        return text + (f"; run `{FIX}`" if self.state == MISSING else "")


@dataclass(frozen=True)
class ResultsSchema:
    """The results database's migrations, from diff_reports (which sister_stores may not import)."""

    migrate: Callable[[asyncpg.Connection], Awaitable[list[int]]]
    current_version: Callable[[asyncpg.Connection], Awaitable[int]]
    latest: int


@dataclass(frozen=True)
class PreparePlan:
    production: StoreAddresses
    sister: StoreAddresses
    legacy_schema_sql: str
    readonly_role: str
    results_dsn: str
    results_key: str  # the settings key the results DSN comes from, for messages
    results: ResultsSchema
    keys: dict[str, str] = field(default_factory=dict)  # "production.postgres" -> settings key, for messages


class StoreUnreachable(RuntimeError):
    """A configured address does not lead to a working server; names the key and what was expected."""

    def __init__(self, key: str, address: str, reason: str, expected: str) -> None:
        super().__init__(f"{key} = {redact(address)}: {reason}; expected {expected}")
        self.key = key


class PrepareFailed(RuntimeError):
    """Some pieces could not be checked or made; one line each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def redact(address: str) -> str:
    """The address without its password (error messages end up in logs and CI output)."""
    try:
        parts = urlsplit(address)
        if parts.password is None:
            return address
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        return address


def _causes(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def _reason(exc: BaseException, timeout: float) -> str:
    text = " ".join(str(exc).split())
    chain = _causes(exc)  # client libraries wrap the socket error (redis: "Error 111 connecting...")
    if any(isinstance(e, (asyncio.TimeoutError, TimeoutError)) for e in chain):
        return f"no answer within {timeout:g} s"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text.lower() \
            or "connect call failed" in text.lower():
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in chain) or "name or service not known" in text.lower():
        return "host not found"
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return "password authentication failed"
    return text[:300] or type(exc).__name__


# -- probes -----------------------------------------------------------------------------------------

async def connect_postgres(dsn: str, key: str, *, missing_ok: bool = False,
                           timeout: float = CONNECT_TIMEOUT_S) -> asyncpg.Connection | None:
    """A connection to `dsn`; None when the server answers but the database does not exist
    (with `missing_ok`); StoreUnreachable for anything else."""
    try:
        return await asyncpg.connect(dsn, timeout=timeout)
    except asyncpg.InvalidCatalogNameError:
        if missing_ok:
            return None
        raise StoreUnreachable(key, dsn, f"database {database_name(dsn)!r} does not exist",
                               f"an existing database (run `{FIX}`)") from None
    except Exception as exc:  # noqa: BLE001 - any failure to connect is this one error
        raise StoreUnreachable(key, dsn, _reason(exc, timeout), "a reachable PostgreSQL server") from None


async def probe_memcached(address: str, key: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    try:
        host, _, port = address.rpartition(":")
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), int(port)), timeout)
        try:
            writer.write(b"version\r\n")
            await writer.drain()
            answer = await asyncio.wait_for(reader.readline(), timeout)
        finally:
            writer.close()
    except Exception as exc:  # noqa: BLE001
        raise StoreUnreachable(key, address, _reason(exc, timeout), "a reachable Memcached server (host:port)") from None
    if not answer.startswith(b"VERSION"):
        raise StoreUnreachable(key, address, f"answered {answer[:40]!r} to `version`", "a Memcached server")


async def probe_redis(url: str, key: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    try:
        client = aioredis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            await client.ping()
        finally:
            await client.aclose()
    except Exception as exc:  # noqa: BLE001
        raise StoreUnreachable(key, url, _reason(exc, timeout), "a reachable Redis server (redis://host:port/db)") from None


# -- what is there ----------------------------------------------------------------------------------

def _on_database(dsn: str, database: str) -> str:
    """`dsn` with another database name, its query (sslmode...) kept."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


async def create_database(dsn: str, key: str) -> None:
    """CREATE DATABASE for the database `dsn` names, through the server's `postgres` database."""
    conn = await connect_postgres(_on_database(dsn, "postgres"), key)
    assert conn is not None
    try:
        name = database_name(dsn).replace('"', '""')
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            pass  # another prepare created it meanwhile
    finally:
        await conn.close()


# -- the run ----------------------------------------------------------------------------------------

Report = Callable[[Piece], None]


class _Run:
    def __init__(self, plan: PreparePlan, check_only: bool, report: Report) -> None:
        self.plan, self.check_only, self._report = plan, check_only, report
        self.pieces: list[Piece] = []

    def key(self, store: str) -> str:
        return self.plan.keys.get(store, f"stores.{store}")

    def add(self, name: str, state: str, detail: str = "") -> None:
        piece = Piece(name, state, detail)
        self.pieces.append(piece)
        self._report(piece)


async def _reach_postgres(dsn: str, key: str) -> None:
    conn = await connect_postgres(dsn, key, missing_ok=True)
    if conn is None:  # the server answers; is its maintenance database there for CREATE DATABASE?
        conn = await connect_postgres(_on_database(dsn, "postgres"), key)
    assert conn is not None
    await conn.close()


async def _reachability(run: _Run) -> None:
    p = run.plan
    probes: dict[str, tuple[Callable[[str, str], Awaitable[None]], str]] = {
        "production.postgres": (_reach_postgres, p.production.postgres),
        "production.memcached": (probe_memcached, p.production.memcached),
        "production.redis": (probe_redis, p.production.redis),
        "sister.postgres": (_reach_postgres, p.sister.postgres),
        "sister.memcached": (probe_memcached, p.sister.memcached),
        "sister.redis": (probe_redis, p.sister.redis),
        "results": (_reach_postgres, p.results_dsn),
    }
    keys = {name: (p.results_key if name == "results" else run.key(name)) for name in probes}
    outcomes = await asyncio.gather(*(fn(address, keys[name]) for name, (fn, address) in probes.items()),
                                    return_exceptions=True)
    failed = []
    for (name, (_, address)), outcome in zip(probes.items(), outcomes):
        if isinstance(outcome, StoreUnreachable):
            failed.append(str(outcome))
        elif isinstance(outcome, BaseException):
            failed.append(f"{keys[name]} = {redact(address)}: {_reason(outcome, CONNECT_TIMEOUT_S)}")
        elif name != "results":
            run.add(f"{name} {redact(address)}", REACHABLE)
    if failed:
        raise PrepareFailed(failed)


async def _database(run: _Run, label: str, dsn: str, key: str) -> asyncpg.Connection | None:
    """A connection to the database, created first unless only checking (then None when missing)."""
    name = f"{label} database {database_name(dsn)}"
    conn = await connect_postgres(dsn, key, missing_ok=True)
    if conn is not None:
        run.add(name, PRESENT)
        return conn
    if run.check_only:
        run.add(name, MISSING)
        return None
    await create_database(dsn, key)
    run.add(name, DONE, "created")
    return await connect_postgres(dsn, key)


async def _legacy_schema(run: _Run, conn: asyncpg.Connection | None, tables: tuple[str, ...]) -> bool:
    name = "production.postgres legacy schema"
    if conn is None:
        run.add(name, MISSING, "no production database")
        return False
    missing = await missing_tables(conn, tables)
    if not missing:
        run.add(name, PRESENT, f"{len(tables)} tables")
        return True
    what = "no legacy table" if len(missing) == len(tables) else "no table " + ", ".join(missing)
    if run.check_only:
        run.add(name, MISSING, what)
        return False
    async with conn.transaction():  # CREATE ... IF NOT EXISTS: tables already there are left as they are
        await conn.execute(run.plan.legacy_schema_sql)
    still = await missing_tables(conn, tables)
    if still:
        run.add(name, FAILED, "the schema SQL ran but did not create " + ", ".join(still))
        return False
    kept = len(tables) - len(missing)
    run.add(name, DONE, f"created {len(missing)} table(s)" + (f", {kept} existing ones untouched" if kept else ""))
    return True


_OWN_ROLE = "set new_service.readonly_role to a role of its own (prepare creates it)"


async def _readonly_role(run: _Run, conn: asyncpg.Connection | None, tables: tuple[str, ...]) -> None:
    role = run.plan.readonly_role
    name = f"production.postgres read-only role {role}"
    if conn is None:
        run.add(name, MISSING, "no production database")
        return
    unsafe, lacking = await readonly_role_problems(conn, role, list(tables))
    if not unsafe and not lacking:
        run.add(name, PRESENT, "SELECT only")
        return
    exists = lacking != ["does not exist"]
    # An existing role is never demoted: it may be someone's real role, set here by mistake.
    refuse = unsafe + [x for x in lacking if x == "LOGIN" and exists]
    if refuse:
        run.add(name, FAILED, f"the role {'; '.join(refuse).replace('LOGIN', 'cannot log in')}; "
                              f"prepare takes no rights away from an existing role: {_OWN_ROLE}")
        return
    if run.check_only:
        run.add(name, MISSING, "does not exist" if not exists else "lacks " + "; ".join(lacking))
        return
    await ensure_readonly_role(run.plan.production.postgres, role)
    unsafe, lacking = await readonly_role_problems(conn, role, list(tables))
    if unsafe or lacking:
        run.add(name, FAILED, "after granting: " + "; ".join(unsafe + lacking))
        return
    run.add(name, DONE, "created, SELECT only" if not exists else "granted SELECT only")


async def _sister_schema(run: _Run, prod: asyncpg.Connection | None, prod_ready: bool,
                         sister: asyncpg.Connection | None) -> None:
    name = "sister.postgres schema"
    if sister is None:
        run.add(name, MISSING, "no sister database")
        return
    if prod is None or not prod_ready:
        run.add(name, MISSING, "mirrored from production once production has the legacy schema")
        return
    reference, mine = await structure(prod), await structure(sister)
    if mine == reference:
        run.add(name, PRESENT, f"same {len(reference.tables)} tables as production")
        return
    if mine.tables:
        run.add(name, FAILED, "differs from production: " + "; ".join(mine.differences(reference))
                + f"; prepare mirrors only into a database without tables: drop the sister database "
                  f"{database_name(run.plan.sister.postgres)} (only the rewrite writes it) and run `{FIX}` again")
        return
    if run.check_only:
        run.add(name, MISSING, "no tables (mirrored from production)")
        return
    await mirror_schema(run.plan.production.postgres, run.plan.sister.postgres)
    mine = await structure(sister)
    if mine != reference:
        run.add(name, FAILED, "mirrored, yet " + "; ".join(mine.differences(reference)))
        return
    run.add(name, DONE, f"mirrored from production, {len(reference.tables)} tables")


async def _results(run: _Run) -> None:
    plan = run.plan
    conn = await _database(run, "results", plan.results_dsn, plan.results_key)
    name = "results migrations"
    if conn is None:
        run.add(name, MISSING, "no results database")
        return
    try:
        version, latest = await plan.results.current_version(conn), plan.results.latest
        if version == latest:
            run.add(name, PRESENT, f"version {version}")
        elif version > latest:
            run.add(name, FAILED, f"the database is at version {version}, newer than this tapcompare ({latest}); "
                                  "upgrade tapcompare")
        elif run.check_only:
            run.add(name, MISSING, f"version {version}, expected {latest}")
        else:
            applied = await plan.results.migrate(conn)
            run.add(name, DONE, "applied " + ", ".join(map(str, applied)) if applied else "applied meanwhile")
    finally:
        await conn.close()


async def prepare_stores(plan: PreparePlan, *, check_only: bool = False,
                         report: Report = lambda piece: None) -> list[Piece]:
    """Check (and unless `check_only`, make) every piece; `report` sees each as it is settled.

    Raises PrepareFailed, before anything is written, when a server does not answer."""
    run = _Run(plan, check_only, report)
    tables = schema_tables(plan.legacy_schema_sql)
    await _reachability(run)
    prod = sister = None
    try:
        prod = await _step(run, f"production.postgres database {database_name(plan.production.postgres)}",
                           _database(run, "production.postgres", plan.production.postgres, run.key("production.postgres")))
        ready = await _step(run, "production.postgres legacy schema", _legacy_schema(run, prod, tables))
        await _step(run, f"production.postgres read-only role {plan.readonly_role}", _readonly_role(run, prod, tables))
        sister = await _step(run, f"sister.postgres database {database_name(plan.sister.postgres)}",
                             _database(run, "sister.postgres", plan.sister.postgres, run.key("sister.postgres")))
        await _step(run, "sister.postgres schema", _sister_schema(run, prod, bool(ready), sister))
        await _step(run, "results", _results(run))
    finally:
        for conn in (prod, sister):
            if conn is not None:
                await conn.close()
    return run.pieces


async def _step(run: _Run, name: str, work: Awaitable[T]) -> T | None:
    """Run one piece; a server-side refusal (no privilege, pg_dump failed...) marks it failed, not the run."""
    try:
        return await work
    except (asyncpg.PostgresError, asyncpg.InterfaceError, RuntimeError, OSError) as exc:
        if isinstance(exc, PrepareFailed):
            raise
        run.add(name, FAILED, _reason(exc, CONNECT_TIMEOUT_S))
        return None
