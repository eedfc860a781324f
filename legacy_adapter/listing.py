"""Comment tree building as r2's CommentBuilder did it: best-first over the whole frontier.

One heap holds every candidate comment by its sort key (ties by ascending id); the best is picked,
then its children join the heap, until `limit` comments are picked. The picked comments are then
laid out as a tree (each under its parent, siblings in pick order, which is sort order), with
- deleted (or removed) comments that have no descendants dropped (they still used a pick);
- a depth stub under a picked comment at depth `max_depth - 1` that has descendants;
- a limit stub at the end of a picked comment's replies for its children that were not picked;
- one stub per parent, at the end of the top level, for initial candidates never picked.

Three modes pick from different starting points: the whole thread (/comments), one comment and
`context` of its ancestors (/comments/<link>/<slug>/<comment>), and the requested children of a
morechildren call (absolute depths, as r2 did). Pure functions over the tree projection (parent
fullname -> child base36 ids) and the loaded comment objects; children whose object cannot be
loaded are left out with their descendants.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from legacy_adapter.codec import from36, to36
from legacy_adapter.render import listing, more_stub
from legacy_adapter.sorts import sort_key
from legacy_adapter.things import Obj

# (obj, replies, depth) -> comment json
Render = Callable[[Obj, Any, "int | None"], dict[str, Any]]
# Is this comment shown as deleted (or removed) to the reader?
IsDeleted = Callable[[Obj], bool]
MORECHILDREN_MAX = 20
MAX_DEPTH = 10


def _name(obj: Obj) -> str:
    return f"t1_{to36(obj['_id'])}"


class Tree:
    def __init__(self, tree: dict[str, list[str]], objs: dict[int, Obj], sort: str) -> None:
        self.tree, self.objs, self.key = tree, objs, sort_key(sort)
        self.parent_of: dict[str, str] = {f"t1_{c}": parent for parent, kids in tree.items() for c in kids}
        for obj in objs.values():  # a comment the projection has not caught up with yet: its own parent
            parent = obj["_t"].get("parent_id")
            link = obj["_t"].get("link_id")
            if _name(obj) not in self.parent_of and link is not None:
                self.parent_of[_name(obj)] = f"t1_{to36(parent)}" if parent is not None else f"t3_{to36(link)}"
        self._only: dict[str, str] = {}  # permalink mode: a parent that leads only to one child
        self._sizes: dict[str, int] = {}

    def children(self, parent: str) -> list[Obj]:
        if parent in self._only:
            only = self.objs.get(from36(self._only[parent][3:]))
            return [only] if only is not None else []
        kids = [self.objs[i] for i in (from36(c) for c in self.tree.get(parent, [])) if i in self.objs]
        return sorted(kids, key=self.key)

    def descendants(self, name: str) -> int:
        """Loadable descendants of a comment (r2's num_children)."""
        if name not in self._sizes:
            total, stack = 0, [name]
            while stack:
                kids = self.children(stack.pop())
                total += len(kids)
                stack.extend(_name(k) for k in kids)
            self._sizes[name] = total
        return self._sizes[name]

    def depth(self, name: str) -> int:
        """Absolute depth: 0 for a top-level comment (its parent is the link)."""
        depth, parent = 0, self.parent_of.get(name, "")
        while parent.startswith("t1_"):
            depth += 1
            parent = self.parent_of.get(parent, "")
        return depth

    def focus(self, name: str, context: int) -> str | None:
        """Permalink mode: keep only the path from `context` ancestors down to `name`; returns the
        path's root, or None when the comment is not in this tree (r2 then shows the whole thread)."""
        if name not in self.parent_of or from36(name[3:]) not in self.objs:
            return None
        path = [name]
        while len(path) <= context and self.parent_of[path[-1]].startswith("t1_"):
            path.append(self.parent_of[path[-1]])
        for node in path:  # each node's parent leads only to it
            parent = self.parent_of[node]
            if parent.startswith("t1_"):
                self._only[parent] = node
        self._sizes.clear()
        return path[-1]


@dataclass
class Built:
    """Picked comments with their depths (in pick order) and the initial candidates never picked."""

    picked: list[tuple[Obj, int]] = field(default_factory=list)
    unpicked_roots: list[Obj] = field(default_factory=list)


def pick(tree: Tree, initial: list[Obj], offset: int, limit: int, max_depth: int) -> Built:
    heap = [(tree.key(o), o["_id"], o) for o in initial]
    heapq.heapify(heap)
    built = Built()
    while heap and len(built.picked) < limit:
        _, _, obj = heapq.heappop(heap)
        depth = tree.depth(_name(obj)) - offset
        if depth >= max_depth:
            continue
        built.picked.append((obj, depth))
        if depth + 1 < max_depth:
            for child in tree.children(_name(obj)):
                heapq.heappush(heap, (tree.key(child), child["_id"], child))
    picked = {o["_id"] for o, _ in built.picked}
    built.unpicked_roots = sorted((o for o in initial if o["_id"] not in picked), key=tree.key)
    return built


@dataclass
class Node:
    obj: Obj
    depth: int
    children: list["Node | dict[str, Any]"] = field(default_factory=list)


def layout(tree: Tree, built: Built, offset: int, max_depth: int, deleted: IsDeleted) -> list["Node | dict[str, Any]"]:
    """The picked comments as a tree of Nodes with the stubs (dicts), top level first."""
    nodes = {o["_id"]: Node(o, d) for o, d in built.picked}
    top: list[Node | dict[str, Any]] = []
    for obj, _ in built.picked:
        name = _name(obj)
        if deleted(obj) and tree.descendants(name) == 0:
            continue  # dropped, but it was picked: it is neither shown nor in a stub
        parent = tree.parent_of.get(name, "")
        holder = nodes.get(from36(parent[3:])) if parent.startswith("t1_") else None
        (holder.children if holder else top).append(nodes[obj["_id"]])
    for obj, depth in built.picked:
        name, node = _name(obj), nodes[obj["_id"]]
        if depth == max_depth - 1 and tree.descendants(name) > 0:
            node.children.append(more_stub(0, "_", name, depth + 1, []))
        elif depth < max_depth - 1:
            kids = tree.children(name)
            hidden = [k for k in kids if k["_id"] not in nodes]
            if hidden:
                count = sum(1 + tree.descendants(_name(h)) for h in hidden)
                node.children.append(more_stub(count, to36(hidden[0]["_id"]), name, depth + 1,
                                               [to36(h["_id"]) for h in hidden]))
    by_parent: dict[str, list[Obj]] = {}
    for obj in built.unpicked_roots:
        by_parent.setdefault(tree.parent_of.get(_name(obj), ""), []).append(obj)
    for parent, hidden in by_parent.items():
        count = sum(1 + tree.descendants(_name(h)) for h in hidden)
        depth = tree.depth(_name(hidden[0])) - offset
        top.append(more_stub(count, to36(hidden[0]["_id"]), parent, depth, [to36(h["_id"]) for h in hidden]))
    return top


def _render_nested(items: list["Node | dict[str, Any]"], render: Render) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, Node):
            sub = _render_nested(item.children, render)
            out.append(render(item.obj, listing(sub) if sub else "", item.depth))
        else:
            out.append(item)
    return out


