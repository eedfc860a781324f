"""Comment tree walks: /comments with limit and depth stubs, and /api/morechildren.

Pure functions over the tree projection (parent fullname -> child base36 ids) and the loaded
comment objects; children whose object cannot be loaded are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from legacy_adapter.codec import from36, to36
from legacy_adapter.render import listing, more_stub
from legacy_adapter.sorts import sort_key
from legacy_adapter.things import Obj

Render = Callable[[Obj, Any, "int | None"], dict[str, Any]]  # (obj, replies, depth) -> comment json
MORECHILDREN_MAX = 100


class Tree:
    def __init__(self, tree: dict[str, list[str]], objs: dict[int, Obj], sort: str) -> None:
        self.tree, self.objs, self.key = tree, objs, sort_key(sort)

    def children(self, parent: str) -> list[Obj]:
        kids = [self.objs[i] for i in (from36(c) for c in self.tree.get(parent, [])) if i in self.objs]
        return sorted(kids, key=self.key)

    def size(self, obj: Obj) -> int:
        """The comment plus all its loadable descendants."""
        return 1 + sum(self.size(c) for c in self.children(f"t1_{_b36(obj)}"))


def _b36(obj: Obj) -> str:
    return to36(obj["_id"])


def comment_listing(tree: Tree, link_fullname: str, limit: int, max_depth: int, render: Render) -> list[Any]:
    """Preorder, siblings in sort order; at most `limit` comments shown; the unshown children of a
    parent become one stub at the end of its children; depth stubs below depth `max_depth - 1`."""
    shown = 0

    def walk(parent: str, depth: int) -> list[Any]:
        nonlocal shown
        out: list[Any] = []
        kids = tree.children(parent)
        for i, obj in enumerate(kids):
            if shown >= limit:
                hidden = kids[i:]
                out.append(more_stub(sum(tree.size(h) for h in hidden), _b36(hidden[0]), parent, depth,
                                     [_b36(h) for h in hidden]))
                break
            shown += 1
            name = f"t1_{_b36(obj)}"
            replies: Any = ""
            if tree.children(name):
                if depth >= max_depth - 1:
                    replies = listing([more_stub(0, "_", name, depth + 1, [])])
                else:
                    sub = walk(name, depth + 1)
                    replies = listing(sub) if sub else ""
            out.append(render(obj, replies, depth))
        return out

    return walk(link_fullname, 0)


def more_children(tree: Tree, link_id: int, requested: list[int], render: Render) -> list[Any]:
    """Each requested comment of the link in sort order, then its descendants preorder; flat."""
    seen: set[int] = set()
    out: list[Any] = []

    def emit(obj: Obj) -> None:
        if len(out) >= MORECHILDREN_MAX or obj["_id"] in seen:
            return
        seen.add(obj["_id"])
        out.append(render(obj, "", None))
        for child in tree.children(f"t1_{_b36(obj)}"):
            emit(child)

    wanted = [tree.objs[i] for i in dict.fromkeys(requested) if i in tree.objs
              and tree.objs[i]["_t"].get("link_id") == link_id]
    for obj in sorted(wanted, key=tree.key):
        emit(obj)
    return out
