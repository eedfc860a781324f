"""What every handler needs: the opened stores, the injectable clock, the timezone quirk, and
rendering helpers that resolve author and subreddit names."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from legacy_adapter.render import comment_json, link_json
from legacy_adapter.store import LegacyStores
from legacy_adapter.things import Obj, get_attr


@dataclass
class LegacyContext:
    stores: LegacyStores
    clock: Callable[[], float]
    tz_offset: int

    async def comments(self, ids: Iterable[int]) -> dict[int, Obj]:
        """Comments by id through the cache (`add` on a miss); unknown ids are absent."""
        return await self.stores.comments(list(dict.fromkeys(ids)))

    async def preload_names(self, objs: Iterable[Obj]) -> None:
        for obj in objs:
            await self.stores.name("account", get_attr("comment", obj, "author_id"))
            await self.stores.name("subreddit", get_attr("comment", obj, "sr_id"))

    def render_comment(self, obj: Obj, replies: Any = "", depth: int | None = None) -> dict[str, Any]:
        """Sync render; names must have been preloaded (or come from the memo)."""
        author = self.stores.known_name("account", get_attr("comment", obj, "author_id"))
        subreddit = self.stores.known_name("subreddit", get_attr("comment", obj, "sr_id"))
        return comment_json(obj, author, subreddit, self.tz_offset, replies, depth)

    async def render_one(self, obj: Obj) -> dict[str, Any]:
        await self.preload_names([obj])
        return self.render_comment(obj)

    async def render_link(self, obj: Obj) -> dict[str, Any]:
        author = await self.stores.name("account", get_attr("link", obj, "author_id"))
        subreddit = await self.stores.name("subreddit", get_attr("link", obj, "sr_id"))
        return link_json(obj, author, subreddit, self.tz_offset)


CTX = web.AppKey("legacy_context", LegacyContext)
