"""`tapcompare stores prepare` through the real console script, against real servers.

Each test gets store sets of its own on the session's servers (fresh empty databases, as `stores
up` leaves them, a read-only role and a results database of its own), configured as existing
servers (`local = false`): the path a real deployment takes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from pymemcache.client.base import Client as MemcacheClient

from legacy_adapter.schema import schema_sql
from sister_stores.addresses import StoreAddresses
from sister_stores.databases import readonly_dsn, schema_tables
from tests.support.stores import run

TAPCOMPARE = str(Path(sys.executable).parent / "tapcompare")
LEGACY_TABLES = schema_tables(schema_sql())


@dataclass
class Target:
    production: StoreAddresses
    sister: StoreAddresses
    role: str
    results_db: str
    dir: Path

    @property
    def results_dsn(self) -> str:
        return self.sister.with_database(self.results_db).postgres

    def config(self, extra: str = "", *, production: StoreAddresses | None = None,
               sister: StoreAddresses | None = None, name: str = "tapcompare.toml") -> Path:
        def store_set(label: str, a: StoreAddresses) -> str:
            return (f'[stores.{label}]\nlocal = false\npostgres = "{a.postgres}"\n'
                    f'memcached = "{a.memcached}"\nredis = "{a.redis}"\n')

        text = (store_set("production", production or self.production) + store_set("sister", sister or self.sister)
                + f'[new_service]\nreadonly_role = "{self.role}"\n[reports]\nresults_database = "{self.results_db}"\n'
                + extra)
        path = self.dir / name
        path.write_text(text)
        return path


def cli(config: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPCOMPARE_")}
    return subprocess.run([TAPCOMPARE, "--config", str(config), *args], capture_output=True, text=True,
                          env=env, cwd=config.parent, timeout=timeout)


def states(output: str) -> dict[str, str]:
    """'piece: state (detail)' lines -> {piece: state}."""
    out = {}
    for line in output.splitlines():
        name, sep, rest = line.partition(": ")
        if sep and not line.startswith(("Error", "stores ready")):
            out[name] = rest.split(" (")[0].split(";")[0]
    return out


async def _sql(dsn: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        if not args and ";" in sql:  # a script (the schema): simple query protocol
            await conn.execute(sql)
            return []
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def sql(dsn: str, statement: str, *args: object) -> list[asyncpg.Record]:
    return run(_sql(dsn, statement, *args))


async def _create_db(dsn: str) -> None:
    head, _, name = dsn.rpartition("/")
    await _sql(f"{head}/postgres", f'CREATE DATABASE "{name}"')


def _own_redis_db(addrs: StoreAddresses, db: int) -> StoreAddresses:
    head, _, _ = addrs.redis.rpartition("/")
    return replace(addrs, redis=f"{head}/{db}")


async def _flush_redis(*urls: str) -> None:
    for url in urls:
        r = aioredis.from_url(url)
        try:
            await r.flushdb()
        finally:
            await r.aclose()


@pytest.fixture
def target(local_stores, tmp_path: Path):
    """Fresh, unprepared sets: empty production and sister databases, no role, no results database."""
    _, servers = local_stores
    tag = uuid.uuid4().hex[:10]
    # A Redis db of its own per set: keys other tests leave with a TTL (a plan's lease) would
    # otherwise expire between two snapshots and read as a change this test's command made.
    t = Target(_own_redis_db(servers["production"].with_database(f"p_{tag}"), 14),
               _own_redis_db(servers["sister"].with_database(f"s_{tag}"), 15),
               f"ro_{tag}", f"r_{tag}", tmp_path)
    run(_create_db(t.production.postgres))
    run(_create_db(t.sister.postgres))
    run(_flush_redis(t.production.redis, t.sister.redis))
    yield t
    for dsn in (t.production.postgres, t.sister.postgres, t.results_dsn):
        head, _, name = dsn.rpartition("/")
        sql(f"{head}/postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    sql(servers["production"].with_database("postgres").postgres, f'DROP ROLE IF EXISTS "{t.role}"')


async def _snapshot(t: Target) -> dict[str, object]:
    """Everything a command could have written: databases, roles, tables and their rows, grants,
    cache items and Redis keys of both sets."""
    snap: dict[str, object] = {}
    for label, addrs in (("production", t.production), ("sister", t.sister)):
        server = addrs.with_database("postgres").postgres
        snap[f"{label}.databases"] = sorted(r[0] for r in await _sql(server, "SELECT datname FROM pg_database"))
        snap[f"{label}.roles"] = sorted(r[0] for r in await _sql(server, "SELECT rolname FROM pg_roles"))
    for label, dsn in (("production", t.production.postgres), ("sister", t.sister.postgres), ("results", t.results_dsn)):
        try:
            conn = await asyncpg.connect(dsn)
        except asyncpg.InvalidCatalogNameError:
            snap[f"{label}.tables"] = None
            continue
        try:
            tables = [r[0] for r in await conn.fetch(
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1")]
            snap[f"{label}.tables"] = {name: [tuple(r) for r in await conn.fetch(f'SELECT * FROM "{name}" ORDER BY 1')]
                                       for name in tables}
            snap[f"{label}.grants"] = sorted(tuple(r) for r in await conn.fetch(
                "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants "
                "WHERE table_schema = 'public'"))
        finally:
            await conn.close()
    for label, addrs in (("production", t.production), ("sister", t.sister)):
        mc = MemcacheClient(addrs.memcached_host_port)
        try:
            # items ever stored, not those held now: an item of another test expiring (the LRU
            # crawler reclaims it) is no change, any set by this command is
            snap[f"{label}.memcached_sets"] = mc.stats()[b"total_items"]
        finally:
            mc.close()
        r = aioredis.from_url(addrs.redis)
        try:
            snap[f"{label}.redis_keys"] = sorted(await r.keys("*"))
        finally:
            await r.aclose()
    return snap


def snapshot(t: Target) -> dict[str, object]:
    return run(_snapshot(t))


def assert_one_line_error(result: subprocess.CompletedProcess, *expected: str) -> str:
    """Non-zero exit, no traceback, exactly one line on stderr holding every `expected` text."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


