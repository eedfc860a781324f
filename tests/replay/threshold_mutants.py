"""One mutant of the rewrite per side of every legacy threshold (datasets/thresholds.py's table).

Each mutant makes the rewrite answer wrongly at exactly one side of one threshold (the state at
value-1, value or value+1; for the two clock thresholds, every state on that side) and nowhere
else, the way an off-by-one or a forgotten clamp would. So a mutant is caught only if the dataset
sends a request that puts a state on that side: the gate proves the side is judged, not only
reached. Each mutant logs the request ids it changed an answer for (`FIRED`), so a test can tell
which mismatches are its own when several are planted at once.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from datasets import thresholds as th
from new_comments_service import app as new_app
from new_comments_service import params as params_mod
from new_comments_service import read_handlers, render, tree, write_handlers, writes
from new_comments_service.ids import comment_fullname

_request: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar("mutant_request", default=("", ""))
FIRED: list[tuple[str, str]] = []  # (mutant, request id) for every answer a mutant changed


@dataclass(frozen=True)
class ThresholdMutant:
    name: str   # the coverage row it hides behind: threshold.<threshold>.<side>
    what: str
    apply: Callable[[pytest.MonkeyPatch], None]


def _fire(name: str) -> None:
    FIRED.append((name, _request.get()[1]))


def track_requests(mp: pytest.MonkeyPatch) -> None:
    """Every rewrite handler runs with its endpoint and X-Request-Id known to the mutants."""
    for endpoint, handler in list(new_app.HANDLERS.items()):
        async def tracked(request: Any, handler: Any = handler, endpoint: str = endpoint) -> Any:
            token = _request.set((endpoint, request.headers.get("X-Request-Id", "")))
            try:
                return await handler(request)
            finally:
                _request.reset(token)
        mp.setitem(new_app.HANDLERS, endpoint, tracked)


def _other(n: int) -> int:
    return n - 1 if n > 1 else n + 1


def _param(name: str, field: str, x: int) -> Callable[[pytest.MonkeyPatch], None]:
    """`limit` or `depth` exactly `x`: the clamped value off by one."""
    attr = f"{field}_param"

    def apply(mp: pytest.MonkeyPatch) -> None:
        original = getattr(read_handlers, attr)

        def bent(params: dict[str, str], *args: int) -> int:
            out = original(params, *args)
            if params_mod._int_or_none(params.get(field)) == x:
                _fire(name)
                return _other(out)
            return out
        mp.setattr(read_handlers, attr, bent)
    return apply


def _inverted(module: Any, attr: str, name: str, hit: Callable[..., bool],
              invert: Callable[[Any], Any] = lambda out: not out) -> Callable[[pytest.MonkeyPatch], None]:
    """`module.attr` answers the other way (`invert` of its answer) wherever `hit(*its arguments)`."""
    def apply(mp: pytest.MonkeyPatch) -> None:
        original = getattr(module, attr)

        def bent(*args: Any) -> Any:
            if hit(*args):
                _fire(name)
                return invert(original(*args))
            return original(*args)
        mp.setattr(module, attr, bent)
    return apply


def _info(name: str, x: int) -> Callable[[pytest.MonkeyPatch], None]:
    return _inverted(read_handlers, "too_many_ids", name, lambda count: count == x)


def _body(name: str, endpoint: str, x: int) -> Callable[[pytest.MonkeyPatch], None]:
    return _inverted(write_handlers, "too_long", name, lambda text: len(text) == x and _request.get()[0] == endpoint)


def _morechildren(name: str, x: int) -> Callable[[pytest.MonkeyPatch], None]:
    """`x` comments asked for: one fewer picked (at or under the cap), or all of them (over it)."""
    def apply(mp: pytest.MonkeyPatch) -> None:
        original = read_handlers.more_children

        def bent(t: tree.Tree, ids: list[int], *args: Any) -> list[dict]:
            if len([i for i in dict.fromkeys(ids) if i in t.by_id]) != x:
                return original(t, ids, *args)
            _fire(name)
            cap = tree.MORECHILDREN_MAX
            tree.MORECHILDREN_MAX = x - 1 if x <= cap else x  # restored below: more_children never awaits
            try:
                return original(t, ids, *args)
            finally:
                tree.MORECHILDREN_MAX = cap
        mp.setattr(read_handlers, "more_children", bent)
    return apply


def _depth_limit(name: str, side: str) -> Callable[[pytest.MonkeyPatch], None]:
    """At the depth limit (10 levels): below, a leaf at depth 8 gets a depth stub; at, a leaf at
    depth 9 gets one; above, a comment at depth 9 with replies loses its stub."""
    def apply(mp: pytest.MonkeyPatch) -> None:
        original = tree._arrange

        def bent(t: tree.Tree, start: list[Any], base: int, limit: int, max_depth: int, *args: Any) -> list[Any]:
            roots = original(t, start, base, limit, max_depth, *args)
            if max_depth != tree.MAX_DEPTH:
                return roots
            pending = list(roots)
            while pending:
                item = pending.pop()
                if not isinstance(item, tree.Shown):
                    continue
                pending.extend(item.below)
                leaf = t.descendant_count(item.thing.thing_id) == 0
                if side == "above" and item.depth == max_depth - 1 and not leaf and item.below:
                    item.below.pop()
                    _fire(name)
                elif leaf and item.depth == max_depth - (2 if side == "below" else 1) and side != "above":
                    item.below.append(render.more_for_depth(comment_fullname(item.thing.thing_id), item.depth + 1))
                    _fire(name)
            return roots
        mp.setattr(tree, "_arrange", bent)
    return apply


def _controversy(name: str, hit: Callable[[int, int], bool]) -> Callable[[pytest.MonkeyPatch], None]:
    return _inverted(render, "controversiality", name, hit, lambda flag: 1 - flag)


def _floor_at(x: int) -> Callable[[int, int], bool]:
    low, high = th.BY_NAME["controversy_share_low"].value, th.BY_NAME["controversy_share_high"].value
    return lambda ups, downs: ups + downs == x and low <= ups / x <= high


def _share_at(bound: str, side: str) -> Callable[[int, int], bool]:
    floor = th.BY_NAME["controversy_floor"].value
    return lambda ups, downs: ups + downs >= floor and th.share_side(bound, ups, ups + downs) == side


def _edit(name: str, flip: Callable[[float, int], bool]) -> Callable[[pytest.MonkeyPatch], None]:
    return _inverted(writes, "edit_sets_time", name, flip)


def _score_hide(name: str, side: str) -> Callable[[pytest.MonkeyPatch], None]:
    """below: a young comment's score shown to others; above: an old one's hidden."""
    def apply(mp: pytest.MonkeyPatch) -> None:
        original = render._score_hidden

        def bent(c: Any, names: Any, viewer: Any) -> bool:
            hidden = original(c, names, viewer)
            if side == "below" and hidden:
                _fire(name)
                return False
            minutes = names.hide_minutes.get(c.attrs["sr_id"], 0)
            if (side == "above" and not hidden and minutes > 0 and viewer.now is not None
                    and viewer.name != names.account(c.attrs["author_id"])):
                _fire(name)
                return True
            return hidden
        mp.setattr(render, "_score_hidden", bent)
    return apply


def _sides(name: str) -> dict[str, int]:
    value = int(th.BY_NAME[name].value)
    return {"below": value - 1, "at": value, "above": value + 1}


def _build() -> list[ThresholdMutant]:
    out: list[ThresholdMutant] = []

    def add(threshold: str, side: str, what: str, apply: Callable[[pytest.MonkeyPatch], None]) -> None:
        out.append(ThresholdMutant(f"threshold.{threshold}.{side}", what, apply))

    window, votes = writes.EDIT_SILENT_S, writes.EDIT_SILENT_VOTES
    add("edit_window", "below", "an edit inside the silent window sets the edit time",
        _edit("threshold.edit_window.below", lambda age, v: age <= window and v <= votes))
    add("edit_window", "above", "an edit after the silent window leaves no edit time",
        _edit("threshold.edit_window.above", lambda age, v: age > window and v <= votes))
    for side, x in _sides("edit_votes").items():
        add("edit_votes", side, f"inside the window, {x} votes decide the edit mark the other way",
            _edit(f"threshold.edit_votes.{side}", lambda age, v, x=x: age <= window and v == x))
    for side, x in _sides("controversy_floor").items():
        add("controversy_floor", side, f"controversiality inverted at {x} votes (share in bounds)",
            _controversy(f"threshold.controversy_floor.{side}", _floor_at(x)))
    for bound in ("controversy_share_low", "controversy_share_high"):
        for side in th.SIDES:
            add(bound, side, f"controversiality inverted {side} the {bound} bound",
                _controversy(f"threshold.{bound}.{side}", _share_at(bound, side)))
    for side, x in _sides("morechildren_cap").items():
        add("morechildren_cap", side, f"morechildren of {x} comments picks the wrong number",
            _morechildren(f"threshold.morechildren_cap.{side}", x))
    for side in th.SIDES:
        add("depth_limit", side, f"the depth stub misplaced {side} the depth limit",
            _depth_limit(f"threshold.depth_limit.{side}", side))
    for threshold, field in (("depth_param_max", "depth"), ("depth_param_min", "depth"),
                             ("limit_max", "limit"), ("limit_min", "limit")):
        for side, x in _sides(threshold).items():
            add(threshold, side, f"{field}={x} clamped one off", _param(f"threshold.{threshold}.{side}", field, x))
    for side, x in _sides("info_ids").items():
        add("info_ids", side, f"/api/info of {x} fullnames refused or taken the other way",
            _info(f"threshold.info_ids.{side}", x))
    for threshold, endpoint in (("body_length_create", "comment"), ("body_length_edit", "editusertext")):
        for side, x in _sides(threshold).items():
            add(threshold, side, f"a text of {x} code points refused or taken the other way",
                _body(f"threshold.{threshold}.{side}", endpoint, x))
    for side in ("below", "above"):
        add("score_hide", side, f"score hiding wrong {side} the hiding window",
            _score_hide(f"threshold.score_hide.{side}", side))
    return out


MUTANTS: dict[str, ThresholdMutant] = {m.name: m for m in _build()}
