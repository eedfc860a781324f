"""The CDC consumer: projections per spec, idempotent under redelivery, recovers its pending
entries after a restart, and rebuilds the same projections from the stream in any Redis."""

from __future__ import annotations

import asyncio
import json

import redis.asyncio as aioredis

from legacy_adapter.cdc import decode_entry
from legacy_adapter.consumer import GROUP, Consumer, apply
from legacy_adapter.readers import apply_all, read_projection
from legacy_adapter.sorts import confidence
from tests.contract.stores_state import redis_state
from tests.legacy.test_write_effects import create
from tests.support.waiting import eventually


def scratch(addresses, db: int) -> aioredis.Redis:
    return aioredis.from_url(addresses.redis.rpartition("/")[0] + f"/{db}")


async def projections(r: aioredis.Redis) -> dict:
    """Every projection key (the stream and group state excluded)."""
    state = {}
    for key in sorted(await r.keys("*")):
        k = key.decode()
        if k.startswith("tree:"):
            state[k] = await r.hgetall(key)
        elif k.startswith("score:"):
            state[k] = await r.zrange(key, 0, -1, withscores=True)
        elif k.startswith("applied:"):
            state[k] = await r.get(key)
    return state


async def test_projection_shapes(legacy) -> None:
    parent = await create(legacy, "p")
    from legacy_adapter.codec import to36
    child = await create(legacy, "c", user="bob", parent="t1_" + to36(parent))
    await legacy.client.vote("t1_" + to36(child), "-1", "carol")
    assert await legacy.drain() == 3
    r = legacy.st.redis
    tree = json.loads(await r.hget("tree:haucpf", "t1_" + to36(parent)))
    assert tree == [to36(child)]
    top_level = json.loads(await r.hget("tree:haucpf", "t3_haucpf"))
    assert top_level[-1] == to36(parent) and len(top_level) == 17  # 16 seeded top-level + the new one
    assert await r.zscore("score:haucpf:top", to36(child)) == 0.0
    assert await r.zscore("score:haucpf:confidence", to36(child)) == confidence(1, 1)
    assert await r.zscore("score:haucpf:controversial", to36(child)) == 2.0
    assert await r.get("applied:t1_" + to36(child)) == b"2"


async def test_redelivery_and_old_versions_are_no_ops(legacy) -> None:
    from legacy_adapter.codec import to36
    cid = await create(legacy)
    await legacy.client.vote("t1_" + to36(cid), "1", "bob")
    await legacy.drain()
    before = await projections(legacy.st.redis)
    entries = await legacy.st.redis.xrange("comments:cdc")
    events = [decode_entry(i, f) for i, f in entries]
    # Redeliver the whole stream, newest first and twice: nothing changes, nothing is applied.
    for event in list(reversed(events)) * 2:
        assert await apply(legacy.st.redis, event) is False
    assert await projections(legacy.st.redis) == before
    tree_ids = json.loads(await legacy.st.redis.hget("tree:haucpf", "t3_haucpf"))
    assert len(tree_ids) == len(set(tree_ids))


async def test_pending_entries_are_recovered_after_a_restart(legacy) -> None:
    from legacy_adapter.codec import to36
    r = legacy.st.redis
    first = Consumer(r, name="worker-a")
    await first.drain()  # the seed's events
    cid = await create(legacy, "x")
    await legacy.client.vote("t1_" + to36(cid), "-1", "bob")
    # The worker reads both entries and "crashes" before applying or acking them.
    got = await r.xreadgroup(GROUP, "worker-a", {"comments:cdc": ">"}, count=10)
    assert len(got[0][1]) == 2
    assert await r.get("applied:t1_" + to36(cid)) is None
    pending = await r.xpending(first.stream, GROUP)
    assert pending["pending"] == 2
    # Restarted under the same name, it applies its pending entries before anything new.
    restarted = Consumer(r, name="worker-a", block_ms=20)
    task = asyncio.create_task(restarted.run())
    try:
        await wait_for(lambda: r.get("applied:t1_" + to36(cid)), b"2")
    finally:
        restarted.stop()
        await task
    assert (await r.xpending(first.stream, GROUP))["pending"] == 0
    assert restarted.applied == 2


async def test_rebuild_into_a_scratch_redis_equals_the_live_projection(legacy) -> None:
    from legacy_adapter.codec import to36
    cid = await create(legacy, "x")
    await create(legacy, "y", user="bob", parent="t1_" + to36(cid))
    await legacy.client.vote("t1_" + to36(cid), "-1", "carol")
    await legacy.drain()
    other = scratch(legacy.addresses, 5)
    try:
        await other.flushdb()
        entries = await legacy.st.redis.xrange("comments:cdc")
        applied, skipped = await apply_all(other, entries)
        assert (applied, skipped) == (len(entries), 0)
        assert await projections(other) == await projections(legacy.st.redis)
        names = [f"t1_{to36(cid)}"]
        assert await read_projection(other, "haucpf", names) == await read_projection(legacy.st.redis, "haucpf", names)
        assert (await apply_all(other, entries)) == (0, len(entries))  # a second pass is a no-op
    finally:
        await other.flushdb()
        await other.aclose()


async def test_bad_entries_are_counted_and_acked(legacy) -> None:
    r = legacy.st.redis
    consumer = Consumer(r, name="w")
    await consumer.drain()
    await r.xadd("comments:cdc", {"type": "comment_created", "fullname": "t1_1"})
    await consumer.drain()
    assert consumer.bad == 1 and (await r.xpending("comments:cdc", GROUP))["pending"] == 0
    assert "tree:haucpf" in (await redis_state(legacy.addresses))


async def wait_for(probe, expected, timeout: float = 5.0) -> None:
    await eventually(probe, lambda got: got == expected, timeout=timeout, what=repr(expected))
