"""The three reads: /api/info, /comments/<link36>, /api/morechildren.

Thread reads use the CDC projection `tree:<link36>` for the structure (like r2's cached comment
tree) and load every comment through the cache, so bodies and scores are always current. When the
projection lags the stream, comments whose `comment_created` event is not applied yet are simply
not in the tree: they are missing from /comments and from morechildren descendants until the
consumer catches up (they are visible at once in /api/info, which reads by id).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from legacy_adapter.codec import MalformedName, from36, parse_fullname, to36
from legacy_adapter.consumer import read_tree
from legacy_adapter.context import CTX
from legacy_adapter.errors import ApiError
from legacy_adapter.listing import Tree, comment_listing, more_children
from legacy_adapter.render import listing, things_body
from legacy_adapter.requests import choice_option, fullname_param, id36_list, int_option, query_params
from legacy_adapter.sorts import SORTS

INFO_MAX = 100


async def info(request: web.Request) -> Any:
    ctx = request.app[CTX]
    params = query_params(request)
    raw = params.get("id", "")
    if not raw:
        raise ApiError("NO_THING_ID", "id")
    names = raw.split(",")
    if len(names) > INFO_MAX:
        raise ApiError("INVALID_OPTION", "id")
    try:
        parsed = [parse_fullname(n) for n in names]
    except MalformedName:
        raise ApiError("NO_THING_ID", "id") from None
    children = []
    for type_name, thing_id in parsed:
        if type_name == "comment":
            obj = await ctx.stores.comment(thing_id)
            if obj is not None:
                children.append(await ctx.render_one(obj))
        elif type_name == "link":
            link = await ctx.stores.link(thing_id)
            if link is not None:
                children.append(await ctx.render_link(link))
    return listing(children)


async def _tree(request: web.Request, link_id: int, sort: str, extra_ids: list[int] = ()) -> Tree:
    ctx = request.app[CTX]
    tree = await read_tree(ctx.stores.redis, to36(link_id))
    ids = [from36(c) for kids in tree.values() for c in kids] + list(extra_ids)
    objs = await ctx.comments(ids)
    await ctx.preload_names(objs.values())
    return Tree(tree, objs, sort)


async def comments(request: web.Request) -> Any:
    ctx = request.app[CTX]
    params = query_params(request)
    sort = choice_option(params, "sort", SORTS, "confidence")
    limit = int_option(params, "limit", 200, 1, 500)
    depth = int_option(params, "depth", 10, 1, 10)
    try:
        link_id = from36(request.match_info["link36"])
    except MalformedName:
        raise ApiError("NOT_FOUND", None) from None
    link = await ctx.stores.link(link_id)
    if link is None:
        raise ApiError("NOT_FOUND", None)
    tree = await _tree(request, link_id, sort)
    body = comment_listing(tree, f"t3_{to36(link_id)}", limit, depth, ctx.render_comment)
    return [listing([await ctx.render_link(link)]), listing(body)]


async def morechildren(request: web.Request) -> Any:
    ctx = request.app[CTX]
    params = query_params(request)
    _, link_id = fullname_param(params, "link_id", ("link",))
    raw = params.get("children", "")
    if not raw:
        raise ApiError("NO_THING_ID", "children")
    requested = id36_list(raw, "children")
    sort = choice_option(params, "sort", SORTS, "confidence")
    if await ctx.stores.link(link_id) is None:
        raise ApiError("NOT_FOUND", "link_id")
    tree = await _tree(request, link_id, sort, requested)
    return things_body(more_children(tree, link_id, requested, ctx.render_comment))
