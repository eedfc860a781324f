"""Golden contract of the three reads over the seeded real threads, plus independent checks of
the quirks (so the golden file is not merely self-fulfilling)."""

from __future__ import annotations


from tests.contract.harness import Session
from tests.contract.stores_state import snapshot

KEYS = ["subreddit_id", "link_id", "likes", "replies", "id", "gilded", "author", "parent_id", "score", "body",
        "edited", "downs", "subreddit", "name", "created", "created_utc", "ups", "distinguished", "stickied",
        "controversiality"]
LINK_KEYS = ["subreddit_id", "title", "author", "num_comments", "score", "ups", "downs", "name", "id", "created",
             "created_utc", "url", "selftext", "subreddit", "permalink", "upvote_ratio"]


def walk(children):
    for child in children:
        yield child
        replies = child["data"].get("replies")
        if child["kind"] == "t1" and replies:
            yield from walk(replies["data"]["children"])


def check_comment(data: dict, with_depth: bool) -> None:
    assert list(data) == KEYS + (["depth"] if with_depth else [])
    assert data["downs"] == 0 and data["score"] == data["ups"] and data["likes"] is None
    assert data["created"] - data["created_utc"] == 28800.0  # tz_offset -28800: created is 8 h later
    assert data["created_utc"] == float(int(data["created_utc"]))
    assert data["edited"] is False or isinstance(data["edited"], float)
    assert data["name"] == "t1_" + data["id"]


async def test_reads_contract(contract) -> None:
    url, _, addresses = contract
    s = Session(url, "reads")
    try:
        default = await s.step("thread default sort", "GET", "/comments/haucpf")
        by_sort = {}
        for sort in ("confidence", "top", "new", "old", "controversial"):
            by_sort[sort] = await s.step(f"thread sort={sort}", "GET", "/comments/haucpf", {"sort": sort})
        limited = await s.step("thread limit=5", "GET", "/comments/haucpf", {"limit": "5"})
        await s.step("thread limit=1 sort=old", "GET", "/comments/haucpf", {"limit": "1", "sort": "old"})
        shallow = await s.step("thread depth=1", "GET", "/comments/haucpf", {"depth": "1"})
        await s.step("thread depth=2 limit=12 sort=top", "GET", "/comments/haucpf",
                     {"depth": "2", "limit": "12", "sort": "top"})
        deleted = await s.step("thread with [deleted] comments", "GET", "/comments/fjn0j9", {"sort": "old"})
        await s.step("thread fjn0j9 limit=20 depth=3 new", "GET", "/comments/fjn0j9",
                     {"limit": "20", "depth": "3", "sort": "new"})
        # Seeded scores <= 0 have downvotes (ups=1, downs=1-score): controversial and confidence differ.
        contro = await s.step("thread fjn0j9 controversial", "GET", "/comments/fjn0j9",
                              {"sort": "controversial", "limit": "30"})
        await s.step("thread fjn0j9 confidence", "GET", "/comments/fjn0j9", {"sort": "confidence", "limit": "30"})
        info = await s.step("info comment with astral emoji", "GET", "/api/info", {"id": "t1_fv5157b"})
        await s.step("info mixed, unknown left out, order kept", "GET", "/api/info",
                     {"id": "t1_fv51rzs,t3_haucpf,t1_zzzzzzz,t2_1,t5_2qh0u,t1_fv567tl,t3_fjn0j9"})
        stub = next(c for c in limited.json()[1]["data"]["children"] if c["kind"] == "more")["data"]
        more = await s.step("morechildren from the top-level limit stub", "GET", "/api/morechildren",
                            {"link_id": "t3_haucpf", "children": ",".join(stub["children"][:6])})
        for sort in ("top", "new", "old", "controversial"):
            await s.step(f"morechildren sort={sort}", "GET", "/api/morechildren",
                         {"link_id": "t3_haucpf", "children": ",".join(stub["children"][:4]), "sort": sort})
        await s.step("morechildren skips unknown and other-link ids", "GET", "/api/morechildren",
                     {"link_id": "t3_haucpf", "children": "zzzzzz," + stub["children"][0] + ",fknw018"})
        await read_errors(s, addresses)
    finally:
        await s.close()
    s.check()

    # --- independent quirk checks -------------------------------------------------------------
    assert default.body == by_sort["confidence"].body
    assert default.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert b'", "' in default.body and b'": ' in default.body and default.body.isascii()
    link_listing, comments = default.json()
    assert list(link_listing["data"]["children"][0]["data"]) == LINK_KEYS
    assert list(comments["data"]) == ["modhash", "children", "after", "before"]
    for thing in walk(comments["data"]["children"]):
        if thing["kind"] == "t1":
            check_comment(thing["data"], with_depth=True)
    assert b"\\ud83d\\udc4f" in info.body  # U+1F44F as a surrogate pair, ensure_ascii
    assert info.json()["data"]["children"][0]["data"]["body"] == "\N{CLAPPING HANDS SIGN}"
    tops = [c["data"] for c in by_sort["top"].json()[1]["data"]["children"] if c["kind"] == "t1"]
    assert [(-c["score"], int(c["id"], 36)) for c in tops] == sorted((-c["score"], int(c["id"], 36)) for c in tops)
    olds = [int(c["data"]["id"], 36) for c in by_sort["old"].json()[1]["data"]["children"] if c["kind"] == "t1"]
    assert olds == sorted(olds)
    news = [int(c["data"]["id"], 36) for c in by_sort["new"].json()[1]["data"]["children"] if c["kind"] == "t1"]
    assert news == sorted(news, reverse=True)
    shown = [t for t in walk(limited.json()[1]["data"]["children"]) if t["kind"] == "t1"]
    assert len(shown) == 5
    total = sum(1 for t in walk(default.json()[1]["data"]["children"]) if t["kind"] == "t1")
    stubs = [t["data"] for t in walk(limited.json()[1]["data"]["children"]) if t["kind"] == "more"]
    assert sum(st["count"] for st in stubs) == total - 5
    assert list(stubs[0]) == ["count", "name", "id", "parent_id", "depth", "children"]
    assert stub["name"] == "t1_" + stub["children"][0] and stub["parent_id"] == "t3_haucpf"
    for top_level in shallow.json()[1]["data"]["children"]:
        replies = top_level["data"]["replies"]
        if replies:
            (depth_stub,) = replies["data"]["children"]
            assert depth_stub["data"] == {"count": 0, "name": "t1__", "id": "_", "depth": 1, "children": [],
                                          "parent_id": top_level["data"]["name"]}
    first = contro.json()[1]["data"]["children"][0]["data"]
    assert first["score"] <= 0  # the only comments with downvotes lead the controversial order
    dead = [t["data"] for t in walk(deleted.json()[1]["data"]["children"]) if t["kind"] == "t1"
            and t["data"]["body"] == "[deleted]"]
    assert dead and all(d["author"] == "[deleted]" for d in dead)
    things = more.json()["json"]["data"]["things"]
    assert more.json()["json"]["errors"] == [] and all(t["data"]["replies"] == "" for t in things if t["kind"] == "t1")
    assert all("depth" not in t["data"] for t in things if t["kind"] == "t1")


