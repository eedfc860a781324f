"""The legacy monolith as an aiohttp app over one store set."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry

from config import Settings
from legacy_adapter import handlers_read, handlers_write
from legacy_adapter.cache import LockTimeout
from legacy_adapter.codec import r2_dumps, ts6
from legacy_adapter.consumer import Consumer
from legacy_adapter.context import CTX, LegacyContext
from legacy_adapter.errors import ApiError
from legacy_adapter.render import error_body
from legacy_adapter.store import LegacyStores
from telemetry.http import mount_observability, request_id_middleware
from telemetry.logs import get_logger
from telemetry.metrics import counter

CONTENT_TYPE = "application/json; charset=UTF-8"
log = get_logger("legacy")
ERRORS_KEY = web.AppKey("legacy_errors", Any)


class StoreSet(Protocol):
    """Anything with the three addresses (sister_stores.StoreAddresses fits)."""

    @property
    def postgres(self) -> str: ...
    @property
    def memcached(self) -> str: ...
    @property
    def redis(self) -> str: ...


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=r2_dumps(body), headers={"Content-Type": CONTENT_TYPE, **(headers or {})})


def _endpoint(fn: Callable[[web.Request], Awaitable[Any]], write: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        try:
            status, body = 200, await fn(request)
        except ApiError as err:
            request.app[ERRORS_KEY].labels(err.code).inc()
            status, body = err.status, error_body(err.code, err.message, err.field)
        except LockTimeout:
            log.warning("lock_timeout", path=request.path)
            status, body = 503, {"json": {"errors": [["RATELIMIT", "try again in a moment", None]]}}
        headers = {}
        if write:
            headers["X-Request-Time"] = ts6(handlers_write.request_time(request))
        return _json(status, body, headers)
    return handler



def create_app(stores: StoreSet, settings: Settings | None = None, clock: Callable[[], float] = time.time,
               consume: bool = False) -> web.Application:
    """The legacy over one store set. `clock` is the server time (tests control the edit window);
    `consume=True` also runs the CDC consumer in-process (production runs `legacy consume`)."""
    settings = settings or Settings()
    registry = CollectorRegistry()
    app = web.Application(middlewares=[request_id_middleware(registry, "legacy")])
    mount_observability(app, registry)
    app[ERRORS_KEY] = counter(registry, "legacy_api_errors_total", "API errors by code", ("code",))

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        opened = await LegacyStores.open(stores.postgres, _host_port(stores.memcached), stores.redis,
                                         settings.stores.cdc_stream)
        app[CTX] = LegacyContext(opened, clock, settings.legacy.tz_offset_seconds)
        consumer = Consumer(opened.redis, settings.stores.cdc_stream) if consume else None
        task = asyncio.create_task(consumer.run()) if consumer else None
        try:
            yield
        finally:
            if consumer and task:
                consumer.stop()
                await task
            await opened.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/api/info", _endpoint(handlers_read.info, False))
    app.router.add_get("/comments/{link36}", _endpoint(handlers_read.comments, False))
    app.router.add_get("/api/morechildren", _endpoint(handlers_read.morechildren, False))
    app.router.add_post("/api/comment", _endpoint(handlers_write.create, True))
    app.router.add_post("/api/editusertext", _endpoint(handlers_write.edit, True))
    app.router.add_post("/api/vote", _endpoint(handlers_write.vote, True))
    return app
