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
        objs[i] = {"_id": i, "_ups": ups, "_downs": downs, "_t": {"link_id": 1}, "_date": WHEN}
        key = LINK if parent == 0 else f"t1_{to36(parent)}"
        tree.setdefault(key, []).append(to36(i))
    return tree, objs


def render(obj, replies, depth):
    return {"kind": "t1", "data": {"id": to36(obj["_id"]), "replies": replies, "depth": depth}}


def walk(children):
    for c in children:
        yield c
        if c["kind"] == "t1" and c["data"]["replies"]:
            yield from walk(c["data"]["replies"]["data"]["children"])


@settings(max_examples=150, deadline=None)
@given(trees(), st.integers(1, 50), st.sampled_from(["confidence", "top", "new", "old", "controversial"]))
def test_limit_stubs_account_for_every_hidden_comment(data, limit, sort) -> None:
    tree, objs = data
    out = list(walk(comment_listing(Tree(tree, objs, sort), LINK, limit, 10, render)))
    shown = [t for t in out if t["kind"] == "t1"]
    stubs = [t["data"] for t in out if t["kind"] == "more"]
    assert len(shown) == min(limit, len(objs))
    assert len({t["data"]["id"] for t in shown}) == len(shown)
    assert len(shown) + sum(s["count"] for s in stubs) == len(objs)
    for s in stubs:
        assert s["id"] == s["children"][0] and s["name"] == "t1_" + s["id"]


@settings(max_examples=100, deadline=None)
@given(trees(), st.integers(1, 4))
def test_depth_stubs_replace_deeper_levels(data, depth) -> None:
    tree, objs = data
    out = list(walk(comment_listing(Tree(tree, objs, "top"), LINK, 500, depth, render)))
    assert all(t["data"]["depth"] < depth for t in out if t["kind"] == "t1")
    for t in out:
        if t["kind"] == "more":
            assert t["data"]["count"] == 0 and t["data"]["depth"] == depth and t["data"]["id"] == "_"


@settings(max_examples=100, deadline=None)
@given(trees())
def test_morechildren_is_flat_unique_and_bounded(data) -> None:
    tree, objs = data
    requested = list(objs)[:5] + list(objs)[:2]
    things = more_children(Tree(tree, objs, "old"), 1, requested, render)
    ids = [t["data"]["id"] for t in things]
    assert len(ids) == len(set(ids)) <= 100 and all(t["data"]["replies"] == "" for t in things)
