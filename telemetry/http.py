"""aiohttp pieces every server mounts: /health, /metrics and a request-id middleware."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from telemetry.logs import REQUEST_ID_HEADER, bind_request_id, new_request_id
from telemetry.metrics import latency_histogram

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REGISTRY_KEY = web.AppKey("metrics_registry", CollectorRegistry)
STARTED_KEY = web.AppKey("started_at", float)
REQUEST_ID_KEY = web.RequestKey("request_id", str) if hasattr(web, "RequestKey") else "request_id"


def request_id_middleware(registry: CollectorRegistry, service: str) -> Middleware:
    """Take X-Request-Id from the caller (or mint one), bind it for logs, time the handler."""
    hist = latency_histogram(registry, f"{service}_request_seconds", f"{service} request latency", ("route", "status"))

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = request.headers.get(REQUEST_ID_HEADER) or new_request_id()
        bind_request_id(request_id)
        request[REQUEST_ID_KEY] = request_id
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
            hist.labels(route, str(status)).observe(time.perf_counter() - started)

    return middleware


async def health(request: web.Request) -> web.Response:
    started = request.app[STARTED_KEY]
    return web.json_response({"status": "ok", "uptime_s": round(time.monotonic() - started, 3)})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def mount_observability(app: web.Application, registry: CollectorRegistry) -> None:
    app[REGISTRY_KEY] = registry
    app[STARTED_KEY] = time.monotonic()
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
