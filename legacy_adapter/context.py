"""What every handler needs: the opened stores, the injectable clock, the timezone quirk, and
rendering helpers that resolve author and subreddit names; `Reader` adds who reads and when
(spam and score hiding depend on both)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from legacy_adapter.codec import dt_from_epoch

from legacy_adapter.render import comment_json, link_json, shown_deleted
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
            sr_id = get_attr("comment", obj, "sr_id")
            await self.stores.name("subreddit", sr_id)
            await self.stores.hide_mins(sr_id)

    def reader(self, viewer: str | None, now: float | None = None) -> "Reader":
        return Reader(self, viewer, self.clock() if now is None else now)

    async def render_link(self, obj: Obj) -> dict[str, Any]:
        author = await self.stores.name("account", get_attr("link", obj, "author_id"))
        subreddit = await self.stores.name("subreddit", get_attr("link", obj, "sr_id"))
        return link_json(obj, author, subreddit, self.tz_offset)


@dataclass
class Reader:
    """Rendering for one request: `viewer` is the X-Auth-User name (None when anonymous)."""

    ctx: LegacyContext
    viewer: str | None
    now: float

    def author(self, obj: Obj) -> str:
        return self.ctx.stores.known_name("account", get_attr("comment", obj, "author_id"))

    def is_deleted(self, obj: Obj) -> bool:
        return shown_deleted(obj, self.author(obj), self.viewer)

    def render_comment(self, obj: Obj, replies: Any = "", depth: int | None = None) -> dict[str, Any]:
        """Sync render; names must have been preloaded (or come from the memo)."""
        sr_id = get_attr("comment", obj, "sr_id")
        subreddit = self.ctx.stores.known_name("subreddit", sr_id)
        return comment_json(obj, self.author(obj), subreddit, self.ctx.tz_offset, replies, depth,
                            viewer=self.viewer, now=self.now, hide_mins=self.ctx.stores.known_hide_mins(sr_id))

    async def render_one(self, obj: Obj) -> dict[str, Any]:
        await self.ctx.preload_names([obj])
        return self.render_comment(obj)


CTX = web.AppKey("legacy_context", LegacyContext)


WHEN_KEY = web.RequestKey("legacy_request_time", datetime)


def request_time(request: web.Request) -> datetime:
    """The server time of this request, taken once from the injectable clock (X-Request-Time):
    a write stores it, a read renders time-dependent fields (score_hidden) by it."""
    if WHEN_KEY not in request:
        request[WHEN_KEY] = dt_from_epoch(request.app[CTX].clock())
    return request[WHEN_KEY]
