"""The exact effect of every write in each of the three production stores: rows and kinds,
the cache entry (bytes decoded, flags, TTL), and the CDC event's fields."""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timezone

import asyncpg
import redis.asyncio as aioredis

from tests.contract.seed import T0
from tests.contract.stores_state import mc_meta, snapshot

LINK_ID = int("haucpf", 36)
SR_ID = int("2qh0u", 36)
UTC = timezone.utc


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


async def fetch(addresses, sql: str, *args):
    conn = await asyncpg.connect(addresses.postgres)
    try:
        return [tuple(r.values()) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def account(addresses, name: str) -> int:
    rows = await fetch(addresses, "SELECT thing_id FROM reddit_data_account WHERE key = 'name' AND value = $1", name)
    return rows[0][0]


async def last_event(addresses) -> tuple[str, dict[str, str]]:
    r = aioredis.from_url(addresses.redis, decode_responses=True)
    try:
        (entry,) = await r.xrevrange("comments:cdc", count=1)
        return entry
    finally:
        await r.aclose()


async def stream_len(addresses) -> int:
    r = aioredis.from_url(addresses.redis)
    try:
        return await r.xlen("comments:cdc")
    finally:
        await r.aclose()


def cached(addresses, thing_id: int) -> dict:
    value, flags, ttl = mc_meta(addresses, f"comment:{thing_id}")
    assert flags == 1 and 43190 <= ttl <= 43200
    assert value[:2] == b"\x80\x02"  # pickle protocol 2
    return pickle.loads(value)


async def create(legacy, text="hello", user="alice", parent="t3_haucpf", request_id="req-1") -> int:
    reply = await legacy.client.comment(parent, text, user, headers={"X-Request-Id": request_id})
    assert reply.status == 200, reply.body
    return int(reply.json()["json"]["data"]["things"][0]["data"]["id"], 36)


async def test_create_effects(legacy) -> None:
    a = legacy.addresses
    alice = await account(a, "alice")
    num_before = await fetch(a, "SELECT value, kind FROM reddit_data_link WHERE thing_id = $1 AND key = 'num_comments'", LINK_ID)
    cid = await create(legacy, "caf\u00e9 \U0001F600")
    assert await fetch(a, "SELECT thing_id, ups, downs, deleted, spam, date, version FROM reddit_thing_comment "
                          "WHERE thing_id = $1", cid) == [(cid, 1, 0, False, False, at(T0), 1)]
    assert await fetch(a, "SELECT key, value, kind FROM reddit_data_comment WHERE thing_id = $1 ORDER BY key", cid) == [
        ("author_id", str(alice), "num"), ("body", "caf\u00e9 \U0001F600", "str"),
        ("link_id", str(LINK_ID), "num"), ("sr_id", str(SR_ID), "num")]
    assert await fetch(a, "SELECT thing1_id, thing2_id, name, date FROM reddit_rel_vote_account_comment "
                          "WHERE thing2_id = $1", cid) == [(alice, cid, "1", at(T0))]
    assert num_before == [("51", "num")]
    assert await fetch(a, "SELECT value, kind FROM reddit_data_link WHERE thing_id = $1 AND key = 'num_comments'",
                       LINK_ID) == [("52", "num")]
    assert cached(a, cid) == {"_id": cid, "_ups": 1, "_downs": 0, "_deleted": False, "_spam": False,
                              "_date": at(T0), "_version": 1,
                              "_t": {"body": "caf\u00e9 \U0001F600", "author_id": alice, "link_id": LINK_ID,
                                     "sr_id": SR_ID}}
    entry_id, fields = await last_event(a)
    name = "t1_" + _b36(cid)
    assert list(fields) == ["event_id", "type", "fullname", "link", "parent", "version", "ts", "request_id", "changes"]
    assert fields == {
        "event_id": f"{name}:1", "type": "comment_created", "fullname": name, "link": "t3_haucpf",
        "parent": "t3_haucpf", "version": "1", "ts": f"{T0:.6f}", "request_id": "req-1",
        "changes": '{"author_id":[null,%d],"body":[null,"caf\\u00e9 \\ud83d\\ude00"],"downs":[null,0],'
                   '"link_id":[null,%d],"sr_id":[null,%d],"ups":[null,1]}' % (alice, LINK_ID, SR_ID)}


async def test_reply_effects_have_parent(legacy) -> None:
    parent = await create(legacy)
    cid = await create(legacy, "child", user="bob", parent="t1_" + _b36(parent))
    rows = await fetch(legacy.addresses, "SELECT value, kind FROM reddit_data_comment WHERE thing_id = $1 "
                                         "AND key = 'parent_id'", cid)
    assert rows == [(str(parent), "num")]
    _, fields = await last_event(legacy.addresses)
    assert fields["parent"] == "t1_" + _b36(parent) and '"parent_id":[null,%d]' % parent in fields["changes"]


async def test_edit_effects_silent_then_edited(legacy) -> None:
    a = legacy.addresses
    cid = await create(legacy, "v1")
    legacy.clock.set(T0 + 180)  # exactly 180 s old: still inside the window
    assert (await legacy.client.edit("t1_" + _b36(cid), "v2", "alice")).status == 200
    assert await fetch(a, "SELECT key, value, kind FROM reddit_data_comment WHERE thing_id = $1 AND key IN "
                          "('body', 'editted')", cid) == [("body", "v2", "str")]
    assert await fetch(a, "SELECT version FROM reddit_thing_comment WHERE thing_id = $1", cid) == [(2,)]
    _, fields = await last_event(a)
    assert (fields["type"], fields["version"], fields["changes"]) == ("comment_edited", "2", '{"body":["v1","v2"]}')

    legacy.clock.set(T0 + 181.25)
    reply = await legacy.client.edit("t1_" + _b36(cid), "v3", "alice", headers={"X-Request-Id": "req-e"})
    assert reply.headers["X-Request-Time"] == "1700000181.250000"
    when = at(T0 + 181.25)
    assert await fetch(a, "SELECT key, value, kind FROM reddit_data_comment WHERE thing_id = $1 AND key IN "
                          "('body', 'editted') ORDER BY key", cid) == [
        ("body", "v3", "str"), ("editted", pickle.dumps(when, protocol=0).decode("latin-1"), "pickle")]
    obj = cached(a, cid)
    assert obj["_version"] == 3 and obj["_t"]["editted"] == when and obj["_t"]["body"] == "v3"
    _, fields = await last_event(a)
    assert fields["event_id"].endswith(":3") and fields["request_id"] == "req-e"
    assert json.loads(fields["changes"]) == {"body": ["v2", "v3"], "editted": [False, T0 + 181.25]}
    assert fields["changes"] == '{"body":["v2","v3"],"editted":[false,1700000181.25]}'


async def test_vote_effects_direction_changes_and_unvote(legacy) -> None:
    a = legacy.addresses
    cid = await create(legacy)
    name = "t1_" + _b36(cid)
    bob = await account(a, "bob")
    expected = [("-1", 1, 1, 2, {"downs": [0, 1], "ups": [1, 1], "vote": [0, -1]}),
                ("1", 2, 0, 3, {"downs": [1, 0], "ups": [1, 2], "vote": [-1, 1]}),
                ("0", 1, 0, 4, {"downs": [0, 0], "ups": [2, 1], "vote": [1, 0]})]
    for direction, ups, downs, version, changes in expected:
        legacy.clock.advance(1)
        reply = await legacy.client.vote(name, direction, "bob")
        assert (reply.status, reply.body) == (200, b"{}")
        assert await fetch(a, "SELECT ups, downs, version FROM reddit_thing_comment WHERE thing_id = $1", cid) == [
            (ups, downs, version)]
        assert await fetch(a, "SELECT name, date FROM reddit_rel_vote_account_comment WHERE thing1_id = $1 AND "
                              "thing2_id = $2", bob, cid) == [(direction, at(legacy.clock()))]
        obj = cached(a, cid)
        assert (obj["_ups"], obj["_downs"], obj["_version"]) == (ups, downs, version)
        _, fields = await last_event(a)
        assert (fields["type"], fields["version"]) == ("comment_voted", str(version))
        assert json.loads(fields["changes"]) == changes
    # The same vote again changes nothing anywhere: no row, no version, no cache write, no event.
    before = await snapshot(a)
    reply = await legacy.client.vote(name, "0", "bob")
    assert (reply.status, reply.body) == (200, b"{}")
    assert await snapshot(a) == before


async def test_concurrent_votes_are_serialised_by_the_lock(legacy) -> None:
    import asyncio

    cid = await create(legacy)
    name = "t1_" + _b36(cid)
    users = ["bob", "carol", "dave"]
    replies = await asyncio.gather(*(legacy.client.vote(name, "-1", u) for u in users))
    assert all(r.status == 200 for r in replies)
    assert await fetch(legacy.addresses, "SELECT ups, downs, version FROM reddit_thing_comment WHERE thing_id = $1",
                       cid) == [(1, 3, 4)]
    assert cached(legacy.addresses, cid)["_downs"] == 3
    assert mc_meta(legacy.addresses, f"lock:comment:{cid}") is None  # every lock released
    r = aioredis.from_url(legacy.addresses.redis, decode_responses=True)
    try:
        events = [f for _, f in await r.xrange("comments:cdc") if f["fullname"] == name]
    finally:
        await r.aclose()
    assert [e["version"] for e in events] == ["1", "2", "3", "4"]  # stream order = version order
    assert [json.loads(e["changes"])["downs"] for e in events[1:]] == [[0, 1], [1, 2], [2, 3]]


def _b36(n: int) -> str:
    from legacy_adapter.codec import to36
    return to36(n)
