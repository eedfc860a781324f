"""The three reads: key orders, sorts, limit and depth stubs, morechildren, info (primary mode)."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient

from new_comments_service.ids import to36
from tests.new_service.support import LINK, LINK36, SEQUENCE_FLOOR, FakeClock
from tests.support.stores import StoreSets

F = SEQUENCE_FLOOR + 1
A, B, C, A1, A2, A1A = F, F + 1, F + 2, F + 3, F + 4, F + 5
COMMENT_KEYS = ["subreddit_id", "link_id", "likes", "replies", "id", "gilded", "author", "parent_id", "score",
                "body", "edited", "downs", "subreddit", "name", "created", "created_utc", "ups", "distinguished",
                "stickied", "controversiality"]


def t1(n: int) -> str:
    return f"t1_{to36(n)}"


async def _post(client: TestClient, path: str, user: str, **form: str) -> None:
    resp = await client.post(path, data=form, headers={"X-Auth-User": user})
    assert resp.status == 200, await resp.text()


async def _thread(client: TestClient, clock: FakeClock) -> None:
    """A(alice) > [A1(bob) > [A1a(carol)], A2(carol)]; B(bob) with 2 upvotes; C(carol) with a downvote."""
    for user, parent in (("alice", f"t3_{LINK36}"), ("bob", f"t3_{LINK36}"), ("carol", f"t3_{LINK36}"),
                         ("bob", t1(A)), ("carol", t1(A)), ("carol", t1(A1))):
        clock.advance(1)
        await _post(client, "/api/comment", user, thing_id=parent, text=f"by {user}")
    for user, target, direction in (("alice", B, "1"), ("carol", B, "1"), ("alice", C, "-1")):
        await _post(client, "/api/vote", user, id=t1(target), dir=direction)


def _ids(listing: dict) -> list[str]:
    return [c["data"]["id"] if c["kind"] == "t1" else "more:" + ",".join(c["data"]["children"])
            for c in listing["data"]["children"]]


async def _get(client: TestClient, url: str) -> tuple[int, object]:
    resp = await client.get(url)
    return resp.status, json.loads(await resp.read())


async def test_sort_orders(primary: TestClient, clock: FakeClock) -> None:
    await _thread(primary, clock)
    expected = {"confidence": [B, A, C], "top": [B, A, C], "new": [C, B, A], "old": [A, B, C],
                "controversial": [C, A, B]}
    for sort, order in expected.items():
        status, (link_listing, comments) = await _get(primary, f"/comments/{LINK36}?sort={sort}")
        assert status == 200
        assert _ids(comments) == [to36(i) for i in order], sort
    status, (link_listing, comments) = await _get(primary, f"/comments/{LINK36}")
    assert _ids(comments) == [to36(i) for i in expected["confidence"]]
    link = link_listing["data"]["children"][0]
    assert list(link["data"]) == ["subreddit_id", "title", "author", "num_comments", "score", "ups", "downs", "name",
                                  "id", "created", "created_utc", "url", "selftext", "subreddit", "permalink",
                                  "upvote_ratio"]
    assert link["data"]["num_comments"] == 6 and link["data"]["author"] == "bob" and link["data"]["score"] == 8
    assert link["data"]["permalink"] == f"/r/pics/comments/{LINK36}/"
    assert link["data"]["created"] - link["data"]["created_utc"] == 28800
    top = comments["data"]["children"][1]["data"]
    assert list(top) == COMMENT_KEYS + ["depth"] and top["depth"] == 0
    assert _ids(top["replies"]) == [to36(A1), to36(A2)]
    assert top["replies"]["data"]["children"][0]["data"]["replies"]["data"]["children"][0]["data"]["depth"] == 2
    c = comments["data"]["children"][2]["data"]
    assert (c["ups"], c["score"], c["downs"], c["controversiality"]) == (0, 0, 0, 0)  # 2 votes: under the floor of 7


async def test_limit_and_depth_stubs(primary: TestClient, clock: FakeClock) -> None:
    await _thread(primary, clock)
    _, (_, comments) = await _get(primary, f"/comments/{LINK36}?sort=old&limit=3")
    top = comments["data"]["children"]
    # best-first over the whole frontier: after A, B and C (older) beat A's replies A1 and A2
    assert _ids(comments) == [to36(A), to36(B), to36(C)]
    a_replies = top[0]["data"]["replies"]
    assert _ids(a_replies) == [f"more:{to36(A1)},{to36(A2)}"]
    assert a_replies["data"]["children"][0]["data"] == {"count": 3, "name": t1(A1), "id": to36(A1),
                                                         "parent_id": t1(A), "depth": 1,
                                                         "children": [to36(A1), to36(A2)]}
    # limit 1: A shown, its 3 descendants hidden behind one stub, B and C behind another
    _, (_, comments) = await _get(primary, f"/comments/{LINK36}?sort=old&limit=1")
    stub = comments["data"]["children"][0]["data"]["replies"]["data"]["children"][0]["data"]
    assert stub["count"] == 3 and stub["children"] == [to36(A1), to36(A2)]

    _, (_, comments) = await _get(primary, f"/comments/{LINK36}?sort=old&depth=2")
    a1 = comments["data"]["children"][0]["data"]["replies"]["data"]["children"][0]["data"]
    assert a1["depth"] == 1
    assert a1["replies"]["data"]["children"] == [{"kind": "more", "data": {
        "count": 0, "name": "t1__", "id": "_", "parent_id": t1(A1), "depth": 2, "children": []}}]
    _, (_, comments) = await _get(primary, f"/comments/{LINK36}?depth=1")
    assert comments["data"]["children"][0]["data"]["replies"] == ""  # B has no children
    a = comments["data"]["children"][1]["data"]
    assert a["replies"]["data"]["children"][0]["data"]["id"] == "_"


async def test_morechildren(primary: TestClient, clock: FakeClock) -> None:
    await _thread(primary, clock)
    status, body = await _get(primary, f"/api/morechildren?link_id=t3_{LINK36}&children={to36(C)},{to36(A1)}&sort=top")
    assert status == 200 and body["json"]["errors"] == []
    # only the requested comments at the shallowest depth among them (C, top level) are built from
    assert [t["data"]["id"] for t in body["json"]["data"]["things"]] == [to36(C)]
    status, body = await _get(primary, f"/api/morechildren?link_id=t3_{LINK36}&children={to36(A2)},{to36(A1)}&sort=top")
    things = body["json"]["data"]["things"]
    assert [t["data"]["id"] for t in things] == [to36(A1), to36(A1A), to36(A2)]
    assert all(t["data"]["replies"] == "" and list(t["data"]) == COMMENT_KEYS for t in things)
    post_resp = await primary.post("/api/morechildren/", data={"link_id": f"t3_{LINK36}", "api_type": "json",
                                                               "children": f"{to36(A2)},{to36(A1)}", "sort": "top"})
    assert post_resp.status == 200 and (await post_resp.json())["json"]["data"]["things"] == things
    status, body = await _get(primary, f"/api/morechildren?link_id=t1_{to36(A)}&children=1")
    assert status == 400 and body["json"]["errors"][0][0] == "NO_THING_ID"


async def test_info_order_unknown_and_errors(primary: TestClient, clock: FakeClock, seeded: StoreSets) -> None:
    await _thread(primary, clock)
    status, body = await _get(primary, f"/api/info?id={t1(C)},t3_{LINK36},t1_zzzzz,t2_b,{t1(A)}")
    assert status == 200
    assert [c["kind"] for c in body["data"]["children"]] == ["t1", "t3", "t1"]
    assert body["data"]["children"][0]["data"]["name"] == t1(C)
    assert list(body["data"]["children"][0]["data"]) == COMMENT_KEYS
    assert body["data"]["children"][1]["data"]["id"] == LINK36 == to36(LINK)
    assert list(body) == ["kind", "data"] and list(body["data"]) == ["modhash", "children", "after", "before"]
    for query in ("id=t1_AB", "id=t1_0", "id=t9_1", "id=t1_" + "z" * 14, "id="):  # malformed names are dropped
        status, body = await _get(primary, f"/api/info?{query}")
        assert status == 200 and body["data"]["children"] == [], query
    for query, code in (("id=" + ",".join(["t1_1"] * 101), "INVALID_OPTION"), ("id=t1_%FF", "BAD_ENCODING")):
        status, body = await _get(primary, f"/api/info?{query}")
        assert status == 400 and body["json"]["errors"][0][0] == code, query
    _, default = await _get(primary, f"/comments/{LINK36}")
    for query in ("sort=best", "limit=0", "limit=x", "depth=11", "depth=0"):  # ignored: the defaults apply
        status, body = await _get(primary, f"/comments/{LINK36}?{query}")
        assert status == 200 and body == default, query
    status, body = await _get(primary, "/comments/zzzzz")
    assert status == 404 and body["json"]["errors"][0][0] == "NOT_FOUND"
