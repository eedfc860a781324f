"""Golden contract of r2's quirks (issue 15), each with an assertion of its own, on a constructed
thread (tests/contract/seed.py, R2_COMMENTS) plus writes. Numbers refer to the issue's list:
1 best-first building, 2 deleted/removed, 3 controversiality, 4 HTML-escaped JSON, 5 confidence
precision, 6 morechildren, 7 lenient parameters (and r2's paths), 8 no-op and refused writes,
9 float EAV numbers, 10 the commit lock (test_commit_lock_*), 11 score hiding."""

from __future__ import annotations

import asyncio
import json
import time

import asyncpg
import pytest
from pymemcache.client.base import Client

from legacy_adapter.codec import from36
from tests.contract.harness import Session
from tests.contract.seed import R2_COMMENTS, R2_HIDE_MINS, R2_LINK, R2_NAMES, R2_SUBREDDIT, R2_UPVOTE_RATIO, T0
from tests.contract.stores_state import snapshot
from tests.support.r2_reference import c_confidence

LINK36 = R2_LINK[3:]


def id36(key: str) -> str:
    return R2_NAMES[key][3:]


def kids(listing_json: dict) -> list[dict]:
    return listing_json["data"]["children"]


def walk(children):
    for child in children:
        yield child
        replies = child["data"].get("replies")
        if child["kind"] == "t1" and replies:
            yield from walk(kids(replies))


def by_name(children) -> dict[str, dict]:
    return {t["data"]["name"]: t["data"] for t in walk(children) if t["kind"] == "t1"}


async def test_r2_behaviours_contract(contract) -> None:
    url, clock, addresses = contract
    s = Session(url, "r2")
    try:
        steps = await _steps(s, clock, addresses)
    finally:
        await s.close()
    s.check()
    _independent_checks(steps)


