"""The reviewer UI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import asyncpg
from aiohttp import web

from results.store.queries import Thresholds
from results.store.store import ResultsStore
from config.settings import RampPolicySettings
from results.advice.trail import RampTrail
from results.ui import handlers, ramp_handlers
from results.ui.auth import TOKEN_KEY, auth_middleware, login_get, login_post
from telemetry.logs import get_logger

log = get_logger("results.ui")  # the one logging set-up: telemetry/logs.py
PURGE_EVERY_S = 3600.0


def _retention(backend: handlers.Backend, days: float) -> Callable[[web.Application], AsyncIterator[None]]:
    async def purge_forever() -> None:
        while True:
            if backend.pool is not None:
                try:
                    counts = await ResultsStore(backend.pool).purge_older_than(days)
                    log.info("retention_purged", counts=counts)
                except Exception:  # keep serving; try again next hour
                    log.exception("retention_purge_failed")
            await asyncio.sleep(PURGE_EVERY_S)

    async def ctx(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(purge_forever())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


def create_app(pool: asyncpg.Pool | None, token: str, *, dsn: str | None = None,
               retention_days: float | None = None, thresholds: Thresholds = Thresholds(),
               ramp_trail: RampTrail | None = None,
               ramp_policy: RampPolicySettings = RampPolicySettings()) -> web.Application:
    """The UI over an open results-database pool (the caller owns it), or, with `pool=None` and
    `dsn`, over a results store the app opens (and migrates) on start-up and closes on clean-up.
    With `retention_days`, results older than that are purged at start-up and then hourly.
    `thresholds` decide which paths the overview marks inconclusive ([reports] inconclusive_*_pct).
    `ramp_trail` (the ramp's audit trail, from the composition root) and `ramp_policy` ([ramp.policy])
    feed the ramp pages (/ramp, /ramp/ENDPOINT) and GET /api/ramp/advice[/ENDPOINT]."""
    if len(token) < 8:
        raise ValueError("the report token must have at least 8 characters")
    if pool is None and dsn is None:
        raise ValueError("create_app needs a pool or a dsn")
    app = web.Application(middlewares=[auth_middleware])
    app[TOKEN_KEY] = token
    app[handlers.THRESHOLDS_KEY] = thresholds
    backend = handlers.Backend(pool)
    app[handlers.BACKEND_KEY] = backend
    if pool is None:
        assert dsn is not None  # checked above; a closure does not keep the narrowing
        own_dsn = dsn

        async def own_store(_: web.Application) -> AsyncIterator[None]:
            store = await ResultsStore.open(own_dsn)
            backend.pool = store.pool
            yield
            backend.pool = None
            await store.close()
        app.cleanup_ctx.append(own_store)
    if retention_days is not None:
        app.cleanup_ctx.append(_retention(backend, retention_days))
    app.router.add_get("/login", login_get)
    app.router.add_post("/login", login_post)
    app.router.add_get("/", handlers.overview)
    app.router.add_get("/groups", handlers.groups)
    app.router.add_get("/groups/{group_id}", handlers.group)
    app.router.add_post("/groups/{group_id}/{action}", handlers.group_action)
    app.router.add_get("/api/overview", handlers.api_overview)
    app.router.add_get("/api/rules", handlers.api_rules)
    ramp_handlers.mount(app, ramp_handlers.RampContext(ramp_trail, ramp_policy))
    return app
