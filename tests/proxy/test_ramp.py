"""Ramp state in Redis: live pick-up, sticky decisions shared by proxies, admin API, kill switch."""

from __future__ import annotations

import redis.asyncio as aioredis

from shadow_proxy.audit import RampKeys, recent_audit
from shadow_proxy.ramp import RampControl, bucket, in_ramp
from tests.proxy.conftest import ADMIN_TOKEN, metric, set_ramp, settle


async def test_ramp_change_reaches_a_running_proxy(proxy, stores) -> None:
    other = aioredis.from_url(stores.sister.redis, decode_responses=True)  # e.g. the CLI elsewhere
    try:
        change = await RampControl(other, RampKeys()).set("info", 12.5, who="cli:ops", why="widen")
        assert (change.from_pct, change.to_pct) == (0.0, 12.5)
        await proxy.runtime.ramp.wait_until(lambda p: p["info"] == 12.5, timeout=5)
    finally:
        await other.aclose()


async def test_periodic_reload_catches_a_missed_message(proxy_factory, legacy, new, stores) -> None:
    async with proxy_factory(legacy.url, new.url, ramp_refresh_s=0.05) as proxy:
        other = aioredis.from_url(stores.sister.redis, decode_responses=True)
        try:
            await other.hset(RampKeys().ramp, "create", "7")  # written without a publish
            await proxy.runtime.ramp.wait_until(lambda p: p["create"] == 7, timeout=5)
        finally:
            await other.aclose()


async def test_two_proxies_make_the_same_sticky_decision(proxy_factory, legacy, new, client) -> None:
    async with proxy_factory(legacy.url, new.url) as a, proxy_factory(legacy.url, new.url) as b:
        await set_ramp(a, comments=30, increment=0)
        await b.runtime.ramp.wait_until(lambda p: p["comments"] == 30)
        links = [f"{n:x}z" for n in range(60)]
        for handle in (a, b):
            for link in links:
                async with client.get(f"{handle.url}/comments/{link}") as resp:
                    assert resp.status == 200
            await settle(handle, len(links))
        shadowed_a = {r.entity for r in a.sink.records}
        shadowed_b = {r.entity for r in b.sink.records}
        assert shadowed_a == shadowed_b == {f"t3_{name}" for name in links if in_ramp(f"t3_{name}", 30)}
        assert 0 < len(shadowed_a) < len(links)

        # A vote names only the comment; proxy A learned its thread, proxy B finds it through Redis.
        async with client.get(f"{a.url}/comments/b") as resp:  # renders t1_3 (thread t3_b)
            assert resp.status == 200
        await settle(a, len(links) + 1)
        thread_in = bucket("t3_b") < bucket("t1_3")
        pct = (min(bucket("t3_b"), bucket("t1_3")) + 1) / 100  # exactly one of the two keys is in
        await set_ramp(b, increment=pct)
        async with client.post(f"{b.url}/api/vote", data={"id": "t1_3", "dir": "1"},
                               headers={"X-Auth-User": "alice"}) as resp:
            assert resp.status == 200
        await settle(b, len(links) + 1)
        assert (b.sink.count("increment.response") == 1) == thread_in


async def test_admin_api_requires_the_token(proxy, client) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {ADMIN_TOKEN}"}):
        for method, path in (("GET", "/admin/ramp"), ("PUT", "/admin/ramp/info"), ("POST", "/admin/kill")):
            async with client.request(method, proxy.url + path, json={"pct": 50}, headers=headers) as resp:
                assert resp.status == 401
                body = await resp.json()
                assert body["error"] == "unauthorized" and body["detail"]
    assert proxy.runtime.ramp.pcts["info"] == 0


async def test_admin_api_sets_kills_and_audits(proxy, client, stores) -> None:
    auth = proxy.admin()
    async with client.put(proxy.url + "/admin/ramp/info", json={"pct": 25, "why": "first step"}, headers=auth) as r:
        assert r.status == 200 and (await r.json())["to"] == 25
    await proxy.runtime.ramp.wait_until(lambda p: p["info"] == 25)
    for body, status in (({"pct": 101}, 400), ({"pct": "x"}, 400), ({}, 400)):
        async with client.put(proxy.url + "/admin/ramp/info", json=body, headers=auth) as r:
            assert r.status == status
    async with client.put(proxy.url + "/admin/ramp/nope", json={"pct": 1}, headers=auth) as r:
        assert r.status == 404
    async with client.post(proxy.url + "/admin/kill", json={"why": "incident 42"}, headers=auth) as r:
        assert r.status == 200 and [k["endpoint"] for k in (await r.json())["killed"]] == ["info"]
    await proxy.runtime.ramp.wait_until(lambda p: not any(p.values()))
    async with client.get(proxy.url + "/admin/ramp", headers=auth) as r:
        shown = await r.json()
    assert shown["ramp"]["info"] == 0
    latest = shown["audit"][0]
    assert (latest["who"], latest["endpoint"], latest["from_pct"], latest["to_pct"], latest["why"]) == \
        ("api:admin", "info", 25.0, 0.0, "incident 42")
    assert shown["audit"][1]["why"] == "first step"


async def test_kill_switch_trips_on_a_mismatch_burst(proxy_factory, legacy, new, client, stores) -> None:
    new.state.mode = "different"
    async with proxy_factory(legacy.url, new.url, guard_enabled=True, guard_min_samples=5,
                             guard_max_mismatch_rate=0.5, guard_window_s=60) as proxy:
        await set_ramp(proxy, comments=100, info=100)
        for _ in range(8):
            async with client.get(proxy.url + "/comments/a") as resp:
                assert resp.status == 200
        await proxy.runtime.ramp.wait_until(lambda p: p["comments"] == 0, timeout=5)
        assert proxy.runtime.ramp.pcts["info"] == 100  # per endpoint
        assert proxy.runtime.guardrail.trips == [("comments", "mismatch_rate")]
        assert metric(proxy, "tapcompare_proxy_kill_switch_trips_total", endpoint="comments",
                      reason="mismatch_rate") == 1
        redis = aioredis.from_url(stores.sister.redis, decode_responses=True)
        try:
            entry = (await recent_audit(redis, RampKeys(), 1))[0]
        finally:
            await redis.aclose()
        assert (entry.who, entry.endpoint, entry.from_pct, entry.to_pct) == ("guardrail", "comments", 100.0, 0.0)
        assert "mismatch rate" in entry.why