# -- the tests ------------------------------------------------------------------------------------

def test_check_on_unprepared_stores_names_each_missing_piece_and_changes_nothing(target: Target) -> None:
    config = target.config()
    before = snapshot(target)
    result = cli(config, "stores", "prepare", "--check")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    got = states(result.stdout)
    missing = {"production.postgres legacy schema", f"production.postgres read-only role {target.role}",
               "sister.postgres schema", f"results database {target.results_db}", "results migrations"}
    assert {name for name, state in got.items() if state == "missing"} == missing
    for line in result.stdout.splitlines():
        if line.split(": ")[0] in missing:
            assert line.endswith("run `tapcompare stores prepare`"), line
    summary = result.stderr.strip()
    assert summary.count("\n") == 0 and all(name in summary for name in missing)
    assert snapshot(target) == before


def test_prepare_on_fresh_stores_then_check_passes(target: Target) -> None:
    config = target.config()
    result = cli(config, "stores", "prepare")
    assert result.returncode == 0, result.stdout + result.stderr
    got = states(result.stdout)
    for piece in ("production.postgres legacy schema", f"production.postgres read-only role {target.role}",
                  "sister.postgres schema", f"results database {target.results_db}", "results migrations"):
        assert got[piece] == "done", (piece, result.stdout)

    # What it made is real: the legacy tables, an exact mirror, a role that reads but cannot write.
    prod_tables = {r[0] for r in sql(target.production.postgres, "SELECT tablename FROM pg_tables WHERE schemaname='public'")}
    assert prod_tables == set(LEGACY_TABLES)
    columns = ("SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns "
               "WHERE table_schema = 'public' ORDER BY 1, 2")
    assert [tuple(r) for r in sql(target.sister.postgres, columns)] == [tuple(r) for r in sql(target.production.postgres, columns)]
    ro = readonly_dsn(target.production.postgres, target.role)
    assert sql(ro, "SELECT count(*) FROM reddit_thing_comment")[0][0] == 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        sql(ro, "INSERT INTO reddit_thing_comment (ups) VALUES (1)")
    assert sql(target.results_dsn, "SELECT max(version) FROM schema_migrations")[0][0] >= 2

    check = cli(config, "stores", "prepare", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert set(states(check.stdout).values()) == {"reachable", "already there"}, check.stdout


def test_prepare_twice_is_idempotent_and_keeps_existing_data(target: Target) -> None:
    # Production is a live legacy: its schema and rows exist before tapcompare ever sees it.
    sql(target.production.postgres, schema_sql())
    sql(target.production.postgres, "INSERT INTO reddit_thing_comment (thing_id, ups, downs) VALUES (42, 7, 2)")
    sql(target.production.postgres, "INSERT INTO reddit_data_comment VALUES (42, 'body', 'hello', 'str')")
    config = target.config()
    first = cli(config, "stores", "prepare")
    assert first.returncode == 0, first.stdout + first.stderr
    assert states(first.stdout)["production.postgres legacy schema"] == "already there"
    assert states(first.stdout)["sister.postgres schema"] == "done"

    # Data arrives on every side, then prepare runs again.
    sql(target.sister.postgres, "INSERT INTO reddit_thing_comment (thing_id, ups, downs) VALUES (42, 7, 2)")
    sql(target.results_dsn, "INSERT INTO results (at, path, endpoint, verdict) VALUES (now(), 'create.postgres.parity', "
                            "'create', 'match')")
    before = snapshot(target)
    second = cli(config, "stores", "prepare")
    assert second.returncode == 0, second.stdout + second.stderr
    assert set(states(second.stdout).values()) == {"reachable", "already there"}, second.stdout
    assert snapshot(target) == before
    assert [tuple(r) for r in sql(target.production.postgres, "SELECT thing_id, ups, downs FROM reddit_thing_comment")] \
        == [(42, 7, 2)]


def test_partial_production_schema_gets_only_the_missing_tables(target: Target) -> None:
    sql(target.production.postgres, "CREATE TABLE reddit_thing_comment (thing_id bigserial PRIMARY KEY, ups integer "
                                    "NOT NULL DEFAULT 0, downs integer NOT NULL DEFAULT 0, deleted boolean NOT NULL "
                                    "DEFAULT false, spam boolean NOT NULL DEFAULT false, date timestamptz NOT NULL "
                                    "DEFAULT now(), version bigint NOT NULL DEFAULT 1)")
    sql(target.production.postgres, "INSERT INTO reddit_thing_comment (thing_id, ups) VALUES (9, 3)")
    result = cli(target.config(), "stores", "prepare")
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("production.postgres legacy schema"))
    assert f"created {len(LEGACY_TABLES) - 1} table(s), 1 existing ones untouched" in line
    assert [tuple(r) for r in sql(target.production.postgres, "SELECT thing_id, ups FROM reddit_thing_comment")] == [(9, 3)]