async def _steps(s: Session, clock, addresses) -> dict:
    out: dict = {}
    thread = f"/comments/{LINK36}"
    # 1 best-first
    out["bf"] = await s.step("1 best-first: limit 2, sort top", "GET", thread, {"sort": "top", "limit": "2"})
    # 2, 3, 4 the whole thread, HTML-escaped and raw
    out["full"] = await s.step("2/3/4 whole thread, old", "GET", thread, {"sort": "old", "limit": "500"})
    out["raw"] = await s.step("4 whole thread, raw_json=1", "GET", thread, {"sort": "old", "limit": "500", "raw_json": "1"})
    out["info_del"] = await s.step("2 info of deleted and removed", "GET", "/api/info",
                                   {"id": ",".join(R2_NAMES[k] for k in ("DEL_LEAF", "DEL_PARENT", "REMOVED"))})
    # 5 confidence
    out["conf"] = await s.step("5 confidence order", "GET", thread, {"sort": "confidence", "limit": "500", "depth": "1"})
    # 6 morechildren
    m_kids = ",".join(id36(f"M{i}") for i in range(25))
    out["mc"] = await s.step("6 morechildren of 25 replies", "GET", "/api/morechildren",
                             {"link_id": R2_LINK, "children": m_kids, "sort": "top"})
    out["mc_post"] = await s.step("6 POST morechildren/ api_type=json", "POST", "/api/morechildren/",
                                  form={"link_id": R2_LINK, "children": m_kids, "sort": "top", "api_type": "json"})
    out["mc_shallow"] = await s.step("6 morechildren keeps the shallowest requested", "GET", "/api/morechildren",
                                     {"link_id": R2_LINK, "children": f"{id36('M0a')},{id36('M3')}"})
    # 7 lenient parameters and paths
    out["default"] = await s.step("7 thread, defaults", "GET", thread)
    out["lenient"] = {}
    for q in ({"sort": "best"}, {"limit": "0"}, {"limit": "-5"}, {"limit": "ten"}, {"depth": "0"}, {"depth": "11"},
              {"depth": "x"}, {"sort": "hot", "limit": "", "depth": "1e3"}):
        out["lenient"][json.dumps(q)] = await s.step(f"7 lenient {json.dumps(q)}", "GET", thread, q)
    out["limit_2048"] = await s.step("7 limit 2048 is clamped", "GET", thread, {"limit": "2048"})
    out["limit_500"] = await s.step("7 limit 500", "GET", thread, {"limit": "500"})
    out["limit_sp"] = await s.step("7 limit ' +2 '", "GET", thread, {"limit": " +2 ", "sort": "top"})
    out["paths"] = {}
    for path in (f"{thread}/", f"{thread}.json", f"/r/{R2_SUBREDDIT}/comments/{LINK36}/a_slug/",
                 f"/r/{R2_SUBREDDIT.upper()}/comments/{LINK36}/x/.json"):
        out["paths"][path] = await s.step(f"7 path {path}", "GET", path)
    out["wrong_sr"] = await s.step("7 path under another subreddit", "GET", f"/r/pics/comments/{LINK36}/")
    out["permalink"] = await s.step("7 permalink of P1", "GET", f"{thread}/_/{id36('P1')}", {"sort": "top"})
    out["permalink_ctx"] = await s.step("7 permalink of M0a, context 1", "GET", f"{thread}/slug/{id36('M0a')}/",
                                        {"context": "1"})
    out["permalink_other"] = await s.step("7 permalink of another thread's comment", "GET",
                                          f"{thread}/slug/fv5157b")
    out["info_lenient"] = await s.step("7 info drops malformed names", "GET", "/api/info",
                                       {"id": f"t1_,garbage,T3_{LINK36.upper()} {R2_LINK},,t1_0"})
    out["info_empty"] = await s.step("7 info without id", "GET", "/api/info.json")
    out["blank"] = []
    for text in ("   \n\t", "\u3000\u2003\u00a0"):
        out["blank"].append(await s.step(f"7 whitespace-only text {text!r}", "POST", "/api/comment/",
                                         form={"thing_id": R2_LINK, "text": text}, user="alice"))
    # 11 score hiding, 4 escaping in a write response, 8 no-op edits
    clock.set(T0)
    created = await s.step("4/11 create in the score window", "POST", "/api/comment",
                           form={"thing_id": R2_LINK, "text": "hidden <score> & co"}, user="alice")
    out["created"] = created
    h = created.json()["json"]["data"]["things"][0]["data"]["name"]
    out["created_raw"] = await s.step("4 create, raw_json=1 in the form", "POST", "/api/comment",
                                      form={"thing_id": R2_LINK, "text": "raw <b> & co", "raw_json": "1"}, user="bob")
    clock.set(T0 + 10)
    for voter in ("bob", "carol", "dave"):
        await s.step(f"11 upvote by {voter}", "POST", "/api/vote", form={"id": h, "dir": "1"}, user=voter)
    clock.set(T0 + 60)
    out["hidden_anon"] = await s.step("11 info, anonymous, inside the window", "GET", "/api/info", {"id": h})
    out["hidden_other"] = await s.step("11 info by another user", "GET", "/api/info", {"id": h}, user="bob")
    out["hidden_author"] = await s.step("11 info by the author", "GET", "/api/info", {"id": h}, user="alice")
    before = await snapshot(addresses)
    raw_name = out["created_raw"].json()["json"]["data"]["things"][0]["data"]["name"]
    out["noop"] = await s.step("8 edit with the same text inside the window", "POST", "/api/editusertext",
                               form={"thing_id": raw_name, "text": "raw <b> & co"}, user="bob")
    out["noop_unchanged"] = await snapshot(addresses) == before
    out["edit_deleted"] = await s.step("8 edit a deleted comment (by its author)", "POST", "/api/editusertext",
                                       form={"thing_id": R2_NAMES["DEL_LEAF"], "text": "again"}, user="carol")
    out["vote_deleted"] = await s.step("8 vote on a deleted comment", "POST", "/api/vote",
                                       form={"id": R2_NAMES["DEL_LEAF"], "dir": "1"}, user="bob")
    clock.set(T0 + R2_HIDE_MINS * 60 + 1)
    out["shown_anon"] = await s.step("11 info, anonymous, after the window", "GET", "/api/info", {"id": h})
    clock.set(T0 + 400)
    out["noop_late"] = await s.step("8 same text after the edit window: only the edit time", "POST",
                                    "/api/editusertext", form={"thing_id": h, "text": "hidden <score> & co"}, user="alice")
    out["version_after"] = await _version(addresses, h)
    # 9 floats
    out["link"] = await s.step("9 info of the link (a float upvote ratio)", "GET", "/api/info", {"id": R2_LINK})
    out["ratio_row"] = await _link_row(addresses, "upvote_ratio")
    return out


async def _version(addresses, fullname: str) -> int:
    conn = await asyncpg.connect(addresses.postgres)
    try:
        return await conn.fetchval("SELECT version FROM reddit_thing_comment WHERE thing_id = $1", from36(fullname[3:]))
    finally:
        await conn.close()


