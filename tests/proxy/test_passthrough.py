"""The client gets the legacy response byte for byte, whatever the ramp says."""

from __future__ import annotations

import json

import aiohttp
import pytest
from yarl import URL

from shadow_proxy.passthrough import HOP_BY_HOP
from shadow_proxy.ramp import ENDPOINTS
from tests.proxy.conftest import set_ramp, settle

REQUESTS = [
    ("GET", "/comments/a?sort=top&limit=5", None, {}),
    ("GET", "/api/info?id=t1_1,t1_3", None, {}),
    ("GET", "/api/info?id=BAD", None, {}),                      # a legacy 400 error body
    ("GET", "/api/morechildren?link_id=t3_a&children=1", None, {}),
    ("GET", "/raw/error", None, {}),                            # 503, custom reason, non-JSON, 2 Set-Cookie
    ("GET", "/raw/gzip", None, {"Accept-Encoding": "gzip"}),    # compressed bytes stay compressed
    ("GET", "/no/such/path", None, {}),                         # legacy 404, unknown path
    ("POST", "/api/vote", b"id=t1_1&dir=1", {"X-Auth-User": "alice"}),
    ("POST", "/api/comment", b"thing_id=t3_a&text=hi", {}),     # legacy 403 USER_REQUIRED
    ("HEAD", "/comments/a", None, {}),
]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def fetch(client: aiohttp.ClientSession, base: str, method: str, path: str, body: bytes | None,
                headers: dict[str, str]) -> tuple[int, str, list[tuple[bytes, bytes]], bytes]:
    hdrs = {"X-Request-Id": "fixed-id", **(FORM if body else {}), **headers}
    async with client.request(method, base + path, data=body, headers=hdrs) as resp:
        raw = [(k, v) for k, v in resp.raw_headers if k.decode().lower() not in HOP_BY_HOP]
        return resp.status, resp.reason or "", raw, await resp.read()


@pytest.mark.parametrize("pct", [0, 100])
async def test_byte_identical_responses(proxy, legacy, client, pct) -> None:
    await set_ramp(proxy, **{e: pct for e in ENDPOINTS})
    for method, path, body, headers in REQUESTS:
        direct = await fetch(client, legacy.url, method, path, body, headers)
        proxied = await fetch(client, proxy.url, method, path, body, headers)
        assert proxied == direct, (method, path)
    await settle(proxy, len(REQUESTS))
    if pct == 100:
        assert proxy.sink.count("read.comments.response", "match") == 1
        assert proxy.sink.count("increment.response", "match") == 1
    else:
        assert proxy.sink.count() == 0


async def test_methods_queries_bodies_and_request_ids_reach_the_legacy(proxy, legacy, client) -> None:
    for method in ("GET", "POST", "PATCH", "DELETE", "PROPFIND", "OPTIONS"):
        url = URL(proxy.url + "/raw/echo/x?b=%20y&a=1&b=2&raw=%ff", encoded=True)
        async with client.request(method, url,
                                  data=b"\x00\x01binary", headers={"X-Multi": "1"}) as resp:
            seen = json.loads(await resp.read())
        assert seen["method"] == method
        assert seen["raw_path"] == "/raw/echo/x?b=%20y&a=1&b=2&raw=%ff"
        assert seen["body_hex"] == b"\x00\x01binary".hex()
        ids = [v for k, v in seen["headers"] if k.lower() == "x-request-id"]
        assert len(ids) == 1 and len(ids[0]) == 32  # minted
    for method, body in (("GET", None), ("POST", b"a=1"), ("PUT", b"")):
        sent = {"X-Request-Id": "mine-1", "X-Dup": "1", "Cookie": "a=b", "Authorization": "Basic eA=="}
        seen = []
        for base in (legacy.url, proxy.url):
            async with client.request(method, base + "/raw/echo", data=body, headers=sent) as resp:
                seen.append([h for h in json.loads(await resp.read())["headers"] if h[0] != "Host"])
        assert seen[0] == seen[1]
        assert ["x-request-id", "mine-1"] in [[k.lower(), v] for k, v in seen[1]]


async def test_body_over_the_limit_is_forwarded_whole_and_not_shadowed(proxy_factory, legacy, new, client) -> None:
    async with proxy_factory(legacy.url, new.url, max_body_bytes=1024) as proxy:
        await set_ramp(proxy, create=100)
        big = b"thing_id=t3_a&text=" + b"x" * 200_000
        async with client.post(proxy.url + "/raw/echo", data=big, headers=FORM) as resp:
            assert json.loads(await resp.read())["body_len"] == len(big)
        async with client.post(proxy.url + "/api/comment", data=big,
                               headers={**FORM, "X-Auth-User": "alice"}) as resp:
            assert resp.status == 200
        assert len(legacy.state.seen[-1]["body"]) == len(big)
        await settle(proxy, 2)
        from tests.proxy.conftest import metric
        assert metric(proxy, "tapcompare_proxy_shadow_skipped_total", endpoint="create",
                      reason="body_too_large") == 1
        assert new.state.seen == []


async def test_legacy_unreachable_is_a_clear_502(proxy_factory, new, client) -> None:
    async with proxy_factory("http://127.0.0.1:9", new.url) as proxy:
        await set_ramp(proxy, comments=100)
        async with client.get(proxy.url + "/comments/a") as resp:
            assert resp.status == 502
            body = await resp.json()
        assert body["error"] == "legacy_unreachable" and body["source"] == "tapcompare-proxy"
        await settle(proxy, 1)
        assert new.state.seen == [] and proxy.sink.count() == 0


async def test_ramp_redis_down_still_passes_through_and_shadows_nothing(proxy_factory, legacy, new, client) -> None:
    async with proxy_factory(legacy.url, new.url, ramp_redis="redis://127.0.0.1:9/0") as proxy:
        direct = await fetch(client, legacy.url, "GET", "/comments/a", None, {})
        assert await fetch(client, proxy.url, "GET", "/comments/a", None, {}) == direct
        async with client.get(proxy.url + "/admin/ramp", headers=proxy.admin()) as resp:
            assert resp.status == 503 and (await resp.json())["error"] == "ramp_store_unavailable"
        await settle(proxy, 1)
        assert new.state.seen == [] and proxy.sink.count() == 0
