"""comment fullname -> link fullname, learned from legacy responses, for sticky keys.

The proxy sees a bare `t1_` fullname on edits, votes and replies; the thread is its sticky key.
Every legacy response that renders comments (info, comments, morechildren, create, edit) says
which link each comment belongs to. We remember that in a bounded local LRU and in Redis (shared
by every proxy instance, 30-day TTL), so every instance resolves the same comment to the same
thread. A comment never seen falls back to its own fullname as the key.

Redis calls have a deadline (`REDIS_TIMEOUT_S`) and a breaker (judge/breaker.py, dependency
`control_redis`): while it is open, only the local cache is used (a vote on a comment it does not
hold is keyed to the comment itself) and nothing is written to Redis.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from cachetools import LRUCache

from judge.breaker import Breaker
from shadow_proxy.audit import RampKeys

LINK_TTL_S = 30 * 86400
_MAX_DEPTH = 64
REDIS_TIMEOUT_S = 1.0


def links_in(body: Any) -> dict[str, str]:
    """Every `t1` object's name -> link_id found anywhere in a rendered API body."""
    found: dict[str, str] = {}
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_DEPTH:
            continue
        if isinstance(node, dict):
            data = node.get("data")
            if node.get("kind") == "t1" and isinstance(data, dict):
                name, link = data.get("name"), data.get("link_id")
                if isinstance(name, str) and isinstance(link, str) and link.startswith("t3_"):
                    found[name] = link
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))
    return found


class LinkIndex:
    def __init__(self, redis: aioredis.Redis | None, keys: RampKeys, size: int = 100_000,
                 breaker: Breaker | None = None) -> None:
        self._redis = redis
        self.breaker = breaker
        self._keys = keys
        self._local: LRUCache[str, str] | None = LRUCache(maxsize=size) if size > 0 else None

    def _remember(self, comment: str, link: str) -> bool:
        """True when this is new to the local cache."""
        if self._local is None:
            return False
        known = self._local.get(comment)
        self._local[comment] = link
        return known != link

    async def learn(self, body: Any) -> None:
        new = {c: link for c, link in links_in(body).items() if self._remember(c, link)}
        if new and self._redis is not None and self._allowed():
            redis = self._redis

            async def store() -> None:
                async with redis.pipeline(transaction=False) as pipe:
                    for comment, link in new.items():
                        pipe.set(self._keys.link(comment), link, ex=LINK_TTL_S)
                    await pipe.execute()
            await self._call(store())

    async def link_of(self, comment: str) -> str | None:
        link = self._local.get(comment) if self._local is not None else None
        if link is not None:
            return link
        if self._redis is None or not self._allowed():
            return None
        stored = await self._call(self._redis.get(self._keys.link(comment)))
        if stored:
            link = stored.decode() if isinstance(stored, bytes) else stored
            self._remember(comment, link)
            return link
        return None

    def _allowed(self) -> bool:
        return self.breaker is None or self.breaker.allow()

    async def _call(self, awaitable: Any) -> Any:
        """One Redis call within its deadline; its outcome told to the breaker, a failure raised on."""
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_S):
                result = await awaitable
        except Exception:
            if self.breaker is not None:
                self.breaker.failure()
            raise
        if self.breaker is not None:
            self.breaker.success()
        return result
