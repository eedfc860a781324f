"""Declared ignore rules: globbing, scoping, tolerances, kinds, and counts per rule."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diff_reports.comparator import Comparator
from diff_reports.paths import format_path, format_pattern, generalise, generalise_tokens, glob_matches
from diff_reports.rules import IgnoreRule, RuleSet, rules_from_settings
from diff_reports.types import Difference, Observation, VerdictKind


@pytest.mark.parametrize(
    "pattern, path, expected",
    [
        ("*.created", "created", True),
        ("*.created", "data.created", True),
        ("*.created", "body[1].data.children[0].data.created", True),
        ("*.created", "[0].created", True),
        ("*.created", "data.created_utc", False),
        ("*.created", "data.xcreated", False),
        ("data.children[*].data.ups", "data.children[12].data.ups", True),
        ("data.children[*].data.ups", "data.children.data.ups", False),
        ("data.children[*].data.ups", "data.children[0].data.upsx", False),
        ("data.children[0].data.ups", "data.children[1].data.ups", False),
        ("data.replies", "data.replies.data.children[3].data.body", True),  # subtree
        ("data.replies", "data.repliesx", False),
        ("data.ups", "data", False),  # a rule on a child never covers its parent
        ("*", "anything[3].at.all", True),
        ("data.?ps", "data.ups", True),
        ('x["a.b"].c', 'x["a.b"].c', True),
        ('x["a*b"]', 'x["azzb"]', False),  # quoted keys are literal
        ('x["a*b"]', 'x["a*b"]', True),
    ],
)
def test_globs(pattern: str, path: str, expected: bool) -> None:
    assert glob_matches(pattern, path) is expected


keys = st.text(max_size=6)
tokens = st.lists(st.one_of(keys, st.integers(0, 50)), max_size=6)


@settings(max_examples=300, deadline=None)
@given(tokens)
def test_a_generalised_path_matches_its_own_path(toks: list[Any]) -> None:
    path = format_path(toks)
    assert glob_matches(format_pattern(generalise_tokens(toks)), path)
    assert glob_matches(path, path)  # a literal path is a pattern matching itself
    if not any(isinstance(t, str) and ("[" in t) for t in toks):
        assert generalise(path) == format_pattern(generalise_tokens(toks))


def _diff(path: str, kind: str = "changed", legacy: Any = 1, new: Any = 2) -> Difference:
    return Difference(path, kind, legacy, new)


def test_rule_validation_requires_reason_and_patterns() -> None:
    with pytest.raises(ValueError, match="reason"):
        IgnoreRule("r", ("x",), reason=" ")
    with pytest.raises(ValueError, match="pattern"):
        IgnoreRule("r", (), reason="why")
    with pytest.raises(ValueError, match="noise:"):
        IgnoreRule("noise:x", ("x",), reason="why")
    with pytest.raises(ValueError, match="tolerance_abs"):
        IgnoreRule("r", ("x",), reason="why", tolerance_abs=-1)
    with pytest.raises(ValueError, match="kinds"):
        IgnoreRule("r", ("x",), reason="why", kinds=("moved",))
    with pytest.raises(ValueError, match="duplicate"):
        RuleSet([IgnoreRule("r", ("x",), "why"), IgnoreRule("r", ("y",), "why")])


def test_applies_to_scopes_a_rule_to_paths() -> None:
    rule = IgnoreRule("ttl", ("ttl",), "clock skew", applies_to=("*.memcached.parity",))
    assert rule.ignores("create.memcached.parity", _diff("ttl"))
    assert not rule.ignores("create.postgres.parity", _diff("ttl"))
    assert not rule.ignores("read.info.response", _diff("ttl"))


def test_kinds_restrict_a_rule() -> None:
    rule = IgnoreRule("gone", ("*.gilded",), "dropped default", kinds=("removed",))
    assert rule.ignores("p", _diff("data.gilded", "removed", 0, None))
    assert not rule.ignores("p", _diff("data.gilded", "changed", 0, 1))


@pytest.mark.parametrize(
    "abs_, rel, legacy, new, expected",
    [
        (1, None, 10, 11, True),
        (1, None, 10, 12, False),
        (None, 0.1, 100, 109.9, True),
        (None, 0.1, 100, 112, False),
        (0.5, 0.01, 1000, 1009, True),   # rel saves it
        (0.5, 0.01, 1, 1.4, True),       # abs saves it
        (1, None, True, False, False),   # bools are not numbers
        (1, None, "1", "2", False),      # neither are strings
        (1, None, 1, 1.5, True),         # int -> float within tolerance (type_changed)
    ],
)
def test_tolerances(abs_: float | None, rel: float | None, legacy: Any, new: Any, expected: bool) -> None:
    rule = IgnoreRule("tol", ("*.score",), "float32 rounding", tolerance_abs=abs_, tolerance_rel=rel)
    kind = "type_changed" if type(legacy) is not type(new) else "changed"
    assert rule.ignores("p", _diff("data.score", kind, legacy, new)) is expected


def test_tolerance_rule_does_not_ignore_added_or_removed() -> None:
    rule = IgnoreRule("tol", ("*.score",), "why", tolerance_abs=100)
    assert not rule.ignores("p", _diff("data.score", "added", None, 3))


def test_first_matching_rule_wins_and_every_ignored_difference_is_counted() -> None:
    rules = [
        IgnoreRule("ups-tol", ("*.ups",), "vote race", tolerance_abs=1),
        IgnoreRule("all-ups", ("*.ups", "*.score"), "not compared yet"),
        IgnoreRule("unused", ("nothing",), "never fires"),
    ]
    comparator = Comparator(rules)
    legacy = {"c": [{"ups": 1, "score": 1}, {"ups": 5, "score": 5}]}
    new = {"c": [{"ups": 2, "score": 2}, {"ups": 9, "score": 9}]}
    record = comparator.compare("read.comments.response", Observation("legacy", legacy), Observation("new", new))
    assert record.verdict is VerdictKind.IGNORED
    by = {d.path: d.ignored_by for d in record.differences}
    assert by == {"c[0].ups": "ups-tol", "c[0].score": "all-ups", "c[1].ups": "all-ups", "c[1].score": "all-ups"}
    assert comparator.rule_counts == {"ups-tol": 1, "all-ups": 3, "unused": 0}
    comparator.compare("read.comments.response", Observation("legacy", legacy), Observation("new", new))
    assert comparator.rule_counts == {"ups-tol": 2, "all-ups": 6, "unused": 0}


def test_one_unexplained_difference_makes_a_mismatch_and_ignored_ones_stay_marked() -> None:
    comparator = Comparator([IgnoreRule("created", ("*.created",), "tz quirk")])
    record = comparator.compare(
        "p", Observation("legacy", {"created": 1.0, "body": "a"}), Observation("new", {"created": 2.0, "body": "b"})
    )
    assert record.verdict is VerdictKind.MISMATCH
    assert {d.path: d.ignored_by for d in record.differences} == {"created": "created", "body": None}
    assert comparator.rule_counts == {"created": 1}


def test_rules_from_settings_entries() -> None:
    from config import settings_from_mapping

    settings = settings_from_mapping({"compare": {"rules": [
        {"name": "created", "paths": ["*.created"], "reason": "tz", "applies_to": ["read.*"]},
        {"name": "score", "paths": ["*.score"], "reason": "float32", "tolerance_rel": 0.01, "kinds": ["changed"]},
    ]}})
    rules = rules_from_settings(settings.compare.rules)
    assert [r.name for r in rules] == ["created", "score"]
    assert rules[0].applies_to == ("read.*",) and rules[1].tolerance_rel == 0.01 and rules[1].kinds == ("changed",)
    assert IgnoreRule.from_mapping(rules[1].to_dict()) == rules[1]
