"""Tree-walk invariants on random trees (pure: no stores)."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from legacy_adapter.codec import to36
from legacy_adapter.listing import Tree, comment_listing, more_children

LINK = "t3_1"
WHEN = datetime(2020, 1, 1, tzinfo=timezone.utc)


@st.composite
def trees(draw):
    n = draw(st.integers(min_value=0, max_value=40))
    parents = [draw(st.integers(min_value=0, max_value=i)) for i in range(n)]  # 0 = the link
    objs, tree = {}, {}
    for i, parent in enumerate(parents, start=1):
        ups, downs = draw(st.integers(0, 20)), draw(st.integers(0, 20))
        objs[i] = {"_id": i, "_ups": ups, "_downs": downs, "_t": {"link_id": 1}, "_date": WHEN,
                   "_deleted": draw(st.booleans()) and draw(st.booleans()), "_spam": False}
        key = LINK if parent == 0 else f"t1_{to36(parent)}"
        tree.setdefault(key, []).append(to36(i))
    return tree, objs


def render(obj, replies, depth):
    return {"kind": "t1", "data": {"id": to36(obj["_id"]), "replies": replies, "depth": depth}}


def deleted(obj):
    return obj["_deleted"]


def never(obj):
    return False


def descendants(tree, name):
    kids = tree.get(name, [])
    return len(kids) + sum(descendants(tree, f"t1_{k}") for k in kids)


def walk(children):
    for c in children:
        yield c
        if c["kind"] == "t1" and c["data"]["replies"]:
            yield from walk(c["data"]["replies"]["data"]["children"])


@settings(max_examples=150, deadline=None)
@given(trees(), st.integers(1, 50), st.sampled_from(["confidence", "top", "new", "old", "controversial"]))
def test_every_comment_is_shown_or_behind_a_stub(data, limit, sort) -> None:
    tree, objs = data
    out = list(walk(comment_listing(Tree(tree, objs, sort), LINK, limit, 10, render, never)))
    shown = [t for t in out if t["kind"] == "t1"]
    stubs = [t["data"] for t in out if t["kind"] == "more"]
    assert len(shown) <= limit
    assert len({t["data"]["id"] for t in shown}) == len(shown)
    behind_depth = sum(descendants(tree, s["parent_id"]) for s in stubs if s["id"] == "_")
    assert len(shown) + sum(s["count"] for s in stubs) + behind_depth == len(objs)
    if len(objs) <= limit:
        assert not [s for s in stubs if s["id"] != "_"]
    for s in stubs:
        if s["id"] != "_":
            assert s["id"] == s["children"][0] and s["name"] == "t1_" + s["id"]


@settings(max_examples=100, deadline=None)
@given(trees(), st.integers(1, 50))
def test_deleted_leaves_are_dropped_but_use_a_pick(data, limit) -> None:
    tree, objs = data
    out = list(walk(comment_listing(Tree(tree, objs, "top"), LINK, limit, 10, render, deleted)))
    shown = {int(t["data"]["id"], 36) for t in out if t["kind"] == "t1"}
    stubbed = {int(c, 36) for t in out if t["kind"] == "more" for c in t["data"]["children"]}
    for i in shown | stubbed:
        assert not (objs[i]["_deleted"] and i in shown and not descendants(tree, f"t1_{to36(i)}")), i
    assert len(shown) <= limit


def test_best_first_across_the_whole_frontier() -> None:
    """The issue's example: A(10) with child A1(1), top-level B(5), limit 2: A and B, A1 in a stub."""
    objs = {i: {"_id": i, "_ups": u, "_downs": 0, "_t": {"link_id": 1}, "_date": WHEN, "_deleted": False,
                "_spam": False} for i, u in ((1, 10), (2, 1), (3, 5))}
    tree = {LINK: ["1", "3"], "t1_1": ["2"]}
    out = comment_listing(Tree(tree, objs, "top"), LINK, 2, 10, render, never)
    assert [t["data"]["id"] for t in out] == ["1", "3"]
    (stub,) = out[0]["data"]["replies"]["data"]["children"]
    assert stub["kind"] == "more" and stub["data"]["children"] == ["2"] and stub["data"]["count"] == 1


def test_deleted_leaf_is_dropped_deleted_parent_kept() -> None:
    objs = {i: {"_id": i, "_ups": 1, "_downs": 0, "_t": {"link_id": 1}, "_date": WHEN, "_deleted": d,
                "_spam": False} for i, d in ((1, True), (2, False), (3, True))}
    tree = {LINK: ["1", "3"], "t1_1": ["2"]}
    out = comment_listing(Tree(tree, objs, "old"), LINK, 10, 10, render, deleted)
    assert [t["data"]["id"] for t in walk(out)] == ["1", "2"]


@settings(max_examples=100, deadline=None)
@given(trees(), st.integers(1, 4))
def test_depth_stubs_replace_deeper_levels(data, depth) -> None:
    tree, objs = data
    out = list(walk(comment_listing(Tree(tree, objs, "top"), LINK, 500, depth, render, never)))
    assert all(t["data"]["depth"] < depth for t in out if t["kind"] == "t1")
    for t in out:
        if t["kind"] == "more":
            assert t["data"]["count"] == 0 and t["data"]["depth"] == depth and t["data"]["id"] == "_"


@settings(max_examples=100, deadline=None)
@given(trees())
def test_morechildren_is_flat_unique_and_bounded(data) -> None:
    tree, objs = data
    requested = list(objs)[:5] + list(objs)[:2]
    things = more_children(Tree(tree, objs, "old"), 1, requested, render, never)
    comments = [t for t in things if t["kind"] == "t1"]
    ids = [t["data"]["id"] for t in comments]
    assert len(ids) == len(set(ids)) <= 20 and all(t["data"]["replies"] == "" for t in comments)
    # every requested comment at the shallowest depth is returned or in a stub
    returned = set(ids) | {c for t in things if t["kind"] == "more" for c in t["data"]["children"]}
    if requested:
        t = Tree(tree, objs, "old")
        depths = {i: t.depth(f"t1_{to36(i)}") for i in requested}
        top = min(depths.values())
        assert {to36(i) for i, d in depths.items() if d == top} <= returned
