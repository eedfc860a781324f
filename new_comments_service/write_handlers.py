"""POST /api/comment, /api/editusertext, /api/vote: validation in r2's order, then the write."""

from __future__ import annotations

from aiohttp import web

from new_comments_service import queries, writes
from new_comments_service.backend import Backend, WriteIdentity
from new_comments_service.errors import ApiError
from new_comments_service.hydration import Hydration
from new_comments_service.ids import Fullname, parse_fullname
from new_comments_service.params import form_params
from new_comments_service.render import things_response
from new_comments_service.responses import respond
from new_comments_service.state import BACKEND, IDENTITY

MAX_TEXT = 10_000
AUTH_HEADER = "X-Auth-User"
HYDRATION_HEADER = "X-Tap-Hydration"  # tap mode only: how the entity got into the sister set


async def _user(request: web.Request, b: Backend) -> tuple[int, str]:
    name = request.headers.get(AUTH_HEADER, "")
    user_id = await queries.account_id(b.read_db, name) if name else None
    if user_id is None:
        raise ApiError("USER_REQUIRED")
    return user_id, name


def _thing(params: dict[str, str], field: str, kinds: tuple[str, ...]) -> Fullname:
    fullname = parse_fullname(params.get(field, ""))
    if fullname is None or fullname.kind not in kinds:
        raise ApiError("NO_THING_ID", field)
    return fullname


def _text(params: dict[str, str]) -> str:
    text = params.get("text", "")
    if not text or text.isspace():  # whitespace alone (Unicode, as regex \s) is no text
        raise ApiError("NO_TEXT", "text")
    if too_long(text):
        raise ApiError("TOO_LONG", "text")
    return text


def too_long(text: str) -> bool:
    return len(text) > MAX_TEXT  # code points, as r2's VLength counts


def _headers(ident: WriteIdentity, hydration: Hydration | None) -> dict[str, str]:
    headers = {"X-Request-Time": ident.request_time.text}
    if hydration is not None:
        headers[HYDRATION_HEADER] = hydration.value
    return headers


async def create(request: web.Request) -> web.Response:
    b, ident = request.app[BACKEND], request[IDENTITY]
    params = await form_params(request)
    user_id, user_name = await _user(request, b)
    parent = _thing(params, "thing_id", ("link", "comment"))
    text = _text(params)
    obj, hydration = await writes.create_comment(b, ident, user_id, user_name, parent, text)
    return respond(request, things_response([obj]), headers=_headers(ident, hydration))


async def edit(request: web.Request) -> web.Response:
    b, ident = request.app[BACKEND], request[IDENTITY]
    params = await form_params(request)
    user_id, user_name = await _user(request, b)
    target = _thing(params, "thing_id", ("comment",))
    text = _text(params)
    obj, hydration = await writes.edit_comment(b, ident, user_id, user_name, target.thing_id, text)
    return respond(request, things_response([obj]), headers=_headers(ident, hydration))


async def vote(request: web.Request) -> web.Response:
    b, ident = request.app[BACKEND], request[IDENTITY]
    params = await form_params(request)
    user_id, _ = await _user(request, b)
    target = _thing(params, "id", ("comment",))
    raw_dir = params.get("dir", "")
    if raw_dir not in ("-1", "0", "1"):
        raise ApiError("INVALID_OPTION", "dir")
    hydration = await writes.vote(b, ident, user_id, target.thing_id, int(raw_dir))
    return respond(request, {}, headers=_headers(ident, hydration))
