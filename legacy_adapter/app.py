"""The legacy monolith as an aiohttp app over one store set."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from config import Settings
from legacy_adapter import handlers_read, handlers_write
from legacy_adapter.cache import LockTimeout
from legacy_adapter.codec import api_body, ts6
from legacy_adapter.consumer import Consumer
from legacy_adapter.context import CTX, LegacyContext
from legacy_adapter.errors import ApiError
from legacy_adapter.paths import METHODS, WRITES, Route, resolve
from legacy_adapter.render import error_body
from legacy_adapter.requests import Params, form_params, query_params, raw_json
from legacy_adapter.store import LegacyStores
from telemetry.http import mount_observability, request_id_middleware
from telemetry.logs import get_logger
from telemetry.metrics import counter

CONTENT_TYPE = "application/json; charset=UTF-8"
log = get_logger("legacy")
ERRORS_KEY = web.AppKey("legacy_errors", Counter)


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


HANDLERS: dict[str, Callable[[web.Request, Params, Route], Awaitable[Any]]] = {
    "info": handlers_read.info, "comments": handlers_read.comments, "morechildren": handlers_read.morechildren,
    "create": handlers_write.create, "update": handlers_write.edit, "increment": handlers_write.vote,
}


async def _params(request: web.Request, route: Route) -> tuple[Params, bool]:
    """(parameters, raw_json). Reads take the query (POST morechildren: the form, then the query);
    writes take the form only. `raw_json=1` counts from either."""
    try:
        query = query_params(request)
    except ApiError:
        if route.endpoint not in WRITES:
            raise
        query = {}  # a write's query is only looked at for raw_json
    if request.method != "POST":
        return query, raw_json(query)
    form = await form_params(request)
    params = form if route.endpoint in WRITES else {**query, **form}
    return params, raw_json(query) or raw_json(form)


async def dispatch(request: web.Request) -> web.Response:
    route = resolve(request.path)
    if route is None:
        raise web.HTTPNotFound()
    if request.method not in METHODS[route.endpoint]:
        raise web.HTTPMethodNotAllowed(request.method, METHODS[route.endpoint])
    raw = raw_json(_lenient_query(request))
    try:
        # The request's server time is taken before anything else; writes store it, reads render
        # time-dependent fields (score_hidden) by it, and it goes out as X-Request-Time either way.
        handlers_write.request_time(request)
        params, raw = await _params(request, route)
        status, body = 200, await HANDLERS[route.endpoint](request, params, route)
    except ApiError as err:
        request.app[ERRORS_KEY].labels(err.code).inc()
        status, body = err.status, error_body(err.code, err.message, err.field)
    except LockTimeout:
        log.warning("lock_timeout", path=request.path)
        status, body = 503, {"json": {"errors": [["RATELIMIT", "try again in a moment", None]]}}
    headers = {"Content-Type": CONTENT_TYPE}
    headers["X-Request-Time"] = ts6(handlers_write.request_time(request))
    return web.Response(status=status, body=api_body(body, raw), headers=headers)


def _lenient_query(request: web.Request) -> Params:
    try:
        return query_params(request)
    except ApiError:
        return {}


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
    # The canonical paths get their own resources (their own latency series); every other form r2
    # accepted (trailing slash, .json, /r/<sub>/..., permalinks) reaches the catch-all.
    for path in ("/api/info", "/api/morechildren", "/api/comment", "/api/editusertext", "/api/vote",
                 "/comments/{link36}"):
        app.router.add_route("*", path, dispatch)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
