"""`/ready` for Kubernetes readiness probes, on the proxy and on `tapcompare worker`.

`/health` (telemetry.http) says the process is alive (liveness). `/ready` checks dependencies,
each with a short timeout, and answers JSON `{"status", "checks": {name: "ok" | error}}`:

- proxy: 503 until it has started. Redis (ramp state, jobs stream) is reported but does not make
  the proxy unready by default: passthrough never depends on Redis, and taking every proxy out of
  the load balancer because a shared Redis is down would take production down with it. `?strict=1`
  turns any failing check into a 503 (for a canary, or a deploy gate).
- worker: 503 when its jobs Redis or the results database is unreachable: it can do nothing then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

Check = Callable[[], Awaitable[Any]]
CHECK_TIMEOUT_S = 1.0


async def run_checks(checks: dict[str, Check]) -> dict[str, str]:
    async def one(check: Check) -> str:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await check()
            return "ok"
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:200] or type(exc).__name__

    results = await asyncio.gather(*(one(c) for c in checks.values()))
    return dict(zip(checks, results))


def proxy_ready(runtime: Any) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler for a ProxyRuntime (duck-typed: `forwarder`, `redis`, `jobs`)."""

    async def ready(request: web.Request) -> web.Response:
        if getattr(runtime, "forwarder", None) is None or runtime.redis is None:
            return web.json_response({"status": "starting", "checks": {}}, status=503)
        checks: dict[str, Check] = {"ramp_redis": runtime.redis.ping}
        if runtime.jobs is not None:
            checks["jobs_redis"] = runtime.jobs.ping
        results = await run_checks(checks)
        healthy = all(v == "ok" for v in results.values())
        strict = request.query.get("strict") in ("1", "true")
        status = 200 if healthy or not strict else 503
        return web.json_response({"status": "ready" if healthy else "degraded", "checks": results}, status=status)

    return ready


def worker_ready(checks: Callable[[], dict[str, Check]]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def ready(request: web.Request) -> web.Response:
        results = await run_checks(checks())
        healthy = bool(results) and all(v == "ok" for v in results.values())
        return web.json_response({"status": "ready" if healthy else "unready", "checks": results},
                                 status=200 if healthy else 503)

    return ready
