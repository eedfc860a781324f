"""The comment tree of one link: preorder walks with limit and depth stubs, and morechildren."""

from __future__ import annotations

from new_comments_service.ids import comment_fullname, link_fullname
from new_comments_service.model import Thing
from new_comments_service.render import Names, comment_object, listing, more_for_depth, more_for_limit
from new_comments_service.sorts import sort_things

MORECHILDREN_MAX = 100


class Tree:
    """Parent -> children (sorted) for one link. Comments whose parent is not here are unreachable."""

    def __init__(self, link_id: int, comments: list[Thing], sort: str) -> None:
        self.link_id = link_id
        self.by_id = {c.thing_id: c for c in comments}
        kids: dict[int | None, list[Thing]] = {}
        for c in comments:
            kids.setdefault(c.parent_id, []).append(c)
        self.children = {parent: sort_things(group, sort) for parent, group in kids.items()}
        self._sizes: dict[int, int] = {}
        self.sort = sort

    def subtree_size(self, thing_id: int) -> int:
        """The comment itself plus all its descendants."""
        size = self._sizes.get(thing_id)
        if size is None:
            stack, size = [thing_id], 0
            while stack:
                node = stack.pop()
                size += 1
                stack.extend(c.thing_id for c in self.children.get(node, ()))
            self._sizes[thing_id] = size
        return size

    def preorder(self, root: Thing) -> list[Thing]:
        out, stack = [], [root]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(self.children.get(node.thing_id, ())))
        return out


def thread_children(tree: Tree, names: Names, tz_offset: int, limit: int, max_depth: int) -> list[dict]:
    """The top-level children of the comment Listing of /comments."""
    shown = 0

    def level(parent_key: int | None, parent_fullname: str, depth: int) -> list[dict]:
        nonlocal shown
        out: list[dict] = []
        kids = tree.children.get(parent_key, [])
        for i, c in enumerate(kids):
            if shown >= limit:
                hidden = kids[i:]
                count = sum(tree.subtree_size(h.thing_id) for h in hidden)
                out.append(more_for_limit([h.thing_id for h in hidden], count, parent_fullname, depth))
                break
            shown += 1
            replies: object = ""
            if tree.children.get(c.thing_id):
                fullname = comment_fullname(c.thing_id)
                if depth >= max_depth - 1:
                    replies = listing([more_for_depth(fullname, depth + 1)])
                else:
                    replies = listing(level(c.thing_id, fullname, depth + 1))
            out.append(comment_object(c, names, tz_offset, replies, depth))
        return out

    return level(None, link_fullname(tree.link_id), 0)


def more_children(tree: Tree, ids: list[int]) -> list[Thing]:
    """Requested comments of this link in sort order, each followed by its descendants, flat."""
    requested = sort_things({i: tree.by_id[i] for i in ids if i in tree.by_id}.values(), tree.sort)
    out: list[Thing] = []
    seen: set[int] = set()
    for c in requested:
        for node in tree.preorder(c):
            if node.thing_id in seen:
                continue
            seen.add(node.thing_id)
            out.append(node)
            if len(out) == MORECHILDREN_MAX:
                return out
    return out
