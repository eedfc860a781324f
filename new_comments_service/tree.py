"""The comment tree of one link, built best-first (docs/legacy-formats.md, "Tree building").

A single priority queue holds the frontier: every comment whose parent is already shown. The best
by the sort's key (ties: lower id) is shown next and its children join the queue, until `limit`
comments are chosen. The chosen ones are then placed under their parents in the order chosen, with
stubs for what was left out. Deleted (or removed) comments with no descendants are dropped after
being chosen, so they still count against the limit.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from new_comments_service.ids import comment_fullname, link_fullname
from new_comments_service.model import Thing
from new_comments_service.render import listing, more_for_depth, more_for_limit
from new_comments_service.sorts import sort_key, sort_things

MORECHILDREN_MAX = 20
MAX_DEPTH = 10
RenderFn = Callable[[Thing, Any, "int | None"], dict]


class Tree:
    """Parent id (None for the link) -> children in sort order, for one link's comments."""

    def __init__(self, link_id: int, comments: list[Thing], sort: str) -> None:
        self.link_id = link_id
        self.sort = sort
        self.key = sort_key(sort)
        self.by_id = {c.thing_id: c for c in comments}
        groups: dict[int | None, list[Thing]] = {}
        for c in comments:
            groups.setdefault(c.parent_id, []).append(c)
        self.children = {parent: sort_things(group, sort) for parent, group in groups.items()}
        self._counts: dict[int, int] = {}
        self._depths: dict[int, int] = {}

    def kids(self, parent: int | None) -> list[Thing]:
        return self.children.get(parent, [])

    def descendant_count(self, thing_id: int) -> int:
        """How many comments hang below this one (reachable ones only)."""
        if thing_id not in self._counts:
            total = 0
            pending = [thing_id]
            while pending:
                below = self.kids(pending.pop())
                total += len(below)
                pending.extend(c.thing_id for c in below)
            self._counts[thing_id] = total
        return self._counts[thing_id]

    def depth_of(self, c: Thing) -> int:
        if c.thing_id not in self._depths:
            chain: list[Thing] = []
            node: Thing | None = c
            while node is not None and node.thing_id not in self._depths:
                chain.append(node)
                node = self.by_id.get(node.parent_id) if node.parent_id is not None else None
            base = -1 if node is None else self._depths[node.thing_id]
            for n in reversed(chain):
                base += 1
                self._depths[n.thing_id] = base
        return self._depths[c.thing_id]

    def only_path(self, target: Thing, context: int) -> Thing:
        """Permalink: keep just the branch from `context` ancestors of `target` down to it; returns
        the branch's top comment."""
        top = target
        for _ in range(context):
            parent = self.by_id.get(top.parent_id) if top.parent_id is not None else None
            if parent is None:
                break
            top = parent
        node = target
        while node is not top:
            self.children[node.parent_id] = [node]
            node = self.by_id[node.parent_id]  # type: ignore[index]
        self._counts.clear()
        return top


@dataclass
class Shown:
    thing: Thing
    depth: int
    below: list["Shown | dict"] = field(default_factory=list)


def _choose(tree: Tree, start: Iterable[Thing], base: int, limit: int, max_depth: int) -> tuple[list[Shown], set[int]]:
    queue = [(tree.key(c), c.thing_id, c) for c in start]
    heapq.heapify(queue)
    chosen: list[Shown] = []
    while queue and len(chosen) < limit:
        _, _, c = heapq.heappop(queue)
        depth = tree.depth_of(c) - base
        if depth >= max_depth:
            continue
        chosen.append(Shown(c, depth))
        if depth + 1 < max_depth:
            for child in tree.kids(c.thing_id):
                heapq.heappush(queue, (tree.key(child), child.thing_id, child))
    return chosen, {s.thing.thing_id for s in chosen}


def _parent_fullname(tree: Tree, parent: int | None) -> str:
    return link_fullname(tree.link_id) if parent is None else comment_fullname(parent)


def _arrange(tree: Tree, start: list[Thing], base: int, limit: int, max_depth: int,
             hidden_as_deleted: Callable[[Thing], bool]) -> list["Shown | dict"]:
    chosen, chosen_ids = _choose(tree, start, base, limit, max_depth)
    by_id = {s.thing.thing_id: s for s in chosen}
    roots: list[Shown | dict] = []
    for s in chosen:
        if hidden_as_deleted(s.thing) and tree.descendant_count(s.thing.thing_id) == 0:
            continue
        holder = by_id.get(s.thing.parent_id) if s.thing.parent_id is not None else None
        (holder.below if holder is not None else roots).append(s)
    for s in chosen:
        tid = s.thing.thing_id
        if s.depth == max_depth - 1:
            if tree.descendant_count(tid) > 0:
                s.below.append(more_for_depth(comment_fullname(tid), s.depth + 1))
            continue
        left_out = [c for c in tree.kids(tid) if c.thing_id not in chosen_ids]
        if left_out and s.depth < max_depth - 1:
            count = sum(1 + tree.descendant_count(c.thing_id) for c in left_out)
            s.below.append(more_for_limit([c.thing_id for c in left_out], count, comment_fullname(tid), s.depth + 1))
    unchosen: dict[int | None, list[Thing]] = {}
    for c in sort_things(start, tree.sort):
        if c.thing_id not in chosen_ids:
            unchosen.setdefault(c.parent_id, []).append(c)
    for parent, group in unchosen.items():
        count = sum(1 + tree.descendant_count(c.thing_id) for c in group)
        roots.append(more_for_limit([c.thing_id for c in group], count, _parent_fullname(tree, parent),
                                    tree.depth_of(group[0]) - base))
    return roots


def _nested(items: list["Shown | dict"], render: RenderFn) -> list[dict]:
    out = []
    for item in items:
        if isinstance(item, Shown):
            inner = _nested(item.below, render)
            out.append(render(item.thing, listing(inner) if inner else "", item.depth))
        else:
            out.append(item)
    return out


def _flat(items: list["Shown | dict"], render: RenderFn) -> list[dict]:
    out = []
    for item in items:
        if isinstance(item, Shown):
            out.append(render(item.thing, "", None))
            out.extend(_flat(item.below, render))
        else:
            out.append(item)
    return out


def thread_children(tree: Tree, render: RenderFn, hidden_as_deleted: Callable[[Thing], bool], limit: int,
                    max_depth: int, focus: Thing | None = None, context: int = 0) -> list[dict]:
    """The children of the comment Listing of /comments (or of a comment's permalink)."""
    if focus is not None:
        top = tree.only_path(focus, context)
        return _nested(_arrange(tree, [top], tree.depth_of(top), limit, max_depth, hidden_as_deleted), render)
    return _nested(_arrange(tree, tree.kids(None), 0, limit, max_depth, hidden_as_deleted), render)


def more_children(tree: Tree, ids: list[int], render: RenderFn, hidden_as_deleted: Callable[[Thing], bool]) -> list[dict]:
    """Up to 20 comments, best-first from the requested ones at their shallowest depth (absolute
    depths, depth limit 10), flat: each comment, then what was placed under it."""
    wanted = [tree.by_id[i] for i in dict.fromkeys(ids) if i in tree.by_id]
    if not wanted:
        return []
    shallowest = min(tree.depth_of(c) for c in wanted)
    start = [c for c in wanted if tree.depth_of(c) == shallowest]
    return _flat(_arrange(tree, start, 0, MORECHILDREN_MAX, MAX_DEPTH, hidden_as_deleted), render)
