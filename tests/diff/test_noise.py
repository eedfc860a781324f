"""Learned noise: legacy-vs-legacy pairs teach which fields are non-deterministic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from diff_reports.comparator import Comparator
from diff_reports.noise import LearnedNoise
from diff_reports.rules import IgnoreRule
from diff_reports.types import Observation, VerdictKind

PATH = "read.comments.response"


def listing(stamp: float, scores: list[int], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    children = [{"kind": "t1", "data": {"id": str(i), "score": s, "fetched": stamp}} for i, s in enumerate(scores)]
    return {"status": 200, "body": {"data": {"children": children, "generated": stamp, **(extra or {})}}}


def teach(noise: LearnedNoise, pairs: int) -> None:
    for i in range(pairs):
        noise.observe(PATH, Observation("legacy", listing(i, [1, 2])), Observation("legacy", listing(i + 0.5, [1, 2])))


def test_fields_that_differ_between_legacy_runs_are_learned_with_indices_generalised() -> None:
    noise = LearnedNoise(min_samples=3, min_count=2)
    differed = noise.observe(PATH, listing(1, [1, 2]), listing(2, [1, 2]))
    assert differed == ["body.data.children[*].data.fetched", "body.data.generated"]
    noise.observe(PATH, listing(1, [1, 2]), listing(1, [1, 2]))  # an identical pair still counts as a sample
    assert noise.samples(PATH) == 2
    # Counted once per pair, however many indices differed.
    assert noise.candidates(PATH) == {"body.data.children[*].data.fetched": 1, "body.data.generated": 1}


def test_not_trusted_before_enough_samples_and_occurrences() -> None:
    noise = LearnedNoise(min_samples=4, min_count=2)
    comparator = Comparator(noise=noise)
    legacy, new = Observation("legacy", listing(1, [1, 2])), Observation("new", listing(9, [1, 2]))
    noise.observe(PATH, listing(1, [1, 2]), listing(2, [1, 2]))
    noise.observe(PATH, listing(1, [1, 2]), listing(1, [1, 2]))
    noise.observe(PATH, listing(1, [1, 2]), listing(1, [1, 2]))
    assert comparator.compare(PATH, legacy, new).verdict is VerdictKind.MISMATCH  # 3 samples < 4
    noise.observe(PATH, listing(1, [1, 2]), listing(1, [1, 2]))
    assert noise.samples(PATH) == 4 and noise.trusted(PATH) == {}  # one differing pair < min_count
    assert comparator.compare(PATH, legacy, new).verdict is VerdictKind.MISMATCH
    noise.observe(PATH, listing(1, [1, 2]), listing(3, [1, 2]))
    assert set(noise.trusted(PATH)) == {"body.data.children[*].data.fetched", "body.data.generated"}
    assert comparator.compare(PATH, legacy, new).verdict is VerdictKind.IGNORED


def test_learned_noise_ignores_only_its_fields_on_its_path_and_is_counted() -> None:
    noise = LearnedNoise(min_samples=2, min_count=2)
    teach(noise, 3)
    comparator = Comparator(noise=noise)
    legacy = Observation("legacy", listing(1, [1, 2, 3]))
    record = comparator.compare(PATH, legacy, Observation("new", listing(7, [1, 2, 3])))
    assert record.verdict is VerdictKind.IGNORED
    assert {d.ignored_by for d in record.differences} == {
        "noise:body.data.children[*].data.fetched", "noise:body.data.generated"
    }
    assert comparator.rule_counts == {"noise:body.data.children[*].data.fetched": 3, "noise:body.data.generated": 1}
    # A deterministic field still mismatches; another path learned nothing.
    record = comparator.compare(PATH, legacy, Observation("new", listing(7, [1, 5, 3])))
    assert record.verdict is VerdictKind.MISMATCH
    assert [d.path for d in record.differences if d.ignored_by is None] == ["body.data.children[1].data.score"]
    assert comparator.compare("read.info.response", legacy, Observation("new", listing(7, [1, 2, 3]))).verdict is VerdictKind.MISMATCH


def test_noise_covers_the_subtree_beneath_a_learned_field() -> None:
    noise = LearnedNoise(min_samples=1, min_count=1)
    noise.observe(PATH, {"meta": {"a": 1}}, {"meta": {"a": 1, "b": {"c": 1}}})  # learns "meta.b"
    comparator = Comparator(noise=noise)
    record = comparator.compare(PATH, Observation("legacy", {"meta": {"b": {"c": 1}}}), Observation("new", {"meta": {"b": {"c": 2}}}))
    assert record.verdict is VerdictKind.IGNORED and record.differences[0].ignored_by == "noise:meta.b"


def test_declared_rules_take_precedence_over_noise() -> None:
    noise = LearnedNoise(min_samples=1, min_count=1)
    noise.observe(PATH, {"t": 1}, {"t": 2})
    comparator = Comparator([IgnoreRule("t", ("t",), "clock")], noise=noise)
    record = comparator.compare(PATH, Observation("legacy", {"t": 1}), Observation("new", {"t": 3}))
    assert record.differences[0].ignored_by == "t" and comparator.rule_counts == {"t": 1}


def test_raised_observations_teach_nothing() -> None:
    noise = LearnedNoise(min_samples=1, min_count=1)
    assert noise.observe(PATH, Observation("legacy", error="TimeoutError: x"), Observation("legacy", {"a": 1})) == []
    assert noise.samples(PATH) == 0


def test_serialises_to_and_from_dict_and_file(tmp_path: Path) -> None:
    noise = LearnedNoise(min_samples=2, min_count=2)
    teach(noise, 3)
    data = noise.to_dict()
    assert json.loads(json.dumps(data)) == data
    again = LearnedNoise.from_dict(data)
    assert again.to_dict() == data and again.trusted(PATH) == noise.trusted(PATH) != {}
    noise.save(tmp_path / "noise.json")
    assert LearnedNoise.load(tmp_path / "noise.json").to_dict() == data
    with pytest.raises(ValueError, match="version"):
        LearnedNoise.from_dict({**data, "version": 99})


def test_merge_adds_counts() -> None:
    a, b = LearnedNoise(2, 2), LearnedNoise(2, 2)
    teach(a, 1)
    teach(b, 1)
    assert a.trusted(PATH) == {}
    a.merge(b)
    assert a.samples(PATH) == 2 and set(a.trusted(PATH)) == {"body.data.children[*].data.fetched", "body.data.generated"}


def test_comparator_learns_with_its_own_normalisation() -> None:
    from diff_reports.normalise import Normaliser, canonicalise, drop_fields

    noise = LearnedNoise(min_samples=1, min_count=1)
    comparator = Comparator(noise=noise, normaliser=Normaliser([canonicalise, drop_fields(["debug"])]))
    first = Observation("legacy", {"debug": 1, "t": 1})
    assert comparator.learn(PATH, first, Observation("legacy", {"debug": 2, "t": 2})) == ["t"]  # debug dropped
    assert comparator.compare(PATH, first, Observation("new", {"debug": 3, "t": 5})).verdict is VerdictKind.IGNORED
    with pytest.raises(ValueError):
        Comparator().learn(PATH, first, first)
