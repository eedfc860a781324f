"""Response helpers: the API's JSON bytes and content type."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from new_comments_service.jsonfmt import CONTENT_TYPE, api_bytes


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None,
                  raw_json: bool = False) -> web.Response:
    return web.Response(body=api_bytes(obj, raw_json), status=status,
                        headers={"Content-Type": CONTENT_TYPE, **(headers or {})})


def respond(request: web.Request, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response escaped as this request asked (raw_json)."""
    from new_comments_service.state import RAW_JSON
    return json_response(obj, status, headers, request.get(RAW_JSON, False))
