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


_INT = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII)


def lenient_int(params: Params, name: str) -> int | None:
    """r2's VInt: Python's int() of the value (spaces and a sign allowed), None when absent or
    not an integer (a bad value is ignored, never an error)."""
    raw = params.get(name)
    if raw is None or not _INT.fullmatch(raw):
        return None
    text = raw.strip()
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > 18:  # py2 made a long of it; only its sign and size matter to the clamps
        return -(10**18) if text.startswith("-") else 10**18
    return int(text)


def limit_option(params: Params, default: int, maximum: int) -> int:
    """A positive `limit` is taken, clamped to `maximum`; anything else gives the default."""
    value = lenient_int(params, "limit")
    if value is None or value <= 0:
        return default
    return min(value, maximum)


def depth_option(params: Params, maximum: int) -> int:
    """`depth` strictly between 0 and `maximum` is taken; anything else gives `maximum`."""
    value = lenient_int(params, "depth")
    return value if value is not None and 0 < value < maximum else maximum


def clamped_option(params: Params, name: str, low: int, high: int, default: int) -> int:
    value = lenient_int(params, name)
    return default if value is None else max(low, min(high, value))


def choice_option(params: Params, name: str, choices: tuple[str, ...], default: str) -> str:
    """An unknown choice falls back to the default (r2's VMenu), never an error."""
    value = params.get(name, default)
    return value if value in choices else default


def raw_json(params: Params) -> bool:
    return params.get("raw_json", "") == "1"
