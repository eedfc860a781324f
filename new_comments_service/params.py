"""Request parameters, decoded strictly as UTF-8 (invalid bytes or NUL are BAD_ENCODING, never replaced)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from new_comments_service.errors import ApiError
from new_comments_service.sorts import SORTS


def _parse(raw: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise ApiError("BAD_ENCODING") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        # PostgreSQL text cannot hold NUL: the contract treats it as an encoding error, up front.
        if "\x00" in key or "\x00" in value:
            raise ApiError("BAD_ENCODING")
        out.setdefault(key, value)  # the first occurrence wins
    return out


def query_params(request: web.Request) -> dict[str, str]:
    return _parse(request.rel_url.raw_query_string)


async def form_params(request: web.Request) -> dict[str, str]:
    try:
        body = await request.read()
    except web.RequestPayloadError:  # e.g. a Content-Encoding the body does not match: undecodable
        raise ApiError("BAD_ENCODING") from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError("BAD_ENCODING") from None
    form = _parse(text)
    if wants_raw_json(form):
        from new_comments_service.state import RAW_JSON
        request[RAW_JSON] = True
    return form


def sort_param(params: dict[str, str]) -> str:
    """An unknown sort is not an error: the default (confidence) is used."""
    sort = params.get("sort", "")
    return sort if sort in SORTS else "confidence"


def _int_or_none(raw: str | None) -> int | None:
    """Python-2-int() semantics: optional spaces and sign around ASCII digits; anything else None."""
    if raw is None:
        return None
    text = raw.strip(" \t\n\r\x0b\x0c")
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    significant = body.lstrip("0")
    if len(significant) > 18:  # far beyond any clamp: keep the sign only
        return -(10**18) if text.startswith("-") else 10**18
    return int(text)


def limit_param(params: dict[str, str], default: int, maximum: int) -> int:
    value = _int_or_none(params.get("limit"))
    return default if value is None or value <= 0 else min(value, maximum)


def depth_param(params: dict[str, str], maximum: int) -> int:
    value = _int_or_none(params.get("depth"))
    return value if value is not None and 0 < value < maximum else maximum


def context_param(params: dict[str, str], maximum: int) -> int:
    value = _int_or_none(params.get("context"))
    return 0 if value is None else max(0, min(maximum, value))


def wants_raw_json(params: dict[str, str]) -> bool:
    return params.get("raw_json") == "1"
