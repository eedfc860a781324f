"""The app factory: routes, middlewares, and the store connections opened at startup."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from aiohttp import web
from prometheus_client import CollectorRegistry

from config import Settings
from new_comments_service import read_handlers, write_handlers
from new_comments_service.backend import Backend
from new_comments_service.memcached import MemcachedPool
from new_comments_service.middleware import api_middleware
from new_comments_service.sql import Sql
from new_comments_service.state import API_PATH, BACKEND, CLOCK, SETTINGS
from sister_stores.addresses import StoreAddresses
from sister_stores.databases import close_pool, readonly_dsn
from telemetry.http import mount_observability, request_id_middleware

SERVICE = "new_service"
POOL_MIN, POOL_MAX = 1, 10


def _redis(url: str) -> aioredis.Redis:
    """A client that reconnects once a restarted server closed its pooled connections, instead of
    failing the first request after the restart."""
    return aioredis.from_url(url, retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
                             retry_on_error=[RedisConnectionError, RedisTimeoutError])


def create_app(settings: Settings, production: StoreAddresses, sister: StoreAddresses | None,
               clock: Callable[[], float] = time.time) -> web.Application:
    """tap mode: reads from `production` as the read-only role, writes to `sister` only.
    primary mode: reads and writes `production`; `sister` is not used."""
    mode = settings.new_service.mode
    if mode == "tap" and sister is None:
        raise ValueError("tap mode needs a sister store set to write to")
    registry = CollectorRegistry()
    app = web.Application(middlewares=[request_id_middleware(registry, SERVICE), api_middleware(registry)])
    mount_observability(app, registry)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app.cleanup_ctx.append(_stores(settings, production, sister))
    # Canonical paths get their own resources (metrics by route); the catch-all takes the other
    # forms r2 accepted. The middleware resolves every one of them to its endpoint.
    for name, path in (("api-info", "/api/info"), ("api-morechildren", "/api/morechildren"),
                       ("api-comment", "/api/comment"), ("api-editusertext", "/api/editusertext"),
                       ("api-vote", "/api/vote"), ("api-comments", "/comments/{link36}"), ("api-any", "/{path:.*}")):
        app.router.add_route("*", path, dispatch, name=name)
    return app


HANDLERS = {
    "info": read_handlers.info, "comments": read_handlers.comments, "morechildren": read_handlers.morechildren,
    "comment": write_handlers.create, "editusertext": write_handlers.edit, "vote": write_handlers.vote,
}


async def dispatch(request: web.Request) -> web.StreamResponse:
    return await HANDLERS[request[API_PATH].endpoint](request)  # type: ignore[attr-defined]


def _stores(settings: Settings, production: StoreAddresses, sister: StoreAddresses | None) -> Callable:
    ns = settings.new_service

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        tap = ns.mode == "tap"
        target = sister if tap and sister is not None else production
        write_pool = await asyncpg.create_pool(target.postgres, min_size=POOL_MIN, max_size=POOL_MAX)
        read_pool = write_pool
        if tap:
            read_pool = await asyncpg.create_pool(readonly_dsn(production.postgres, ns.readonly_role),
                                                  min_size=POOL_MIN, max_size=POOL_MAX)
        cache = MemcachedPool(target.memcached_host_port, ns.memcached_pool_threads)
        redis = _redis(target.redis)
        production_redis = _redis(production.redis) if tap else None
        app[BACKEND] = Backend(
            mode=ns.mode,
            read_db=Sql(read_pool, "production"),
            write_db=Sql(write_pool, "sister" if tap else "production"),
            cache=cache, redis=redis, stream=settings.stores.cdc_stream,
            tz_offset=settings.legacy.tz_offset_seconds, production_redis=production_redis,
        )
        try:
            yield
        finally:
            await redis.aclose()
            if production_redis is not None:
                await production_redis.aclose()
            cache.close()
            if read_pool is not write_pool:
                await close_pool(read_pool)
            await close_pool(write_pool)

    return ctx