def test_a_sister_database_with_other_tables_is_left_alone(target: Target) -> None:
    sql(target.production.postgres, schema_sql())
    sql(target.sister.postgres, "CREATE TABLE notes (id int PRIMARY KEY, text text)")
    sql(target.sister.postgres, "INSERT INTO notes VALUES (1, 'keep me')")
    result = cli(target.config(), "stores", "prepare")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("sister.postgres schema"))
    assert "failed" in line and "lacks table(s)" in line and "has other table(s) notes" in line
    assert "sister.postgres schema" in result.stderr
    tables = {r[0] for r in sql(target.sister.postgres, "SELECT tablename FROM pg_tables WHERE schemaname='public'")}
    assert tables == {"notes"}
    assert [tuple(r) for r in sql(target.sister.postgres, "SELECT * FROM notes")] == [(1, "keep me")]


def test_an_existing_role_that_can_write_is_refused_not_demoted(target: Target) -> None:
    sql(target.production.postgres, schema_sql())
    sql(target.production.postgres, f'CREATE ROLE "{target.role}" LOGIN')
    sql(target.production.postgres, f'GRANT SELECT, INSERT ON reddit_thing_comment TO "{target.role}"')
    result = cli(target.config(), "stores", "prepare")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith(f"production.postgres read-only role {target.role}"))
    assert "failed" in line and "can write reddit_thing_comment" in line and "new_service.readonly_role" in line
    rights = sql(target.production.postgres, "SELECT has_table_privilege($1, 'reddit_thing_comment', 'INSERT')", target.role)
    assert rights[0][0] is True  # prepare took nothing away


def test_results_database_that_is_production_is_refused(target: Target) -> None:
    config = target.config(f'results_dsn = "{target.production.postgres}"\n')
    before = snapshot(target)
    result = cli(config, "stores", "prepare")
    assert_one_line_error(result, "reports.results_dsn", "is the production database")
    assert snapshot(target) == before


def test_stores_up_prepares_the_local_sets(tmp_path: Path) -> None:
    config = tmp_path / "local.toml"
    config.write_text(f'[stores]\nlocal_dir = "{tmp_path / "stores"}"\n')
    try:
        up = cli(config, "stores", "up", timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "production.postgres legacy schema: done" in up.stderr
        check = cli(config, "stores", "prepare", "--check")
        assert check.returncode == 0, check.stdout + check.stderr
        # `up` again keeps the servers and reports everything as already there
        again = cli(config, "stores", "up", timeout=180)
        assert again.returncode == 0 and again.stdout == up.stdout
        assert "done" not in states(again.stderr).values()
    finally:
        down = cli(config, "stores", "down", timeout=120)
        assert down.returncode == 0, down.stdout + down.stderr


def test_a_piece_the_server_refuses_is_reported_failed_without_a_traceback(target: Target) -> None:
    """A production login without the rights prepare needs: each refused piece says why, the run goes on."""
    plain = f"plain_{target.role}"
    sql(target.production.postgres, f'CREATE ROLE "{plain}" LOGIN')
    try:
        head, _, tail = target.production.postgres.partition("tapcompare@")
        as_plain = StoreAddresses(f"{head}{plain}@{tail}", target.production.memcached, target.production.redis)
        before = snapshot(target)
        result = cli(target.config(production=as_plain), "stores", "prepare")
        assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
        got = states(result.stdout)
        assert got["production.postgres legacy schema"] == "failed"
        assert "permission denied" in next(x for x in result.stdout.splitlines() if "legacy schema" in x)
        assert "failed: production.postgres legacy schema" in result.stderr
        after = snapshot(target)
        assert after["production.tables"] == before["production.tables"] == {}
        assert after["production.roles"] == before["production.roles"]
    finally:
        sql(target.production.with_database("postgres").postgres, f'DROP ROLE IF EXISTS "{plain}"')
