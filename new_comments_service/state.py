"""Typed keys for what the app and each request carry."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from config import Settings
from new_comments_service.backend import Backend, WriteIdentity

BACKEND = web.AppKey("backend", Backend)
SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("clock")  # AppKey's type argument takes classes only
TAPPED = web.RequestKey("tapped", bool)  # True when the request carried valid tap headers
IDENTITY = web.RequestKey("identity", WriteIdentity)  # a write's identity (set by the middleware)
API_PATH = web.RequestKey("api_path", object)  # the resolved paths.ApiPath (set by the middleware)
RAW_JSON = web.RequestKey("raw_json", bool)  # raw_json=1: script-safe escapes instead of HTML entities
READ_TIME = web.RequestKey("read_time", float)  # the server time of a read (score hiding)

__all__ = ["API_PATH", "BACKEND", "CLOCK", "IDENTITY", "RAW_JSON", "READ_TIME", "SETTINGS", "TAPPED", "WriteIdentity"]
