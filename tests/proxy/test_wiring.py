"""`build_app` from Settings (what `tapcompare proxy serve` runs), with /health and /metrics."""

from __future__ import annotations

from yarl import URL

from config import settings_from_mapping
from shadow_proxy.app import PROXY
from shadow_proxy.wiring import build_app, default_comparator
from tests.proxy.conftest import ADMIN_TOKEN, EqualityComparator, serve, set_ramp, settle, ProxyHandle


async def test_build_app_from_settings_serves_health_and_metrics(stores, legacy, new, client) -> None:
    settings = settings_from_mapping({
        "legacy": {"port": URL(legacy.url).port}, "new_service": {"port": URL(new.url).port,
                                                                  "tap_secret": "test-tap-secret"},
        "proxy": {"ramp_redis": stores.sister.redis, "admin_token": ADMIN_TOKEN},
    })
    app = build_app(settings, comparator=EqualityComparator())
    runner, url = await serve(app)
    try:
        handle = ProxyHandle(url, app[PROXY], app[PROXY].sink)
        await set_ramp(handle, info=100)
        async with client.get(url + "/api/info?id=t1_1") as resp:
            assert resp.status == 200
        await settle(handle, 1)
        async with client.get(url + "/health") as resp:
            assert (await resp.json())["status"] == "ok"
        async with client.get(url + "/metrics") as resp:
            text = await resp.text()
        for name in ("tapcompare_proxy_primary_seconds_bucket", "tapcompare_proxy_overhead_seconds_bucket",
                     "tapcompare_proxy_shadow_seconds_bucket", "tapcompare_proxy_shadow_queue_depth",
                     'tapcompare_proxy_verdicts_total{path="read.info.response",verdict="match"} 1.0',
                     'tapcompare_proxy_ramp_pct{endpoint="info"} 100.0'):
            assert name in text, name
    finally:
        await runner.cleanup()
    assert callable(default_comparator(settings).compare)  # the real comparison core, from [compare]