async def read_errors(s: Session, addresses) -> None:
    """Every read error; the stores are compared before and after the whole batch."""
    before = await snapshot(addresses)
    await _read_errors(s)
    assert await snapshot(addresses) == before, "a failed read changed a store"


async def _read_errors(s: Session) -> None:
    await s.step("comments unknown link", "GET", "/comments/zzzzzz")
    await s.step("comments malformed link", "GET", "/comments/HAUCPF")
    await s.step("comments query not utf-8", "GET", "/comments/haucpf", "sort=%ff")
    await s.step("info missing id", "GET", "/api/info")
    for ids in ("t1_", "t4_abc", "t1_ABC", "t1_0", "t1_" + "z" * 13, "fv5157b"):
        await s.step(f"info malformed {ids}", "GET", "/api/info", {"id": ids})
    await s.step("info 101 ids", "GET", "/api/info", {"id": ",".join(f"t1_{i}" for i in range(1, 102))})
    await s.step("info query not utf-8", "GET", "/api/info", "id=t1_fv5157b%c3%28")
    await s.step("morechildren missing link_id", "GET", "/api/morechildren", {"children": "fv5157b"})
    await s.step("morechildren link_id not a link", "GET", "/api/morechildren",
                 {"link_id": "t1_fv5157b", "children": "fv5157b"})
    await s.step("morechildren missing children", "GET", "/api/morechildren", {"link_id": "t3_haucpf"})
    await s.step("morechildren malformed children", "GET", "/api/morechildren",
                 {"link_id": "t3_haucpf", "children": "fv5157b,Bad"})
    await s.step("morechildren unknown link", "GET", "/api/morechildren",
                 {"link_id": "t3_zzzzzz", "children": "fv5157b"})
