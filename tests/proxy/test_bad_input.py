"""Bad input goes to the legacy as it came, the proxy survives it, and nothing unparseable is shadowed."""

from __future__ import annotations

import asyncio

import pytest
from yarl import URL

from shadow_proxy.ramp import ENDPOINTS
from tests.proxy.conftest import metric, set_ramp, settle

FORM = "application/x-www-form-urlencoded"
CASES = [
    # (method, path, content type, body, endpoint, skip reason)
    ("POST", "/api/comment", FORM, b"thing_id=t3_a&&text", "create", "malformed_form"),
    ("POST", "/api/comment", FORM, b"thing_id=t3_a&text=%ff%fe", "create", "invalid_utf8"),
    ("POST", "/api/editusertext", FORM, b"thing_id=t1_1&text=caf\xe9", "update", "invalid_utf8"),
    ("POST", "/api/vote", "application/json", b'{"id": "t1_1", "dir": 1}', "increment", "not_form_encoded"),
    ("POST", "/api/vote", FORM, b"id=t1_1&dir=1&x=%00", "increment", "nul_byte"),
    ("GET", "/api/info?id=t1_%ff", None, None, "info", "invalid_utf8"),
    # (malformed /api/info names are dropped by the legacy, so such a request is shadowed: not here)
    ("POST", "/api/morechildren", "application/json", b'{"link_id": "t3_a"}', "morechildren", "not_form_encoded"),
    ("GET", "/comments/NOT-A-LINK", None, None, "comments", "malformed_link"),
    ("GET", "/api/morechildren?children=1", None, None, "morechildren", "malformed_link"),
]


async def exchange(client, base: str, method: str, path: str, ctype: str | None, body: bytes | None):
    headers = {"Content-Type": ctype} if ctype else {}  # no user: the legacy answers alike both times
    async with client.request(method, URL(base + path, encoded=True), data=body, headers=headers) as resp:
        return resp.status, await resp.read()


async def test_unparseable_requests_are_forwarded_and_skipped(proxy, legacy, new, client) -> None:
    await set_ramp(proxy, **{e: 100 for e in ENDPOINTS})
    for method, path, ctype, body, _, _ in CASES:
        direct = await exchange(client, legacy.url, method, path, ctype, body)
        assert await exchange(client, proxy.url, method, path, ctype, body) == direct, path
        assert legacy.state.seen[-1]["body"] == legacy.state.seen[-2]["body"] == (body or b"")
    await settle(proxy, len(CASES))
    for *_, endpoint, reason in CASES:
        assert metric(proxy, "tapcompare_proxy_shadow_skipped_total", endpoint=endpoint, reason=reason) >= 1, reason
    assert new.state.seen == [] and proxy.sink.count() == 0


async def test_a_refused_write_naming_no_wellformed_thing_is_shadowed(proxy, legacy, new, client) -> None:
    """A malformed id the legacy refused is still a write the rewrite must refuse alike: sent, with
    no thread (sampled by its request id) and no identity of production's."""
    await set_ramp(proxy, increment=100)
    body = b"id=T1_1&dir=1"
    direct = await exchange(client, legacy.url, "POST", "/api/vote", FORM, body)
    assert direct[0] >= 400
    assert await exchange(client, proxy.url, "POST", "/api/vote", FORM, body) == direct
    await settle(proxy, 1)
    assert [seen["body"] for seen in new.state.seen] == [body]
    assert "X-Tap-Thing-Id" not in new.state.seen[0]["headers"]
    assert metric(proxy, "tapcompare_proxy_shadow_skipped_total", endpoint="increment",
                  reason="malformed_thing_id") == 0


async def raw_request(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        async with asyncio.timeout(5):
            return await reader.read()  # HTTP/1.0 / Connection: close: until the server closes
    finally:
        writer.close()


@pytest.mark.parametrize("payload", [
    b"GET /comments/a HTTP/1.0\r\nX-Odd: caf\xe9\r\n\r\n",
    b"GET /comments/a HTTP/1.1\r\nHost: x\r\nX-Dup: 1\r\nX-Dup: 2\r\nConnection: close\r\n\r\n",
    b"PROPFIND /api/info?id=t1_1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"POST /api/vote HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nX-Auth-User: alice\r\n\r\n"
    b"6\r\nid=t1_\r\n7\r\n1&dir=1\r\n0\r\n\r\n",
    b"GET /comments/a HTTP/1.1\r\nHost: x\r\nX-Long: " + b"v" * 6000 + b"\r\nConnection: close\r\n\r\n",
])
async def test_odd_methods_and_headers(proxy, legacy, new, payload) -> None:
    await set_ramp(proxy, comments=100, increment=100, info=100)
    legacy_port = URL(legacy.url).port
    proxy_port = URL(proxy.url).port
    direct = await raw_request(legacy_port, payload)
    proxied = await raw_request(proxy_port, payload)
    assert proxied.split(b"\r\n", 1)[0] == direct.split(b"\r\n", 1)[0]  # same status line
    assert proxied.rsplit(b"\r\n\r\n", 1)[1] == direct.rsplit(b"\r\n\r\n", 1)[1]  # same body
    assert legacy.state.seen[-1]["body"] == legacy.state.seen[-2]["body"]
    await settle(proxy, 1)
    seen_headers = legacy.state.seen[-1]["headers"]
    if b"X-Dup" in payload:
        assert seen_headers.getall("X-Dup") == ["1", "2"]
    if b"X-Odd" in payload:
        assert seen_headers["X-Odd"] in ("caf\xe9", "caf\udce9")
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(b"GET /health HTTP/1.0\r\n\r\n")
    assert b" 200 " in (await reader.read()).split(b"\r\n", 1)[0]
    writer.close()
