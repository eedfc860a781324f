"""The three reads: /api/info, /comments/<link36> (and its permalink form), /api/morechildren.

Thread reads use the CDC projection `tree:<link36>` for the structure (like r2's cached comment
tree) and load every comment through the cache, so bodies and scores are always current. When the
projection lags the stream, comments whose `comment_created` event is not applied yet are simply
not in the tree: they are missing from /comments and from morechildren until the consumer catches
up (they are visible at once in /api/info, which reads by id).

Parameters are lenient as in r2: a bad sort, limit, depth or context is ignored or clamped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from legacy_adapter.codec import MalformedName, epoch, from36, parse_fullname, to36
from legacy_adapter.consumer import read_tree
from legacy_adapter.context import CTX, Reader, request_time
from legacy_adapter.errors import ApiError
from legacy_adapter.listing import Tree, comment_listing, more_children
from legacy_adapter.paths import Route
from legacy_adapter.render import listing, things_body
from legacy_adapter.requests import (Params, choice_option, clamped_option, depth_option, fullname_param,
                                     id36_list, limit_option)
from legacy_adapter.sorts import SORTS
from legacy_adapter.things import get_attr

INFO_MAX = 100
DEFAULT_LIMIT, MAX_LIMIT, MAX_DEPTH, MAX_CONTEXT = 200, 500, 10, 8
_SPLIT = re.compile(r"[ ,]+")


def _viewer(request: web.Request) -> str | None:
    return request.headers.get("X-Auth-User") or None


async def info(request: web.Request, params: Params, route: Route) -> Any:
    """Fullnames split on commas and spaces; malformed ones are silently dropped (r2's VByName)."""
    ctx = request.app[CTX]
    parsed = []
    for name in _SPLIT.split(params.get("id", "")):
        try:
            parsed.append(parse_fullname(name))
        except MalformedName:
            continue
    if len(parsed) > INFO_MAX:
        raise ApiError("INVALID_OPTION", "id")
    reader = ctx.reader(_viewer(request), epoch(request_time(request)))
    children = []
    for type_name, thing_id in parsed:
        if type_name == "comment":
            obj = await ctx.stores.comment(thing_id)
            if obj is not None:
                children.append(await reader.render_one(obj))
        elif type_name == "link":
            link = await ctx.stores.link(thing_id)
            if link is not None:
                children.append(await ctx.render_link(link))
    return listing(children)


async def _tree(request: web.Request, link_id: int, sort: str, extra_ids: Sequence[int] = ()) -> Tree:
    ctx = request.app[CTX]
    tree = await read_tree(ctx.stores.redis, to36(link_id))
    ids = [from36(c) for kids in tree.values() for c in kids] + list(extra_ids)
    objs = await ctx.comments(ids)
    await ctx.preload_names(objs.values())
    return Tree(tree, objs, sort)


async def comments(request: web.Request, params: Params, route: Route) -> Any:
    ctx = request.app[CTX]
    sort = choice_option(params, "sort", SORTS, "confidence")
    limit = limit_option(params, DEFAULT_LIMIT, MAX_LIMIT)
    depth = depth_option(params, MAX_DEPTH)
    context = clamped_option(params, "context", 0, MAX_CONTEXT, 0)
    try:
        link_id = from36(route.link36 or "")
    except MalformedName:
        raise ApiError("NOT_FOUND", None) from None
    link = await ctx.stores.link(link_id)
    if link is None:
        raise ApiError("NOT_FOUND", None)
    subreddit = await ctx.stores.name("subreddit", get_attr("link", link, "sr_id"))
    if route.subreddit is not None and route.subreddit.lower() != subreddit.lower():
        raise ApiError("NOT_FOUND", None)  # r2: a link is only found under its own subreddit
    focus = None
    if route.comment36:
        try:
            comment = await ctx.stores.comment(from36(route.comment36))
        except MalformedName:
            comment = None  # r2's VCommentID: an unknown comment is no focus at all
        if comment is not None:
            if get_attr("comment", comment, "link_id") != link_id:
                raise ApiError("NOT_FOUND", None)
            focus = f"t1_{to36(comment['_id'])}"
    tree = await _tree(request, link_id, sort)
    reader: Reader = ctx.reader(_viewer(request), epoch(request_time(request)))
    body = comment_listing(tree, f"t3_{to36(link_id)}", limit, depth, reader.render_comment, reader.is_deleted,
                           focus, context)
    return [listing([await ctx.render_link(link)]), listing(body)]


async def morechildren(request: web.Request, params: Params, route: Route) -> Any:
    ctx = request.app[CTX]
    _, link_id = fullname_param(params, "link_id", ("link",))
    raw = params.get("children", "")
    if not raw:
        raise ApiError("NO_THING_ID", "children")
    requested = id36_list(raw, "children")
    sort = choice_option(params, "sort", SORTS, "confidence")
    if await ctx.stores.link(link_id) is None:
        raise ApiError("NOT_FOUND", "link_id")
    tree = await _tree(request, link_id, sort, requested)
    reader = ctx.reader(_viewer(request), epoch(request_time(request)))
    return things_body(more_children(tree, link_id, requested, reader.render_comment, reader.is_deleted))
