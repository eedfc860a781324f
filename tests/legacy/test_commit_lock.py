"""r2's MemcacheLock as the legacy takes it: `commit_<fullname>`, a nonce per holder, 30 s expiry,
and a release that never deletes a lock someone else holds now."""

from __future__ import annotations

import asyncio

from legacy_adapter.cache import LOCK_TTL, lock_key


async def test_lock_key_nonce_and_release(legacy) -> None:
    cache = legacy.st.cache
    key = lock_key("t1_abc")
    assert key == "commit_t1_abc" and LOCK_TTL == 30
    async with cache.lock("t1_abc"):
        held = await cache.get_raw(key)
        assert held is not None and held[1] == 0 and len(held[0]) > 8  # a nonce, not a bare flag
    assert await cache.get_raw(key) is None  # released

    async with cache.lock("t1_abc"):
        # our lock expired and another process took it: its lock must survive our release
        await cache._run(cache._client.set, key, (b"someone-else", 0), expire=30, noreply=False)
    assert (await cache.get_raw(key))[0] == b"someone-else"


async def test_two_holders_never_overlap(legacy) -> None:
    cache = legacy.st.cache
    inside, overlaps = 0, 0

    async def hold() -> None:
        nonlocal inside, overlaps
        async with cache.lock("t1_hot"):
            inside += 1
            overlaps += inside > 1
            await asyncio.sleep(0.01)
            inside -= 1
    await asyncio.wait_for(asyncio.gather(*(hold() for _ in range(4))), timeout=20)
    assert overlaps == 0
