"""The three writes: /api/comment (create), /api/editusertext (update), /api/vote (increment).

Validation order (it decides which error a doubly-bad request gets): encoding, user, thing id,
text / dir, then existence, deleted and authorship inside the model.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from legacy_adapter import model
from legacy_adapter.codec import epoch
from legacy_adapter.context import CTX, LegacyContext, request_time
from legacy_adapter.errors import ApiError
from legacy_adapter.paths import Route
from legacy_adapter.requests import Params, fullname_param
from legacy_adapter.render import things_body

MAX_TEXT = 10000
_BLANK = re.compile(r"\s*")


async def _user(ctx: LegacyContext, request: web.Request) -> int:
    name = request.headers.get("X-Auth-User", "")
    try:
        storable = bool(name) and "\x00" not in name and bool(name.encode("utf-8"))
    except UnicodeEncodeError:  # undecodable header bytes arrive as lone surrogates
        storable = False
    account = await ctx.stores.account_id(name) if storable else None
    if account is None:
        raise ApiError("USER_REQUIRED", None)
    return account


def _text(params: Params) -> str:
    text = params.get("text", "")
    if _BLANK.fullmatch(text):  # r2's VLength: empty or whitespace only (Unicode \s) is no text
        raise ApiError("NO_TEXT", "text")
    if "\x00" in text:  # valid UTF-8, but PostgreSQL text cannot hold NUL: refused as an encoding error
        raise ApiError("BAD_ENCODING", None)
    if len(text) > MAX_TEXT:  # code points, so an emoji counts once
        raise ApiError("TOO_LONG", "text")
    return text


def _request_id(request: web.Request) -> str:
    return request.headers.get("X-Request-Id", "")


async def create(request: web.Request, params: Params, route: Route) -> Any:
    ctx = request.app[CTX]
    when = request_time(request)
    author = await _user(ctx, request)
    parent = fullname_param(params, "thing_id", ("link", "comment"))
    text = _text(params)
    written = await model.create_comment(ctx.stores, author, parent, text, when, _request_id(request))
    return things_body([await ctx.reader(request.headers.get("X-Auth-User"), epoch(when)).render_one(written.obj)])


async def edit(request: web.Request, params: Params, route: Route) -> Any:
    ctx = request.app[CTX]
    when = request_time(request)
    account = await _user(ctx, request)
    _, comment_id = fullname_param(params, "thing_id", ("comment",))
    text = _text(params)
    written = await model.edit_comment(ctx.stores, comment_id, account, text, when, _request_id(request))
    return things_body([await ctx.reader(request.headers.get("X-Auth-User"), epoch(when)).render_one(written.obj)])


async def vote(request: web.Request, params: Params, route: Route) -> Any:
    ctx = request.app[CTX]
    when = request_time(request)
    account = await _user(ctx, request)
    _, comment_id = fullname_param(params, "id", ("comment",))
    raw_dir = params.get("dir")
    if raw_dir not in ("-1", "0", "1"):
        raise ApiError("INVALID_OPTION", "dir")
    await model.vote(ctx.stores, comment_id, account, int(raw_dir), when, _request_id(request))
    return {}

