"""comment fullname -> link fullname, learned from legacy responses, for sticky keys.

The proxy sees a bare `t1_` fullname on edits, votes and replies; the thread is its sticky key.
Every legacy response that renders comments (info, comments, morechildren, create, edit) says
which link each comment belongs to. We remember that in a bounded local LRU and in Redis (shared
by every proxy instance, 30-day TTL), so every instance resolves the same comment to the same
thread. A comment never seen falls back to its own fullname as the key.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from cachetools import LRUCache

from shadow_proxy.audit import RampKeys

LINK_TTL_S = 30 * 86400
_MAX_DEPTH = 64


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
    def __init__(self, redis: aioredis.Redis | None, keys: RampKeys, size: int = 100_000) -> None:
        self._redis = redis
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
        if new and self._redis is not None:
            async with self._redis.pipeline(transaction=False) as pipe:
                for comment, link in new.items():
                    pipe.set(self._keys.link(comment), link, ex=LINK_TTL_S)
                await pipe.execute()

    async def link_of(self, comment: str) -> str | None:
        link = self._local.get(comment) if self._local is not None else None
        if link is not None:
            return link
        if self._redis is None:
            return None
        stored = await self._redis.get(self._keys.link(comment))
        if stored:
            link = stored.decode() if isinstance(stored, bytes) else stored
            self._remember(comment, link)
            return link
        return None
