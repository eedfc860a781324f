"""From Settings to a runnable proxy: addresses, the control-plane Redis, the default parts."""

from __future__ import annotations

import importlib

from aiohttp import web

from config import Settings
from shadow_proxy.app import create_app
from shadow_proxy.protocols import Comparator, VerdictSink, WriteValidator
from sister_stores.resolve import resolve_store_sets


class WiringError(RuntimeError):
    """A part the proxy needs is missing; the message says which and what to do."""


def ramp_redis_url(settings: Settings) -> str:
    """`proxy.ramp_redis`, else the sister set's Redis (resolved through the prod-vs-sister guard)."""
    if settings.proxy.ramp_redis:
        return settings.proxy.ramp_redis
    _, sister = resolve_store_sets(settings)
    return sister.redis


def default_comparator(settings: Settings) -> Comparator:
    """The comparison core configured from `[compare]` (rules, normalisation, learned noise)."""
    try:
        configure = importlib.import_module("diff_reports.configure")
    except ImportError as exc:
        raise WiringError(f"diff_reports.configure is not available ({exc}); the proxy needs a comparator") from None
    return configure.comparator_from_settings(settings)


def build_app(settings: Settings, *, comparator: Comparator | None = None, sink: VerdictSink | None = None,
              validator: WriteValidator | None = None) -> web.Application:
    legacy, new = settings.legacy, settings.new_service
    return create_app(
        settings.proxy,
        legacy_url=f"http://{legacy.host}:{legacy.port}",
        new_url=f"http://{new.host}:{new.port}",
        tap_secret=new.tap_secret,
        ramp_redis_url=ramp_redis_url(settings),
        comparator=comparator or default_comparator(settings),
        sink=sink,
        validator=validator,
    )
