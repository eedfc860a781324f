"""One store set opened for the legacy: a PostgreSQL pool, the comment cache and the CDC Redis,
plus the read paths r2 used (comments through the cache with `add` on a miss)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from legacy_adapter import things
from legacy_adapter.cache import CommentCache
from legacy_adapter.cdc import DEFAULT_STREAM
from legacy_adapter.things import Obj


@dataclass
class LegacyStores:
    pg: asyncpg.Pool
    cache: CommentCache
    redis: aioredis.Redis
    stream: str = DEFAULT_STREAM
    # Account and subreddit names never change: a process-local memo, like r2's local cache.
    _names: dict[tuple[str, int], Any] = field(default_factory=dict)

    @classmethod
    async def open(cls, postgres: str, memcached: tuple[str, int], redis_url: str,
                   stream: str = DEFAULT_STREAM, pool_size: int = 10) -> "LegacyStores":
        pg = await asyncpg.create_pool(postgres, min_size=1, max_size=pool_size)
        return cls(pg, CommentCache(memcached), aioredis.from_url(redis_url), stream)

    async def close(self) -> None:
        await self.pg.close()
        self.cache.close()
        await self.redis.aclose()

    async def comment(self, thing_id: int) -> Obj | None:
        """Cache first; on a miss load the rows and `add` (never overwriting a writer's `set`)."""
        obj = await self.cache.get(thing_id)
        if obj is not None:
            return obj
        async with self.pg.acquire() as conn:
            obj = await things.load(conn, "comment", thing_id)
        if obj is not None:
            await self.cache.add(obj)
        return obj

    async def comments(self, ids: list[int]) -> dict[int, Obj]:
        """Many comments: one cache `get_many`, then rows for the misses (each `add`ed back)."""
        found = await self.cache.get_many(ids)
        for thing_id in ids:
            if thing_id not in found:
                obj = await self.comment(thing_id)
                if obj is not None:
                    found[thing_id] = obj
        return found

    async def link(self, thing_id: int) -> Obj | None:
        async with self.pg.acquire() as conn:
            return await things.load(conn, "link", thing_id)

    async def name(self, type_name: str, thing_id: int) -> str:
        key = (type_name, thing_id)
        if key not in self._names:
            async with self.pg.acquire() as conn:
                found = await things.name_of(conn, type_name, thing_id)
            if found is None:
                return "[deleted]"  # a dangling reference renders like r2's missing account
            self._names[key] = found
        return self._names[key]

    async def hide_mins(self, sr_id: int) -> int:
        """The subreddit's `comment_score_hide_mins` (memoised like its name; 0 when unset)."""
        key = ("hide_mins", sr_id)
        if key not in self._names:
            async with self.pg.acquire() as conn:
                sr = await things.load(conn, "subreddit", sr_id)
            self._names[key] = things.get_attr("subreddit", sr, "comment_score_hide_mins") if sr else 0
        return int(self._names[key])

    def known_hide_mins(self, sr_id: int) -> int:
        return int(self._names.get(("hide_mins", sr_id), 0))

    def known_name(self, type_name: str, thing_id: int) -> str:
        """A name already resolved by `name()` (render paths preload them)."""
        return self._names.get((type_name, thing_id), "[deleted]")

    async def account_id(self, name: str) -> int | None:
        async with self.pg.acquire() as conn:
            return await things.find_by_name(conn, "account", name)
