"""Typed keys for what the app and each request carry."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from config import Settings
from new_comments_service.backend import Backend, WriteIdentity

BACKEND = web.AppKey("backend", Backend)
SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Callable[[], float])
TAPPED = web.RequestKey("tapped", bool)  # True when the request carried valid tap headers
IDENTITY = web.RequestKey("identity", WriteIdentity)  # a write's identity (set by the middleware)

__all__ = ["BACKEND", "CLOCK", "IDENTITY", "SETTINGS", "TAPPED", "WriteIdentity"]
