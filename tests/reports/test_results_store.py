"""The results store on a real PostgreSQL: migrations, batched writes, bounded examples and drops,
retention, and the group lifecycle (accept, fix, regress)."""

from __future__ import annotations

import time

import asyncpg
import pytest

from diff_reports.grouping import signature
from results.store import queries
from results.store.lifecycle import LifecycleError, accept_group, fix_group
from results.store.migrations import MIGRATIONS, current_version, migrate
from results.store.store import ResultsStore
from results.store.writer import ResultsWriter
from diff_reports.types import VerdictKind
from tests.reports.factories import body_mismatch, simple, ttl_mismatch


async def test_migrations_are_versioned_and_idempotent(results_store: ResultsStore) -> None:
    async with results_store.pool.acquire() as conn:
        assert await current_version(conn) == MIGRATIONS[-1][0]
        assert await migrate(conn) == []
        names = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [(r["version"], r["name"]) for r in names] == [(v, n) for v, n, _ in MIGRATIONS]


async def test_writer_batches_counts_every_verdict_and_bounds_examples(results_store: ResultsStore) -> None:
    writer = ResultsWriter(results_store, version="1.0.0", batch_size=50, flush_interval_s=0.05)
    writer.start()
    for i in range(120):
        assert writer.submit(simple("create.postgres.parity", VerdictKind.MATCH, f"m{i}"))
    for i in range(10):
        writer.submit(body_mismatch(f"b{i}", index=i))
    writer.submit(simple("create.redis_cdc.parity", VerdictKind.RACED, "r1", reason="concurrent vote"))
    await writer.drain()
    await writer.close()
    assert writer.stats.written == 131 and writer.stats.dropped == 0 and writer.stats.batches >= 3

    view = await queries.overview(results_store.pool, queries.Filters())
    rows = {r["path"]: r for r in view["paths"]}
    assert len(view["paths"]) == 24  # 18 write paths + 3 write + 3 read response paths
    assert rows["create.postgres.parity"]["counts"]["match"] == 120
    assert rows["create.postgres.parity"]["match_rate"] == 1.0
    assert rows["update.postgres.parity"]["counts"]["mismatch"] == 10
    assert rows["update.postgres.parity"]["groups"]["open"] == 1
    assert rows["create.redis_cdc.parity"]["counts"]["raced"] == 1

    gid = signature(body_mismatch("x")).fingerprint
    group = await queries.get_group(results_store.pool, gid)
    assert group["occurrences"] == 10 and group["last_version"] == "1.0.0"
    assert group["example_request_ids"] == ["b0", "b1", "b2"]  # bounded: examples_per_group=3
    assert len(await queries.group_examples(results_store.pool, gid)) == 3
    async with results_store.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM examples") == 4  # matches keep no example


async def test_submit_never_waits_and_counts_drops(results_store: ResultsStore) -> None:
    writer = ResultsWriter(results_store, batch_size=10, max_pending=20, flush_interval_s=10)
    results = [writer.submit(simple("info", VerdictKind.MATCH, f"r{i}")) for i in range(25)]  # not started
    assert results.count(False) == 5 and writer.stats.dropped == 5 and writer.pending == 20
    await writer.close()
    assert writer.stats.written == 20
    assert writer.submit(simple("info", VerdictKind.MATCH, "late")) is False  # closed: dropped, counted


async def test_a_failing_batch_is_counted_not_raised(results_store: ResultsStore) -> None:
    class Broken:
        async def write_batch(self, items):
            raise asyncpg.PostgresError("boom")

    writer = ResultsWriter(Broken(), batch_size=2, flush_interval_s=0.01)
    writer.start()
    for i in range(3):
        writer.submit(simple("info", VerdictKind.MATCH, f"r{i}"))
    await writer.drain()
    await writer.close()
    assert writer.stats.failed == 3 and writer.stats.written == 0


async def test_fixed_then_seen_again_is_regressed(results_store: ResultsStore) -> None:
    pool = results_store.pool
    await results_store.write_batch([(ttl_mismatch("t1"), "1.2.0")])
    gid = signature(ttl_mismatch("x")).fingerprint
    with pytest.raises(LifecycleError, match="seen on version 1.2.0"):
        await fix_group(pool, gid, version="1.1.0", by="ana")
    await fix_group(pool, gid, version="1.3.0", by="ana")
    assert (await queries.get_group(pool, gid))["status"] == "fixed"
    # the old version still in flight does not regress it
    await results_store.write_batch([(ttl_mismatch("t2"), "1.2.9")])
    assert (await queries.get_group(pool, gid))["status"] == "fixed"
    await results_store.write_batch([(ttl_mismatch("t3"), "1.10.0")])
    group = await queries.get_group(pool, gid)
    assert group["status"] == "regressed" and group["regressed_version"] == "1.10.0"
    page, total = await queries.list_groups(pool, queries.Filters(status="regressed"))
    assert total == 1 and page[0]["id"] == gid
    newest = (await queries.group_examples(pool, gid))[0]
    assert newest["version"] == "1.10.0" and newest["request_id"] == "t3"  # beyond the bound: a new version
    actions = [e["action"] for e in await queries.group_events(pool, gid)]
    assert actions == ["fixed", "regressed"]


async def test_accepted_groups_become_rules(results_store: ResultsStore) -> None:
    await results_store.write_batch([(body_mismatch("b1"), None)])
    gid = signature(body_mismatch("x")).fingerprint
    with pytest.raises(LifecycleError):
        await accept_group(results_store.pool, gid, reason=" ", by="ana")
    name = await accept_group(results_store.pool, gid, reason="legacy float jitter", by="ana")
    assert await queries.accepted_rules(results_store.pool) == [{
        "name": name, "paths": ["data.children[*].score", "data.editted"],
        "applies_to": ["update.postgres.parity"], "reason": "legacy float jitter"}]


async def test_retention_drops_old_results_keeps_rules(results_store: ResultsStore) -> None:
    old = time.time() - 40 * 86400
    await results_store.write_batch([(body_mismatch("old", at=old), None), (ttl_mismatch("old2", at=old), None),
                                     (simple("info", VerdictKind.MATCH, "new"), None)])
    await accept_group(results_store.pool, signature(ttl_mismatch("x")).fingerprint, reason="ttl", by="ana")
    purged = await results_store.purge_older_than(30)
    assert purged == {"results": 2, "examples": 2, "groups": 1}
    remaining = await queries.all_groups(results_store.pool)
    assert [g["status"] for g in remaining] == ["accepted"]


async def test_awkward_values_are_stored(results_store: ResultsStore) -> None:
    from diff_reports.types import Difference, VerdictRecord

    rec = VerdictRecord(path="create.memcached.parity", verdict=VerdictKind.MISMATCH, request_id="w1",
                        legacy_value={"blob": "a\x00b", "big": 2**70, 3: b"\x80bytes"}, new_value={"blob": "ab"},
                        differences=(Difference("blob", "changed", "a\x00b", "ab"),))
    await results_store.write_batch([(rec, None)])
    [example] = await queries.group_examples(results_store.pool, signature(rec).fingerprint)
    assert example["record"]["legacy_value"]["blob"] == "a\ufffdb"
    assert example["record"]["legacy_value"]["big"] == 2**70