def _flatten(items: list["Node | dict[str, Any]"], render: Render) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, Node):
            out.append(render(item.obj, "", None))
            out.extend(_flatten(item.children, render))
        else:
            out.append(item)
    return out


def comment_listing(tree: Tree, link_fullname: str, limit: int, max_depth: int, render: Render,
                    deleted: IsDeleted, focus: str | None = None, context: int = 0) -> list[Any]:
    """The comment Listing's children of /comments (whole thread, or the permalink of `focus`)."""
    root = tree.focus(focus, context) if focus else None
    if root is not None:
        initial, offset = [tree.objs[from36(root[3:])]], tree.depth(root)
    else:
        initial, offset = tree.children(link_fullname), 0
    built = pick(tree, initial, offset, limit, max_depth)
    return _render_nested(layout(tree, built, offset, max_depth, deleted), render)


def more_children(tree: Tree, link_id: int, requested: list[int], render: Render, deleted: IsDeleted) -> list[Any]:
    """morechildren: best-first from the requested comments at the shallowest depth among them,
    at most 20, absolute depths with the depth limit; flat, each comment before its replies."""
    wanted = [tree.objs[i] for i in dict.fromkeys(requested) if i in tree.objs
              and tree.objs[i]["_t"].get("link_id") == link_id]
    if not wanted:
        return []
    shallowest = min(tree.depth(_name(o)) for o in wanted)
    initial = [o for o in wanted if tree.depth(_name(o)) == shallowest]
    built = pick(tree, initial, 0, MORECHILDREN_MAX, MAX_DEPTH)
    return _flatten(layout(tree, built, 0, MAX_DEPTH, deleted), render)
