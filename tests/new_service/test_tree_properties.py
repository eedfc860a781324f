"""The thread walk's invariants on random trees: nothing is lost, the limit holds."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from new_comments_service.model import Thing
from new_comments_service.render import Names, comment_object
from new_comments_service.tree import Tree, more_children, thread_children

LINK = 7
NAMES = Names({1: "a"}, {2: "pics"})
DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _forest(parents: list[int | None], votes: list[tuple[int, int]]) -> list[Thing]:
    things = []
    for i, (parent, (ups, downs)) in enumerate(zip(parents, votes), start=1):
        attrs = {"body": "b", "author_id": 1, "link_id": LINK, "sr_id": 2}
        if parent is not None:
            attrs["parent_id"] = parent
        things.append(Thing(i, ups, downs, False, False, DATE, 1, attrs))
    return things


@st.composite
def forests(draw):
    n = draw(st.integers(1, 40))
    # a parent always has a smaller id, so the result is a forest
    parents = [None] + [draw(st.one_of(st.none(), st.integers(1, i))) for i in range(1, n)]
    votes = draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=n, max_size=n))
    return _forest(parents, votes)


def _walk(nodes: list[dict], depth: int, acc: dict) -> None:
    for node in nodes:
        data = node["data"]
        if node["kind"] == "more":
            assert data["depth"] == depth
            acc["hidden"] += data["count"]
            acc["depth_stubs"] += data["id"] == "_"
            continue
        assert data["depth"] == depth
        acc["shown"] += 1
        if data["replies"]:
            _walk(data["replies"]["data"]["children"], depth + 1, acc)


@settings(max_examples=150, deadline=None)
@given(forests(), st.integers(1, 45), st.sampled_from(["confidence", "top", "new", "old", "controversial"]))
def test_limit_walk_accounts_for_every_comment(things: list[Thing], limit: int, sort: str) -> None:
    tree = Tree(LINK, things, sort)
    acc = {"shown": 0, "hidden": 0, "depth_stubs": 0}
    _walk(thread_children(tree, _render, _never, limit, 10), 0, acc)
    if max(_depths(things).values()) < 9:  # no depth stubs: shown + counted-as-hidden is everything
        assert acc["shown"] == min(limit, len(things))
        assert acc["depth_stubs"] == 0 and acc["shown"] + acc["hidden"] == len(things)
    # morechildren of every top-level comment: at most 20, the rest behind stubs
    tops = [t.thing_id for t in things if t.parent_id is None]
    got = more_children(Tree(LINK, things, sort), tops, _render, _never)
    shown = [g for g in got if g["kind"] == "t1"]
    assert len(shown) == min(len(things), 20)
    if max(_depths(things).values()) < 9:
        assert len(shown) + sum(g["data"]["count"] for g in got if g["kind"] == "more") == len(things)


def _render(c: Thing, replies: object, depth: int | None) -> dict:
    return comment_object(c, NAMES, 0, replies, depth)


def _never(c: Thing) -> bool:
    return False


def _depths(things: list[Thing]) -> dict[int, int]:
    depth: dict[int, int] = {}
    for t in things:  # parents come first
        depth[t.thing_id] = 0 if t.parent_id is None else depth[t.parent_id] + 1
    return depth
