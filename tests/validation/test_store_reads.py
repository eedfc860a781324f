"""State capture reads each store's raw form without changing it, on real servers."""

from __future__ import annotations

import datetime as dt
import pickle

import asyncpg
import redis.asyncio as aioredis
from pymemcache.client.base import Client

from diff_reports.stored_forms import decode_cache_entry, decode_cdc_fields, decode_data_rows, pickle_facts
from write_validation.store_reads import read_cdc, read_memcached, read_postgres
from write_validation.store_reads import CdcTail
from tests.support.stores import StoreSets

WHEN = dt.datetime(2020, 6, 17, 12, 0, 1, 250000, tzinfo=dt.timezone.utc)


async def test_postgres_capture_reads_thing_data_link_and_votes(stores: StoreSets) -> None:
    conn = await asyncpg.connect(stores.production.postgres)
    try:
        await conn.execute("INSERT INTO reddit_thing_link (thing_id, ups, date) VALUES (7, 1, $1)", WHEN)
        await conn.execute("INSERT INTO reddit_data_link VALUES (7, 'num_comments', '1', 'num')")
        await conn.execute("INSERT INTO reddit_thing_comment (thing_id, ups, downs, date, version) VALUES (42, 1, 0, $1, 2)", WHEN)
        edited = pickle.dumps(WHEN, protocol=0).decode("latin-1")
        await conn.executemany("INSERT INTO reddit_data_comment VALUES (42, $1, $2, $3)",
                               [("body", "hi 😀", "str"), ("link_id", "7", "num"), ("editted", edited, "pickle")])
        await conn.execute("INSERT INTO reddit_rel_vote_account_comment (thing1_id, thing2_id, name, date) VALUES (3, 42, '1', $1)", WHEN)
        before = await conn.fetchval("SELECT count(*) FROM pg_stat_user_tables WHERE n_tup_upd + n_tup_del > 0")
        state = await read_postgres(conn, 42, 7)
        after = await conn.fetchval("SELECT count(*) FROM pg_stat_user_tables WHERE n_tup_upd + n_tup_del > 0")
    finally:
        await conn.close()
    assert before == after
    assert state.version == 2 and state.thing["date"] == WHEN
    assert [k for k, _, _ in state.data] == ["body", "editted", "link_id"]
    assert state.link_data == (("num_comments", "1", "num"),)
    assert state.votes == ((3, "1", WHEN),)
    decoded = decode_data_rows(state.data)
    assert decoded["editted"]["pickle"]["protocol"] == 0
    assert decoded["editted"]["pickle"]["object"] == {"$datetime": WHEN.isoformat(), "aware": True}


async def test_missing_comment_captures_as_absent(stores: StoreSets) -> None:
    conn = await asyncpg.connect(stores.sister.postgres)
    try:
        state = await read_postgres(conn, 999, None)
    finally:
        await conn.close()
    assert state.thing is None and state.data == () and state.version is None


async def test_memcached_capture_sees_bytes_flags_and_ttl(stores: StoreSets) -> None:
    host, port = stores.production.memcached_host_port
    payload = pickle.dumps({"_id": 42, "_date": WHEN}, protocol=2)
    mc = Client((host, port))
    try:
        mc.set("comment:42", payload, expire=43200, flags=1, noreply=False)
        mc.set("comment:43", b"x", flags=0, noreply=False)
    finally:
        mc.close()
    entry = await read_memcached(host, port, "comment:42")
    assert entry.present and entry.value == payload and entry.flags == 1
    assert 43190 <= entry.ttl <= 43200
    assert (await read_memcached(host, port, "comment:43")).ttl == -1
    assert not (await read_memcached(host, port, "comment:nope")).present
    decoded = decode_cache_entry(entry.present, entry.value, entry.flags, entry.ttl)
    assert decoded["pickle"]["protocol"] == 2
    assert decoded["pickle"]["object"]["_date"]["aware"] is True


async def test_cdc_capture_filters_by_entity_and_request(stores: StoreSets) -> None:
    r = aioredis.from_url(stores.sister.redis)
    try:
        for fullname, request_id, version in (("t1_a", "r1", 1), ("t1_b", "r1", 1), ("t1_a", "r2", 2)):
            await r.xadd("comments:cdc", {"fullname": fullname, "request_id": request_id, "version": str(version),
                                          "changes": '{"body":[null,"x"]}'})
        all_a = await read_cdc(r, "comments:cdc", fullname="t1_a")
        only_r2 = await read_cdc(r, "comments:cdc", fullname="t1_a", request_id="r2")
    finally:
        await r.aclose()
    assert [e.fields["version"] for e in all_a] == ["1", "2"]
    assert len(only_r2) == 1 and decode_cdc_fields(only_r2[0].fields)["changes"] == {"body": [None, "x"]}


async def test_a_cdc_tail_shows_what_a_full_read_shows(stores: StoreSets) -> None:
    """Topped up with only what is new, a tail equals a full read of the newest `scan` entries at
    every step: a few added, more than `scan` at once, and a stream emptied or deleted under it."""
    r = aioredis.from_url(stores.sister.redis)
    tail, n = CdcTail(r, "comments:cdc", scan=5), 0

    async def add(count: int) -> None:
        nonlocal n
        for _ in range(count):
            n += 1
            await r.xadd("comments:cdc", {"fullname": f"t1_{n}", "version": str(n)})

    async def same() -> list[str]:
        full = await read_cdc(r, "comments:cdc", scan=5)
        held = await tail.newest()
        assert held == full
        return [e.fields["version"] for e in held]
    try:
        assert await same() == []
        await add(3)
        assert await same() == ["1", "2", "3"]
        await add(1)
        assert await same() == ["1", "2", "3", "4"]
        await add(4)
        assert await same() == ["4", "5", "6", "7", "8"]
        await add(7)                                      # more than `scan` since the last read
        assert await same() == ["11", "12", "13", "14", "15"]
        assert await same() == ["11", "12", "13", "14", "15"]  # nothing new: nothing changes
        await r.xtrim("comments:cdc", maxlen=0, approximate=False)
        await add(2)                                      # the held entries are gone from the stream
        assert await same() == ["16", "17"]
        await r.delete("comments:cdc")
        assert await same() == []
        await add(1)
        assert await same() == ["18"]
    finally:
        await r.aclose()


def test_unsafe_pickle_is_reported_not_executed() -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    facts = pickle_facts(pickle.dumps(Evil(), protocol=2))
    assert any(g.endswith(".print") for g in facts["globals"])
    assert "UnsafePickle" in facts["error"] and "object" not in facts


def test_protocol_difference_is_visible() -> None:
    obj = {"_id": 1, "_t": {"body": "x"}}
    assert pickle_facts(pickle.dumps(obj, protocol=2))["object"] == pickle_facts(pickle.dumps(obj, protocol=4))["object"]
    assert pickle_facts(pickle.dumps(obj, protocol=2))["protocol"] != pickle_facts(pickle.dumps(obj, protocol=4))["protocol"]
