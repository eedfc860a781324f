"""Every server we run mounts /health, /metrics and binds the request id for its logs."""

from __future__ import annotations

import json

import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from telemetry.http import mount_observability, request_id_middleware
from telemetry.logs import configure_logging, get_logger


async def test_health_metrics_and_request_id(capsys) -> None:
    registry = CollectorRegistry()
    app = web.Application(middlewares=[request_id_middleware(registry, "probe")])
    mount_observability(app, registry)

    async def hello(request: web.Request) -> web.Response:
        get_logger("probe").info("hello")
        return web.Response(text="hi")

    app.router.add_get("/hello", hello)
    configure_logging("INFO")  # the real set-up: JSON lines on stderr (whatever other tests configured)
    try:
        async with TestClient(TestServer(app)) as client:
            resp = await client.get("/hello", headers={"X-Request-Id": "req-123"})
            assert resp.status == 200
            health = await client.get("/health")
            assert (await health.json())["status"] == "ok"
            metrics = await (await client.get("/metrics")).text()
    finally:
        structlog.reset_defaults()
    assert 'probe_request_seconds_bucket{le="5e-05",route="/hello",status="200"} ' in metrics or \
        'probe_request_seconds_bucket{le="5e-05",route="/hello",status="200"}' in metrics.replace(" 0.0", "")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert {"event": "hello", "request_id": "req-123"}.items() <= lines[0].items()
