"""Memcached as r2 used it: whole pickled objects under `comment:<id>`, `add` on read misses,
`set` by writers, and an `add`-based lock around read-modify-write updates.

pymemcache is synchronous; calls run in a small thread pool so the aiohttp loop never blocks.
"""

from __future__ import annotations

import asyncio
import pickle
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from pymemcache.client.base import PooledClient

PICKLE_FLAGS = 1
TTL_SECONDS = 43200
LOCK_TTL = 10
LOCK_RETRY_S = 0.005
LOCK_WAIT_S = 2.0
GET_MANY_CHUNK = 250  # keys per multi-get line


class LockTimeout(RuntimeError):
    """The comment's lock could not be taken within 2 s."""


def cache_key(thing_id: int) -> str:
    return f"comment:{thing_id}"


def dumps_obj(obj: dict[str, Any]) -> bytes:
    """Protocol 2; `_t` in sorted key order so a writer's object and one reloaded from the rows
    pickle to the same bytes (the pickle memo follows dict order)."""
    return pickle.dumps({**obj, "_t": dict(sorted(obj["_t"].items()))}, protocol=2)


def loads_obj(value: bytes) -> dict[str, Any]:
    return pickle.loads(value)


class _RawSerde:
    """Values are (bytes, flags) pairs both ways, so callers see and choose the flags."""

    def serialize(self, key: str, value: Any) -> tuple[bytes, int]:
        if isinstance(value, tuple):
            return value
        return value, 0

    def deserialize(self, key: str, value: bytes, flags: int) -> tuple[bytes, int]:
        return value, flags


class CommentCache:
    def __init__(self, host_port: tuple[str, int], threads: int = 8) -> None:
        self._client = PooledClient(host_port, serde=_RawSerde(), connect_timeout=2, timeout=2,
                                    max_pool_size=threads, key_prefix=b"")
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="memcache")

    async def _run(self, fn: Any, *args: Any, **kw: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kw))

    async def get_raw(self, key: str) -> tuple[bytes, int] | None:
        return await self._run(self._client.get, key)

    async def get(self, thing_id: int) -> dict[str, Any] | None:
        got = await self.get_raw(cache_key(thing_id))
        return None if got is None else loads_obj(got[0])

    async def get_many(self, thing_ids: list[int]) -> dict[int, dict[str, Any]]:
        """One round trip for a whole thread's comments; misses are simply absent."""
        out: dict[int, dict[str, Any]] = {}
        for start in range(0, len(thing_ids), GET_MANY_CHUNK):
            keys = [cache_key(i) for i in thing_ids[start:start + GET_MANY_CHUNK]]
            got = await self._run(self._client.get_many, keys)
            out.update({int(key.rpartition(":")[2]): loads_obj(value) for key, (value, _) in got.items()})
        return out

    async def add(self, obj: dict[str, Any]) -> bool:
        """Readers populate with `add`: a concurrent writer's `set` always wins."""
        return bool(await self._run(self._client.add, cache_key(obj["_id"]), (dumps_obj(obj), PICKLE_FLAGS),
                                    expire=TTL_SECONDS, noreply=False))

    async def set(self, obj: dict[str, Any]) -> None:
        await self._run(self._client.set, cache_key(obj["_id"]), (dumps_obj(obj), PICKLE_FLAGS),
                        expire=TTL_SECONDS, noreply=False)

    @asynccontextmanager
    async def lock(self, thing_id: int) -> AsyncIterator[None]:
        key = f"lock:{cache_key(thing_id)}"
        deadline = time.monotonic() + LOCK_WAIT_S
        while not await self._run(self._client.add, key, (b"1", 0), expire=LOCK_TTL, noreply=False):
            if time.monotonic() > deadline:
                raise LockTimeout(key)
            await asyncio.sleep(LOCK_RETRY_S)  # r2 polls the lock every 5 ms
        try:
            yield
        finally:
            await self._run(self._client.delete, key, noreply=False)

    def close(self) -> None:
        self._client.close()
        self._pool.shutdown(wait=False)
