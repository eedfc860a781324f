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
    return _parse(text)


def sort_param(params: dict[str, str]) -> str:
    sort = params.get("sort") or "confidence"
    if sort not in SORTS:
        raise ApiError("INVALID_OPTION", "sort")
    return sort


def int_param(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.lstrip("-").isdigit():
        raise ApiError("INVALID_OPTION", name)
    value = int(raw)
    if not low <= value <= high:
        raise ApiError("INVALID_OPTION", name)
    return value
