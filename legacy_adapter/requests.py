"""Request parsing shared by the handlers: strict UTF-8 query and form decoding, parameters."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from aiohttp import web

from legacy_adapter.codec import MalformedName, from36, parse_fullname
from legacy_adapter.errors import ApiError

Params = dict[str, str]


def _decode_pairs(raw: bytes) -> Params:
    """x-www-form-urlencoded to str pairs; percent-escapes must decode as strict UTF-8
    (urllib's parse_qsl would replace bad bytes with U+FFFD instead of refusing them)."""
    out: Params = {}
    for part in raw.split(b"&"):
        if not part:
            continue
        key, _, value = part.partition(b"=")
        try:
            k = unquote_to_bytes(key.replace(b"+", b" ")).decode("utf-8")
            v = unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError("BAD_ENCODING", None) from None
        out.setdefault(k, v)  # the first occurrence of a repeated parameter wins
    return out


def query_params(request: web.Request) -> Params:
    """Parse the query from the raw request line (aiohttp's own decoding would hide bad UTF-8)."""
    raw = request.raw_path.partition("?")[2]
    return _decode_pairs(raw.encode("utf-8", "surrogateescape"))


async def form_params(request: web.Request) -> Params:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError("TOO_LONG", "text") from None  # no body over client_max_size holds a valid text
    except web.RequestPayloadError:  # e.g. a Content-Encoding the body does not match: undecodable
        raise ApiError("BAD_ENCODING", None) from None
    return _decode_pairs(raw)


def fullname_param(params: Params, name: str, allowed: tuple[str, ...]) -> tuple[str, int]:
    """A required fullname of one of the `allowed` types, else NO_THING_ID on that field."""
    try:
        type_name, thing_id = parse_fullname(params.get(name, ""))
    except MalformedName:
        raise ApiError("NO_THING_ID", name) from None
    if type_name not in allowed:
        raise ApiError("NO_THING_ID", name)
    return type_name, thing_id


def id36_list(raw: str, field: str) -> list[int]:
    try:
        return [from36(part) for part in raw.split(",")]
    except MalformedName:
        raise ApiError("NO_THING_ID", field) from None


def int_option(params: Params, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"-?[0-9]{1,9}", raw):
        raise ApiError("INVALID_OPTION", name)
    value = int(raw)
    if not low <= value <= high:
        raise ApiError("INVALID_OPTION", name)
    return value


def choice_option(params: Params, name: str, choices: tuple[str, ...], default: str) -> str:
    value = params.get(name, default)
    if value not in choices:
        raise ApiError("INVALID_OPTION", name)
    return value
