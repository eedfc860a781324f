"""GET /api/info, GET /comments/<link36>, GET /api/morechildren: straight from PostgreSQL."""

from __future__ import annotations

import asyncio

from aiohttp import web

from new_comments_service import queries
from new_comments_service.errors import ApiError
from new_comments_service.ids import from36, parse_fullname
from new_comments_service.render import Names, comment_object, link_object, listing, things_response
from new_comments_service.params import int_param, query_params, sort_param
from new_comments_service.responses import json_response
from new_comments_service.tree import Tree, more_children, thread_children
from new_comments_service.state import BACKEND

INFO_MAX = 100


def _merge(a: Names, b: Names) -> Names:
    return Names({**a.accounts, **b.accounts}, {**a.subreddits, **b.subreddits})


async def info(request: web.Request) -> web.Response:
    b = request.app[BACKEND]
    raw = query_params(request).get("id", "")
    if not raw:
        raise ApiError("NO_THING_ID", "id")
    parts = raw.split(",")
    if len(parts) > INFO_MAX:
        raise ApiError("INVALID_OPTION", "id")
    wanted = []
    for part in parts:
        fullname = parse_fullname(part)
        if fullname is None:
            raise ApiError("NO_THING_ID", "id")
        wanted.append(fullname)
    comment_ids = [f.thing_id for f in wanted if f.kind == "comment"]
    link_ids = [f.thing_id for f in wanted if f.kind == "link"]
    names = Names({}, {})
    comments, links = {}, {}
    if comment_ids:
        found, found_names = await queries.comments_by_ids(b.read_db, comment_ids)
        comments, names = {c.thing_id: c for c in found}, _merge(names, found_names)
    if link_ids:
        found, found_names = await queries.links_by_ids(b.read_db, link_ids)
        links, names = {t.thing_id: t for t in found}, _merge(names, found_names)
    children = []
    for f in wanted:  # requested order; unknown things (and accounts/subreddits) are left out
        if f.kind == "comment" and f.thing_id in comments:
            children.append(comment_object(comments[f.thing_id], names, b.tz_offset))
        elif f.kind == "link" and f.thing_id in links:
            children.append(link_object(links[f.thing_id], names, b.tz_offset))
    return json_response(listing(children))


async def comments(request: web.Request) -> web.Response:
    b = request.app[BACKEND]
    link_id = from36(request.match_info["link36"])
    params = query_params(request)
    sort = sort_param(params)
    limit = int_param(params, "limit", 200, 1, 500)
    depth = int_param(params, "depth", 10, 1, 10)
    if link_id is None:
        raise ApiError("NOT_FOUND")
    (links, link_names), (found, names) = await asyncio.gather(
        queries.links_by_ids(b.read_db, [link_id]), queries.thread(b.read_db, link_id))
    if not links:
        raise ApiError("NOT_FOUND")
    tree = Tree(link_id, found, sort)
    return json_response([
        listing([link_object(links[0], link_names, b.tz_offset)]),
        listing(thread_children(tree, names, b.tz_offset, limit, depth)),
    ])


async def morechildren(request: web.Request) -> web.Response:
    b = request.app[BACKEND]
    params = query_params(request)
    link = parse_fullname(params.get("link_id", ""))
    if link is None or link.kind != "link":
        raise ApiError("NO_THING_ID", "link_id")
    raw = params.get("children", "")
    ids = [from36(part) for part in raw.split(",")]
    if not raw or any(i is None for i in ids):
        raise ApiError("NO_THING_ID", "children")
    sort = sort_param(params)
    (links, _), (found, names) = await asyncio.gather(
        queries.links_by_ids(b.read_db, [link.thing_id]), queries.thread(b.read_db, link.thing_id))
    if not links:
        raise ApiError("NOT_FOUND", "link_id")
    tree = Tree(link.thing_id, found, sort)
    things = [comment_object(c, names, b.tz_offset) for c in more_children(tree, ids)]  # type: ignore[arg-type]
    return json_response(things_response(things))
