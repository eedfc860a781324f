"""Hypothesis strategies for JSON values and for pairs that are equal or differ in one place."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

keys = st.text(min_size=0, max_size=8)
scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)


def _locations(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _locations(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _locations(v, path + (i,))
    return out


def _set(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    node = value
    for token in path[:-1]:
        node = node[token]
    node[path[-1]] = new
    return value


@st.composite
def json_pairs(draw: st.DrawFn) -> tuple[Any, Any]:
    """(a, b) where b is a deep copy of a, maybe with one location replaced (often by a near twin)."""
    a = draw(json_values)
    b = copy.deepcopy(a)
    if draw(st.booleans()):
        path = draw(st.sampled_from(_locations(a)))
        old = copy.deepcopy(_get(a, path))
        twins = [x for x in (_twin(old),) if x is not _NO]
        new = draw(st.sampled_from(twins) if twins and draw(st.booleans()) else json_values)
        b = _set(b, path, new)
    return a, b


_NO = object()


def _get(value: Any, path: tuple) -> Any:
    for token in path:
        value = value[token]
    return value


def _twin(value: Any) -> Any:
    """A value equal under `==` but not the same JSON value: the cases a lax fast path gets wrong."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and abs(value) < 2**53:
        return float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        return tuple(value)
    return _NO