async def _link_row(addresses, key: str) -> tuple[str, str]:
    conn = await asyncpg.connect(addresses.postgres)
    try:
        row = await conn.fetchrow("SELECT value, kind FROM reddit_data_link WHERE thing_id = $1 AND key = $2",
                                  from36(LINK36), key)
        return row["value"], row["kind"]
    finally:
        await conn.close()


def _independent_checks(o: dict) -> None:
    n = R2_NAMES
    # 1: A(100) with child A1(1) and B(50): best-first shows P and Q, P1 behind a stub under P
    top = kids(o["bf"].json()[1])
    assert [t["data"]["name"] for t in top if t["kind"] == "t1"] == [n["P"], n["Q"]]
    (stub,) = kids(top[0]["data"]["replies"])
    assert stub["kind"] == "more" and stub["data"]["children"] == [id36("P1")] and stub["data"]["count"] == 1
    assert top[-1]["kind"] == "more" and top[-1]["data"]["parent_id"] == R2_LINK
    # 2: a deleted leaf is dropped, a deleted parent kept; both zero gildings and distinguished
    full = by_name(kids(o["full"].json()[1]))
    assert n["DEL_LEAF"] not in full and n["DEL_CHILD"] in full
    dead = full[n["DEL_PARENT"]]
    assert (dead["body"], dead["author"], dead["gilded"], dead["distinguished"]) == ("[deleted]", "[deleted]", 0, None)
    removed = full[n["REMOVED"]]
    assert (removed["body"], removed["author"], removed["gilded"], removed["distinguished"]) == \
        ("[removed]", "[deleted]", 0, None)
    assert n["REMOVED_LEAF"] not in full  # removed leaves are dropped too
    info_del = {t["data"]["name"]: t["data"] for t in kids(o["info_del"].json())}
    assert info_del[n["DEL_LEAF"]]["body"] == "[deleted]" and info_del[n["DEL_LEAF"]]["gilded"] == 0
    # 3: controversial only with >= 7 votes and an upvote ratio in [0.4, 0.6]
    assert [full[n[k]]["controversiality"] for k in ("C6", "C7", "C8")] == [0, 1, 0]
    # 4: HTML entities in the body text by default; script-safe escapes with raw_json=1
    assert b"<" not in o["full"].body and b">" not in o["full"].body
    assert b"seeded P: &lt;b&gt;&amp;amp;&lt;/b&gt; body" in o["full"].body
    assert b"seeded P: \\u003Cb\\u003E\\u0026amp;\\u003C/b\\u003E body" in o["raw"].body
    assert by_name(kids(o["raw"].json()[1]))[n["P"]]["body"] == "seeded P: <b>&amp;</b> body"
    assert b"hidden &lt;score&gt; &amp; co" in o["created"].body
    assert b"raw \\u003Cb\\u003E \\u0026 co" in o["created_raw"].body
    # 5: confidence with r2's mixed precision: the zero-upvote comments, which float32 would tie
    # (and order by id), are ordered by their double results
    conf = [t["data"] for t in kids(o["conf"].json()[1]) if t["kind"] == "t1"]
    scores = {d["name"]: d for d in conf}
    order = [d["name"] for d in conf]
    assert order.index(n["Z9"]) < order.index(n["Z5"])
    votes = {n[c.name]: (c.ups, c.downs) for c in R2_COMMENTS if c.parent is None}
    expected = sorted((name for name in order), key=lambda nm: (-c_confidence(*votes[nm]), from36(nm[3:])))
    assert order == expected and set(scores) <= set(votes)
    # 6: at most 20 comments, best-first, stubs for the rest; POST equals GET
    things = o["mc"].json()["json"]["data"]["things"]
    shown = [t for t in things if t["kind"] == "t1"]
    stubs = [t["data"] for t in things if t["kind"] == "more"]
    assert len(shown) == 20 and len(shown) + sum(st["count"] for st in stubs) == 26  # M0..M24 and M0a
    assert o["mc_post"].body == o["mc"].body
    assert [t["data"]["name"] for t in o["mc_shallow"].json()["json"]["data"]["things"]] == [n["M3"]]
    # 7: bad options are ignored or clamped; r2's path forms; info drops malformed names
    for q, reply in o["lenient"].items():
        assert reply.status == 200 and reply.body == o["default"].body, q
    assert o["limit_2048"].body == o["limit_500"].body
    assert len([t for t in walk(kids(o["limit_sp"].json()[1])) if t["kind"] == "t1"]) == 2
    for path, reply in o["paths"].items():
        assert reply.status == 200 and reply.body == o["default"].body, path
    assert o["wrong_sr"].status == 404
    (focused,) = kids(o["permalink"].json()[1])
    assert focused["data"]["name"] == n["P1"] and focused["data"]["depth"] == 0
    (parent,) = kids(o["permalink_ctx"].json()[1])
    assert parent["data"]["name"] == n["M0"] and [c["data"]["name"] for c in kids(parent["data"]["replies"])] == [n["M0a"]]
    assert o["permalink_other"].status == 404
    assert [t["data"]["name"] for t in kids(o["info_lenient"].json())] == [R2_LINK]
    assert o["info_empty"].status == 200 and kids(o["info_empty"].json()) == []
    for reply in o["blank"]:
        assert (reply.status, reply.json()["json"]["errors"][0][0]) == (400, "NO_TEXT")
    # 8: the same text commits nothing; a deleted comment cannot be edited (403) or voted on (404)
    assert o["noop"].status == 200 and o["noop_unchanged"]
    assert (o["edit_deleted"].status, o["edit_deleted"].json()["json"]["errors"][0][0]) == (403, "FORBIDDEN")
    assert (o["vote_deleted"].status, o["vote_deleted"].json()["json"]["errors"][0][0]) == (404, "NOT_FOUND")
    late = o["noop_late"].json()["json"]["data"]["things"][0]["data"]
    assert late["edited"] == T0 + 400 and o["version_after"] == 1 + 3 + 1  # created, 3 votes, the late edit
    # 9: a float attribute is an EAV number, decoded back to a float
    assert o["ratio_row"] == (repr(R2_UPVOTE_RATIO), "num")
    assert kids(o["link"].json())[0]["data"]["upvote_ratio"] == R2_UPVOTE_RATIO
    # 11: inside the window others see score 1 (ups 1); the author sees the real score; after it, all do
    anon = kids(o["hidden_anon"].json())[0]["data"]
    assert (anon["score"], anon["ups"], anon["downs"]) == (1, 1, 0)
    assert kids(o["hidden_other"].json())[0]["data"]["score"] == 1
    assert kids(o["hidden_author"].json())[0]["data"]["score"] == 4
    assert kids(o["shown_anon"].json())[0]["data"]["score"] == 4


# --- 10: the commit lock -------------------------------------------------------------------------

@pytest.fixture
def memcache(contract):
    _, _, addresses = contract
    client = Client(addresses.memcached_host_port)
    yield client
    client.close()


async def test_commit_lock_serialises_writes_without_losing_any(contract, memcache, service_factory) -> None:
    """Concurrent votes and edits on one comment all land, and no lock key is left behind. The
    legacy takes r2's `commit_t1_<id36>` lock (nonce value, 30 s expiry) and waits for a holder
    of it; the rewrite needs no lock and ignores the key (a foreign holder is never removed)."""
    url, clock, addresses = contract
    s = Session(url, "r2-lock")
    try:
        name = R2_NAMES["P"]
        key = f"commit_{name}"
        memcache.set(key, b"another-process-nonce", expire=30)
        voters = ("bob", "carol", "dave")
        votes = [asyncio.create_task(s.send("POST", "/api/vote", form={"id": name, "dir": "-1"}, user=v))
                 for v in voters]
        edit = asyncio.create_task(s.send("POST", "/api/editusertext", form={"thing_id": name, "text": "locked"},
                                          user="alice"))
        is_legacy = service_factory.__name__ == "legacy_service"
        if is_legacy:
            deadline = time.monotonic() + 0.5  # while the other holder keeps it, nothing lands
            while time.monotonic() < deadline:
                assert not any(t.done() for t in (*votes, edit))
                await asyncio.sleep(0.05)
            assert memcache.get(key) == b"another-process-nonce"
            memcache.delete(key)  # the other holder releases
        replies = await asyncio.wait_for(asyncio.gather(*votes, edit), timeout=30)
        assert [r.status for r in replies] == [200, 200, 200, 200]
        if not is_legacy:
            assert memcache.get(key) == b"another-process-nonce"  # untouched
            memcache.delete(key)
        assert memcache.get(key) is None
        conn = await asyncpg.connect(addresses.postgres)
        try:
            ups, downs, version = await conn.fetchrow(
                "SELECT ups, downs, version FROM reddit_thing_comment WHERE thing_id = $1", from36(name[3:]))
        finally:
            await conn.close()
        assert (ups, downs, version) == (100, 3, 1 + 3 + 1)
        info = await s.send("GET", "/api/info", {"id": name})
        assert kids(info.json())[0]["data"]["body"] == "locked" and kids(info.json())[0]["data"]["score"] == 97
    finally:
        await s.close()
