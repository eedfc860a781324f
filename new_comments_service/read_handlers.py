"""GET /api/info, GET /comments/<link36> (and permalinks), GET|POST /api/morechildren: straight
from PostgreSQL. Options are forgiving: a bad sort, limit, depth or context falls back or is clamped."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from new_comments_service import queries
from new_comments_service.errors import ApiError
from new_comments_service.ids import from36, parse_fullname
from new_comments_service.model import Thing
from new_comments_service.params import context_param, depth_param, form_params, limit_param, query_params, sort_param
from new_comments_service.paths import ApiPath
from new_comments_service.render import (Names, Viewer, comment_object, link_object, listing, looks_deleted,
                                         things_response)
from new_comments_service.responses import respond
from new_comments_service.state import API_PATH, BACKEND, READ_TIME
from new_comments_service.tree import Tree, more_children, thread_children

INFO_MAX = 100
LIMIT_DEFAULT, LIMIT_MAX, DEPTH_MAX, CONTEXT_MAX = 200, 500, 10, 8
_ID_SEPARATORS = re.compile(r"[ ,]+")


def _merge(a: Names, b: Names) -> Names:
    return Names({**a.accounts, **b.accounts}, {**a.subreddits, **b.subreddits},
                 {**a.hide_minutes, **b.hide_minutes})


def _viewer(request: web.Request) -> Viewer:
    return Viewer(request.headers.get("X-Auth-User") or None, request[READ_TIME])


def too_many_ids(count: int) -> bool:
    return count > INFO_MAX


async def info(request: web.Request) -> web.Response:
    """Fullnames separated by commas or spaces; malformed ones are skipped without complaint."""
    b = request.app[BACKEND]
    wanted = [f for f in (parse_fullname(p) for p in _ID_SEPARATORS.split(query_params(request).get("id", ""))) if f]
    if too_many_ids(len(wanted)):
        raise ApiError("INVALID_OPTION", "id")
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
    viewer = _viewer(request)
    children = []
    for f in wanted:  # requested order; unknown things (and accounts/subreddits) are left out
        if f.kind == "comment" and f.thing_id in comments:
            children.append(comment_object(comments[f.thing_id], names, b.tz_offset, viewer=viewer))
        elif f.kind == "link" and f.thing_id in links:
            children.append(link_object(links[f.thing_id], names, b.tz_offset))
    return respond(request, listing(children))


def _renderer(names: Names, tz_offset: int, viewer: Viewer):
    def render(c: Thing, replies: object, depth: int | None) -> dict:
        return comment_object(c, names, tz_offset, replies, depth, viewer)

    def gone(c: Thing) -> bool:
        return looks_deleted(c, names, viewer)
    return render, gone


async def comments(request: web.Request) -> web.Response:
    b = request.app[BACKEND]
    where: ApiPath = request[API_PATH]  # type: ignore[assignment]
    link_id = from36(where.link36)
    params = query_params(request)
    sort = sort_param(params)
    limit = limit_param(params, LIMIT_DEFAULT, LIMIT_MAX)
    depth = depth_param(params, DEPTH_MAX)
    context = context_param(params, CONTEXT_MAX)
    if link_id is None:
        raise ApiError("NOT_FOUND")
    (links, link_names), (found, names) = await asyncio.gather(
        queries.links_by_ids(b.read_db, [link_id]), queries.thread(b.read_db, link_id))
    if not links:
        raise ApiError("NOT_FOUND")
    if where.subreddit and where.subreddit.lower() != link_names.subreddit(links[0].sr_id).lower():
        raise ApiError("NOT_FOUND")  # a thread lives under its own subreddit only
    tree = Tree(link_id, found, sort)
    focus = None
    comment_id = from36(where.comment36) if where.comment36 else None
    if comment_id is not None:
        focus = tree.by_id.get(comment_id)
        if focus is None:
            elsewhere, _ = await queries.comments_by_ids(b.read_db, [comment_id])
            if elsewhere:  # a comment of another thread: not found here
                raise ApiError("NOT_FOUND")
    render, gone = _renderer(names, b.tz_offset, _viewer(request))
    return respond(request, [
        listing([link_object(links[0], link_names, b.tz_offset)]),
        listing(thread_children(tree, render, gone, limit, depth, focus, context)),
    ])


async def morechildren(request: web.Request) -> web.Response:
    b = request.app[BACKEND]
    params = query_params(request)
    if request.method == "POST":
        params = {**params, **await form_params(request)}
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
    render, gone = _renderer(names, b.tz_offset, _viewer(request))
    return respond(request, things_response(more_children(tree, ids, render, gone)))  # type: ignore[arg-type]
