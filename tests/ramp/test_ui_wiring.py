"""The reviewer UI that `report serve` runs (wiring.parts.Parts.ui_app) reads the ramp's audit trail
from the control-plane Redis and judges with the configured [ramp.policy]."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

import redis.asyncio as aioredis

from config import settings_from_mapping
from results.store.store import ResultsStore
from shadow_proxy.audit import RampKeys, recent_audit
from shadow_proxy.ramp import RampControl
from wiring.parts import Parts

TOKEN = "test-report-token"


async def test_ui_app_has_the_ramp_trail_and_the_policy(stores, results_store: ResultsStore, results_dsn: str) -> None:
    settings = settings_from_mapping({
        "proxy": {"ramp_redis": stores.sister.redis, "ramp_key_prefix": "uiwiring"},
        "reports": {"results_dsn": results_dsn, "token": TOKEN},
        "ramp": {"policy": {"min_samples": 7, "min_step_minutes": 3}},
    })
    redis = aioredis.from_url(stores.sister.redis)
    try:
        await RampControl(redis, RampKeys("uiwiring")).set("create", 5, who="test", why="step")
        since = (await recent_audit(redis, RampKeys("uiwiring"), 1))[0].at
    finally:
        await redis.aclose()
    async with TestClient(TestServer(Parts(settings).ui_app())) as client:
        resp = await client.get("/api/ramp/advice/create", headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status == 200, await resp.text()
        advice = (await resp.json())["advice"][0]
    assert advice["step"] == {"pct": 5.0, "since": since}
    assert advice["policy"]["min_samples"] == 7 and advice["policy"]["min_step_minutes"] == 3
