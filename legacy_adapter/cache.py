"""Memcached as r2 used it: whole pickled objects under `comment:<id>`, `add` on read misses,
`set` by writers, and an `add`-based lock around read-modify-write updates.

pymemcache is synchronous; calls run in a small thread pool so the aiohttp loop never blocks.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from pymemcache.client.base import PooledClient

PICKLE_FLAGS = 1
TTL_SECONDS = 43200
LOCK_TTL = 30          # r2's MemcacheLock: the lock key expires after 30 s
LOCK_WAIT_S = 30.0    # ... and a waiter gives up after 30 s
LOCK_BACKOFF_S = (0.1, 1.0)  # ... sleeping a random 0.1-1 s between attempts
GET_MANY_CHUNK = 250  # keys per multi-get line


class LockTimeout(RuntimeError):
    """The thing's lock could not be taken within 30 s."""


def lock_key(fullname: str) -> str:
    """r2's read-modify-write lock of a thing: `commit_<fullname>`."""
    return f"commit_{fullname}"


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
    async def lock(self, fullname: str) -> AsyncIterator[None]:
        """r2's MemcacheLock: `add` the key with a nonce of this holder (30 s expiry); when taken,
        sleep a random 0.1-1 s and try again, for up to 30 s; release with `delete` only if the key
        still holds our nonce (an expired lock now held by someone else is left alone)."""
        key = lock_key(fullname)
        nonce = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}".encode()
        start = time.monotonic()
        while not await self._run(self._client.add, key, (nonce, 0), expire=LOCK_TTL, noreply=False):
            if time.monotonic() - start > LOCK_WAIT_S:
                raise LockTimeout(key)
            await asyncio.sleep(random.uniform(*LOCK_BACKOFF_S))
        try:
            yield
        finally:
            held = await self._run(self._client.get, key)
            if held is not None and held[0] == nonce:
                await self._run(self._client.delete, key, noreply=False)

    def close(self) -> None:
        self._client.close()
        self._pool.shutdown(wait=False)
