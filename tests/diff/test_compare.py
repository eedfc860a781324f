"""Fast path vs DeepDiff, and the Difference records the slow path produces."""

from __future__ import annotations

from typing import Any

from deepdiff import DeepDiff
from hypothesis import given, settings

from diff_reports.value_diff import _KINDS, DIFFERENCE_KINDS, RawDifference, deep_diff, differences, fast_equal, raw_differences, strict_equal, value_at
from diff_reports.normalise import canonical
from tests.diff.strategies import json_pairs, json_values


@settings(max_examples=400, deadline=None)
@given(json_pairs())
def test_fast_path_agrees_with_deepdiff_on_equality(pair: tuple[Any, Any]) -> None:
    a, b = (canonical(v) for v in pair)
    configured = deep_diff(a, b)  # DeepDiff as the core runs it
    assert fast_equal(a, b) == (not configured), configured
    assert strict_equal(a, b) == (not configured)  # an independent oracle
    assert (differences(a, b) == []) == (not configured)
    if DeepDiff(a, b):  # plain DeepDiff misses some differences, but the fast path never hides one it sees
        assert not fast_equal(a, b)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_a_value_equals_its_copy(value: Any) -> None:
    import copy

    assert fast_equal(canonical(value), canonical(copy.deepcopy(value)))


@settings(max_examples=200, deadline=None)
@given(json_pairs())
def test_every_difference_points_at_its_values(pair: tuple[Any, Any]) -> None:
    a, b = (canonical(v) for v in pair)
    for d in raw_differences(a, b):
        assert d.kind in DIFFERENCE_KINDS
        if d.kind != "added":
            assert strict_equal(value_at(a, d.tokens), d.legacy)
        if d.kind != "removed":
            assert strict_equal(value_at(b, d.tokens), d.new)


def test_lax_equality_is_not_enough() -> None:
    # `==` says these are equal; a migration must see them as different.
    assert {"edited": False} == {"edited": 0} and not fast_equal({"edited": False}, {"edited": 0})
    assert not fast_equal([1], [1.0])
    assert fast_equal({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1})  # key order is not a difference


def test_big_integers_fall_back_to_strict_equality() -> None:
    assert fast_equal({"n": 2**80}, {"n": 2**80})
    assert not fast_equal({"n": 2**80}, {"n": 2**80 + 1})
    assert not fast_equal({"n": 2**80}, {"n": float(2**80)})


def _one(a: Any, b: Any):
    diffs = differences(a, b)
    assert len(diffs) == 1, diffs
    return diffs[0]


def test_changed_with_dotted_indexed_path() -> None:
    a = {"data": {"children": [{"data": {"score": 3, "id": "a"}}]}}
    b = {"data": {"children": [{"data": {"score": 4, "id": "a"}}]}}
    d = _one(a, b)
    assert (d.path, d.kind, d.legacy, d.new) == ("data.children[0].data.score", "changed", 3, 4)


def test_added_and_removed_keys_and_items() -> None:
    d = _one({"data": {}}, {"data": {"editted": 1.5}})
    assert (d.path, d.kind, d.legacy, d.new) == ("data.editted", "added", None, 1.5)
    d = _one({"data": {"gilded": 1}}, {"data": {}})
    assert (d.path, d.kind, d.legacy, d.new) == ("data.gilded", "removed", 1, None)
    d = _one({"c": [{"x": 1}]}, {"c": [{"x": 1}, {"y": 2}]})
    assert (d.path, d.kind, d.new) == ("c[1]", "added", {"y": 2})
    d = _one({"c": [{"x": 1}, {"y": 2}]}, {"c": [{"x": 1}]})
    assert (d.path, d.kind, d.legacy) == ("c[1]", "removed", {"y": 2})


def test_type_changed() -> None:
    d = _one({"edited": False}, {"edited": 0})
    assert (d.path, d.kind, d.legacy, d.new) == ("edited", "type_changed", False, 0)
    d = _one({"created": 1.0}, {"created": 1})
    assert d.kind == "type_changed"
    d = _one({"replies": ""}, {"replies": None})
    assert d.kind == "type_changed"


def test_dunder_keys_are_compared() -> None:
    # Plain DeepDiff skips keys starting with "__" (found by the property test above).
    assert DeepDiff({"__x": 1}, {"__x": 2}) == {}
    d = _one({"__x": 1}, {"__x": 2})
    assert (d.path, d.kind) == ("__x", "changed")


def test_type_changes_inside_lists_of_plain_values() -> None:
    # DeepDiff's difflib path for such lists treats False/0 and 1/1.0 as the same item.
    assert DeepDiff([False, "x"], [0, "y"]) != {} and len(DeepDiff([False, "x"], [0, "y"])["values_changed"]) == 1
    diffs = differences({"vote": [False, "x"]}, {"vote": [0, "y"]})
    assert [(d.path, d.kind) for d in diffs] == [("vote[0]", "type_changed"), ("vote[1]", "changed")]
    assert [(d.path, d.kind) for d in differences([1, 2, 3], [1.0, 2, 3])] == [("[0]", "type_changed")]


def test_many_changed_keys_are_still_reported_one_by_one() -> None:
    # DeepDiff would otherwise report the whole dict once most of its keys differ.
    diffs = differences({"d": {"ups": 1, "score": 1, "id": "x"}}, {"d": {"ups": 2, "score": 2, "id": "y"}})
    assert [d.path for d in diffs] == ["d.id", "d.score", "d.ups"]


def test_odd_keys_and_root() -> None:
    assert _one({"a.b": 1}, {"a.b": 2}).path == '["a.b"]'
    assert _one({"": {"x y": 1}}, {"": {"x y": 2}}).path == '[""]["x y"]'
    assert _one([1, 2], [1, 3]).path == "[1]"
    d = _one(1, "1")
    assert (d.path, d.kind) == ("$", "type_changed")


def _as_set(diffs: Any) -> list[tuple]:
    return sorted((d.path, d.kind, repr(d.legacy), repr(d.new)) for d in diffs)


@settings(max_examples=500, deadline=None)
@given(json_pairs())
def test_narrowed_diff_equals_deepdiff_on_the_whole_values(pair: tuple[Any, Any]) -> None:
    a, b = (canonical(v) for v in pair)
    whole = []
    for report, levels in deep_diff(a, b).items():
        for level in levels:
            kind = _KINDS[report]
            whole.append(RawDifference(tuple(level.path(output_format="list")), kind,
                                       None if kind == "added" else level.t1, None if kind == "removed" else level.t2))
    assert _as_set(raw_differences(a, b)) == _as_set(whole)


def test_narrowed_diff_on_a_big_listing() -> None:
    children = [{"data": {"id": str(i), "score": i, "replies": [{"x": i}]}} for i in range(300)]
    a = {"body": [{"data": {"children": children}}]}
    b = canonical(a)
    b["body"][0]["data"]["children"][123]["data"]["score"] = -1
    b["body"][0]["data"]["children"][7]["data"]["replies"].append({"x": 0})
    del b["body"][0]["data"]["children"][9]["data"]["id"]
    assert [(d.path, d.kind) for d in differences(a, b)] == [
        ("body[0].data.children[123].data.score", "changed"),
        ("body[0].data.children[7].data.replies[1]", "added"),
        ("body[0].data.children[9].data.id", "removed"),
    ]
