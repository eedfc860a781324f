"""The legacy readers over raw store data, the read-through cache, projection lag, and the
observability endpoints."""

from __future__ import annotations

import asyncpg
import pytest

from legacy_adapter.codec import to36
from legacy_adapter.readers import NotPickled, decode_entry, read_cache_value, render_cached, render_from_rows
from tests.contract.seed import T0
from tests.contract.stores_state import _mc, mc_meta
from tests.legacy.test_write_effects import create


async def test_row_loader_and_cache_reader_render_what_the_api_serves(legacy) -> None:
    cid = await create(legacy, "r\u00e9ader \U0001F600")
    name = "t1_" + to36(cid)
    legacy.clock.set(T0 + 500)
    await legacy.client.edit(name, "edited \U0001F600", "alice")
    await legacy.client.vote(name, "-1", "bob")
    api = (await legacy.client.info([name])).json()["data"]["children"][0]
    conn = await asyncpg.connect(legacy.addresses.postgres)
    try:
        from_rows = await render_from_rows(conn, cid, -28800)
        value, flags, _ = mc_meta(legacy.addresses, f"comment:{cid}")
        from_cache = await render_cached(conn, value, -28800, flags)
        assert await render_from_rows(conn, 999_999_999_999, -28800) is None
    finally:
        await conn.close()
    assert from_rows == from_cache == api
    assert api["data"]["edited"] == T0 + 500 and api["data"]["score"] == 0
    with pytest.raises(NotPickled):
        read_cache_value(value, 0)
    entries = await legacy.st.redis.xrange("comments:cdc")
    events = [decode_entry(i, f) for i, f in entries if f[b"fullname"] == name.encode()]
    assert [(e.type, e.version) for e in events] == [("comment_created", 1), ("comment_edited", 2), ("comment_voted", 3)]
    assert events[2].changes == {"downs": [0, 1], "ups": [1, 1], "vote": [0, -1]}


async def test_reads_fill_a_cache_miss_with_add(legacy) -> None:
    cid = await create(legacy)
    key = f"comment:{cid}"
    value, flags, _ = mc_meta(legacy.addresses, key)
    assert _mc(legacy.addresses, f"delete {key}\r\n".encode(), (b"\r\n",)) == b"DELETED\r\n"
    reply = await legacy.client.info(["t1_" + to36(cid)])
    assert reply.status == 200
    again = mc_meta(legacy.addresses, key)
    assert again is not None and again[:2] == (value, flags) and again[2] > 43000
    # A reader's add never overwrites a writer's set.
    obj = read_cache_value(value)
    assert await legacy.st.cache.add({**obj, "_ups": 99}) is False
    assert read_cache_value(mc_meta(legacy.addresses, key)[0])["_ups"] == 1


async def test_thread_reads_follow_the_projection(legacy) -> None:
    """Projection lag: a comment is in /api/info at once, in /comments once its event is applied."""
    await legacy.drain()
    cid = await create(legacy, "lagging")
    id36 = to36(cid)
    thread = await legacy.client.comments("haucpf", sort="new", limit=500)
    assert f'"id": "{id36}"'.encode() not in thread.body
    assert (await legacy.client.info(["t1_" + id36])).json()["data"]["children"]
    more = await legacy.client.morechildren("t3_haucpf", [id36])
    assert [t["data"]["id"] for t in more.json()["json"]["data"]["things"]] == [id36]
    assert await legacy.drain() == 1
    thread = await legacy.client.comments("haucpf", sort="new", limit=500)
    assert thread.json()[1]["data"]["children"][0]["data"]["id"] == id36


async def test_request_ids_reach_the_event_and_errors_carry_the_time(legacy) -> None:
    reply = await legacy.client.comment("t3_haucpf", "", "alice", headers={"X-Request-Id": "abc"})
    assert reply.status == 400 and reply.headers["X-Request-Time"] == f"{T0:.6f}"
    cid = await create(legacy, request_id="trace-42")
    entries = await legacy.st.redis.xrevrange("comments:cdc", count=1)
    assert entries[0][1][b"request_id"] == b"trace-42" and entries[0][1][b"fullname"] == f"t1_{to36(cid)}".encode()


async def test_health_and_metrics(legacy) -> None:
    assert (await legacy.client.request("GET", "/health")).json()["status"] == "ok"
    await legacy.client.morechildren("t1_", "abc")  # a malformed link_id is an error (info drops it)
    metrics = (await legacy.client.request("GET", "/metrics")).body.decode()
    assert 'legacy_api_errors_total{code="NO_THING_ID"} 1.0' in metrics
    assert 'legacy_request_seconds_count{route="/api/morechildren",status="400"} 1.0' in metrics


async def test_odd_inputs_are_errors_not_500s(legacy) -> None:
    from tests.contract.stores_state import snapshot

    before = await snapshot(legacy.addresses)
    huge = await legacy.client.request("POST", "/api/comment", form=b"thing_id=t3_haucpf&text=" + b"a" * 1_100_000,
                                       user="alice")
    assert (huge.status, huge.json()["json"]["errors"][0][0]) == (400, "TOO_LONG")
    for user in (b"al\xffice", b"al\xc3ice"):  # not UTF-8 (aiohttp's client refuses to send such headers)
        status, body = await raw_post(legacy.url, "/api/comment", b"thing_id=t3_haucpf&text=hi", user)
        assert (status, b"USER_REQUIRED" in body) == (403, True)
    big_limit = await legacy.client.comments("haucpf", limit=10**30)  # r2 clamps a huge limit to 500
    assert big_limit.status == 200 and big_limit.json()[1]["data"]["children"]
    huge_digits = await legacy.client.request("GET", "/comments/haucpf", {"limit": "9" * 5000})
    assert huge_digits.body == big_limit.body
    assert await snapshot(legacy.addresses) == before


async def raw_post(url: str, path: str, body: bytes, user: bytes) -> tuple[int, bytes]:
    import asyncio

    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Auth-User: " + user +
                 b"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                 str(len(body)).encode() + b"\r\n\r\n" + body)
    data = await reader.read()
    writer.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest
