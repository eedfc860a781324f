"""Eleven mutants of the rewrite, one per r2 behaviour of issue 15: each plants the bug a rewrite
team would write for that behaviour. A mutant names the path it must be caught on plus the paths
its divergence necessarily shows on too; the harness must flag the aimed path and nothing outside
that set (see test_mutants_r2.py for the scenario that exercises all eleven behaviours).
Mutants patch the running rewrite in-process, like tests/validation/mutants.py."""

from __future__ import annotations

import contextvars
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from new_comments_service import eav, jsonfmt, memcached, queries, read_handlers, render, sorts, tree, writes
from new_comments_service.errors import ApiError

READS = ("read.comments.response", "read.morechildren.response", "read.info.response")
WRITE_RESPONSES = ("create.response", "update.response", "increment.response")
_editing: contextvars.ContextVar[bool] = contextvars.ContextVar("editing", default=False)


@dataclass(frozen=True)
class Mutant:
    behaviour: int
    path: str
    what: str
    apply: Callable[[pytest.MonkeyPatch], None]
    also_touches: tuple[str, ...] = ()

    @property
    def touched(self) -> set[str]:
        return {self.path, *self.also_touches}


def _depth_first(mp: pytest.MonkeyPatch) -> None:
    """1: the old walk, preorder with a counter, instead of one heap over the frontier."""
    def choose(t, start, base, limit, max_depth):
        chosen: list[tree.Shown] = []

        def visit(c) -> None:
            depth = t.depth_of(c) - base
            if len(chosen) >= limit or depth >= max_depth:
                return
            chosen.append(tree.Shown(c, depth))
            if depth + 1 < max_depth:
                for child in t.kids(c.thing_id):
                    visit(child)
        for c in sorted(start, key=t.key):
            visit(c)
        return chosen, {s.thing.thing_id for s in chosen}
    mp.setattr(tree, "_choose", choose)


def _keep_deleted_leaves(mp: pytest.MonkeyPatch) -> None:
    """2: deleted comments rendered as [deleted] but never dropped from listings."""
    mp.setattr(read_handlers, "looks_deleted", lambda c, names, viewer: False)


def _old_controversiality(mp: pytest.MonkeyPatch) -> None:
    """3: min*2 >= max with no vote floor."""
    mp.setattr(render, "controversiality",
               lambda ups, downs: int(ups > 0 and downs > 0 and min(ups, downs) * 2 >= max(ups, downs)))


def _unescaped(mp: pytest.MonkeyPatch) -> None:
    """4: plain JSON, no HTML entities."""
    mp.setattr(jsonfmt, "_HTML_ENTITIES", {})


def _all_float32(mp: pytest.MonkeyPatch) -> None:
    """5: every step of the Wilson bound rounded to float32 (sqrt and the quotient too)."""
    def f32(x: float) -> float:
        return struct.unpack("f", struct.pack("f", x))[0]

    def confidence(ups: int, downs: int) -> float:
        n = f32(ups + downs)
        if n == 0:
            return 0.0
        z = f32(1.281551565545)
        p = f32(ups / n)
        left = f32(p + f32(f32(f32(1 / f32(2 * n)) * z) * z))
        right = f32(z * f32(math.sqrt(f32(f32(f32(p * f32(1 - p)) / n) + f32(f32(z * z) / f32(f32(4 * n) * n))))))
        return f32(f32(left - right) / f32(1 + f32(f32(f32(1 / n) * z) * z)))
    mp.setattr(sorts, "confidence", confidence)


def _morechildren_100(mp: pytest.MonkeyPatch) -> None:
    """6: up to 100 comments per morechildren call."""
    mp.setattr(tree, "MORECHILDREN_MAX", 100)


def _strict_sort(mp: pytest.MonkeyPatch) -> None:
    """7: an unknown sort is a 400 instead of the default."""
    original = read_handlers.sort_param

    def sort_param(params: dict[str, str]) -> str:
        if params.get("sort", "confidence") not in sorts.SORTS:
            raise ApiError("INVALID_OPTION", "sort")
        return original(params)
    mp.setattr(read_handlers, "sort_param", sort_param)


def _noop_edit_commits(mp: pytest.MonkeyPatch) -> None:
    """8: an edit compares against a stale body, so the same text still commits (version, event)."""
    original_edit, original_load = writes.edit_comment, queries.comment_for_update

    async def edit_comment(*args, **kw):
        token = _editing.set(True)
        try:
            return await original_edit(*args, **kw)
        finally:
            _editing.reset(token)

    async def comment_for_update(tx, comment_id, voter_id):
        comment, vote = await original_load(tx, comment_id, voter_id)
        if comment is not None and _editing.get():
            comment.attrs = {**comment.attrs, "body": comment.attrs.get("body", "") + " "}
        return comment, vote
    mp.setattr(writes, "edit_comment", edit_comment)
    mp.setattr(queries, "comment_for_update", comment_for_update)


def _num_as_int(mp: pytest.MonkeyPatch) -> None:
    """9: EAV numbers decoded as integers only (a float truncated)."""
    original = eav.decode

    def decode(value, kind):
        if kind == "num" and value is not None:
            return int(float(value))
        return original(value, kind)
    mp.setattr(eav, "decode", decode)


def _cache_guard_inverted(mp: pytest.MonkeyPatch) -> None:
    """10: the lock-free cache write keeps the older version (its guard compares the wrong way)."""
    original = memcached.MemcachedPool.set_if_newer

    async def set_if_newer(self, key, value, version, expire, flags, version_of):
        return await original(self, key, value, version, expire, flags,
                              lambda raw: None if version_of(raw) is None else 2 * version - version_of(raw))
    mp.setattr(memcached.MemcachedPool, "set_if_newer", set_if_newer)


def _never_hidden(mp: pytest.MonkeyPatch) -> None:
    """11: scores never hidden in the subreddit's window."""
    mp.setattr(render, "_score_hidden", lambda c, names, viewer: False)


MUTANTS: tuple[Mutant, ...] = (
    Mutant(1, "read.comments.response", "depth-first tree walk", _depth_first, ("read.morechildren.response",)),
    Mutant(2, "read.comments.response", "deleted leaves kept in listings", _keep_deleted_leaves,
           ("read.morechildren.response",)),
    Mutant(3, "read.comments.response", "controversiality without the 7-vote floor", _old_controversiality,
           ("read.morechildren.response", "read.info.response", *WRITE_RESPONSES)),
    Mutant(4, "read.comments.response", "JSON not HTML-escaped", _unescaped, (*READS, *WRITE_RESPONSES)),
    Mutant(5, "read.comments.response", "confidence in float32 throughout", _all_float32,
           ("read.morechildren.response",)),
    Mutant(6, "read.morechildren.response", "morechildren returns up to 100", _morechildren_100),
    Mutant(7, "read.comments.response", "unknown sort refused", _strict_sort),
    Mutant(8, "update.postgres.parity", "a same-text edit commits", _noop_edit_commits,
           ("update.postgres.legacy_read", "update.memcached.parity", "update.memcached.legacy_read",
            "update.redis_cdc.parity", "update.redis_cdc.legacy_read", "update.response")),
    Mutant(9, "read.info.response", "EAV floats truncated to int", _num_as_int, ("read.comments.response",)),
    Mutant(10, "increment.memcached.parity", "lock-free cache write keeps the older version", _cache_guard_inverted,
           # the stale entry stays: the next write's cache check sees it too
           ("increment.memcached.legacy_read", "update.memcached.parity", "update.memcached.legacy_read")),
    Mutant(11, "read.info.response", "score never hidden", _never_hidden, ("read.comments.response",)),
)
