"""Every server we run mounts /health, /metrics and binds the request id for its logs."""

from __future__ import annotations

import json

import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from telemetry.http import mount_observability, request_id_middleware
from telemetry.logs import configure_logging, get_logger
from telemetry.metrics import LATENCY_BUCKETS


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
    # The one /hello request is observed once, with its real (positive) duration, in every bucket
    # from the one its duration falls in up to +Inf; the /health request has its own series.
    samples = {(s.name, s.labels.get("route"), s.labels.get("status"), s.labels.get("le")): s.value
               for family in text_string_to_metric_families(metrics) for s in family.samples}
    hello = ("/hello", "200")
    assert samples[("probe_request_seconds_count", *hello, None)] == 1.0
    assert samples[("probe_request_seconds_sum", *hello, None)] > 0.0
    assert samples[("probe_request_seconds_count", "/health", "200", None)] == 1.0
    buckets = [samples[("probe_request_seconds_bucket", *hello, le)] for le in [repr(float(b)) for b in LATENCY_BUCKETS]]
    assert samples[("probe_request_seconds_bucket", *hello, "+Inf")] == 1.0
    assert buckets == sorted(buckets) and set(buckets) <= {0.0, 1.0}, buckets
    # The exposition agrees with the registry the middleware observed into.
    assert registry.get_sample_value("probe_request_seconds_count", {"route": "/hello", "status": "200"}) == 1.0
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert {"event": "hello", "request_id": "req-123"}.items() <= lines[0].items()
