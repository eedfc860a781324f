"""The gate's trust checks: inconclusive is not a pass, a race in lockstep is a harness defect,
required behaviour must have been exercised."""

from __future__ import annotations

from results.store.queries import Thresholds, inconclusive_reason
from replay.coverage import BRANCHES, missing_branches
from replay.gate import EXIT_GATE, EXIT_INCOMPLETE, apply_trust, decide, inconclusive_paths


def _counts(raced: int, match: int = 990, path: str = "read.comments.response") -> dict[str, dict[str, int]]:
    return {path: {"match": match, "raced": raced}, "create.response": {"match": 100}}


def test_a_path_over_one_percent_raced_fails_the_gate_and_is_named() -> None:
    gate = apply_trust(decide("any", {}, set(), []), _counts(raced=11))  # 11 of 1001: 1.1%
    assert not gate.passed and gate.exit_code == EXIT_GATE
    assert list(gate.inconclusive) == ["read.comments.response"]
    assert any("read.comments.response" in r and "raced" in r for r in gate.reasons), gate.reasons


def test_at_or_below_the_threshold_passes() -> None:
    gate = apply_trust(decide("any", {}, set(), []), _counts(raced=10))  # 10 of 1000: exactly 1%
    assert gate.passed and not gate.inconclusive


def test_thresholds_are_configurable_and_warn_only_reports() -> None:
    assert apply_trust(decide("any", {}, set(), []), _counts(raced=11), thresholds=Thresholds(raced_pct=5.0)).passed
    warned = apply_trust(decide("any", {}, set(), []), _counts(raced=50), inconclusive="warn")
    assert warned.passed and "read.comments.response" in warned.inconclusive
    unavailable = {"update.postgres.parity": {"match": 90, "unavailable": 10}}
    assert not apply_trust(decide("new-groups", {}, set(), []), unavailable).passed
    skipped = {"create.response": {"match": 50, "skipped": 50}}
    assert apply_trust(decide("any", {}, set(), []), skipped).passed  # skipped: off by default
    assert not apply_trust(decide("any", {}, set(), []), skipped, thresholds=Thresholds(skipped_pct=10)).passed


def test_a_path_with_no_conclusive_verdict_is_inconclusive() -> None:
    assert inconclusive_reason({"raced": 0, "skipped": 3}) == "none of 3 verdicts conclusive"
    assert inconclusive_reason({"match": 0}) is None  # never exercised is not inconclusive
    assert inconclusive_paths({"a": {"match": 5}, "b": {"raced": 1, "match": 1}}) == {
        "b": "1 of 2 raced (50.0% > 1%)"}


def test_any_race_in_a_lockstep_replay_is_a_harness_defect() -> None:
    counts = _counts(raced=1, match=10_000)  # far below 1%, yet no concurrent writer exists in lockstep
    assert apply_trust(decide("any", {}, set(), []), counts).passed
    gate = apply_trust(decide("any", {}, set(), []), counts, lockstep=True)
    assert not gate.passed and gate.harness_defects
    assert "read.comments.response" in gate.harness_defects[0]


def test_incomplete_keeps_its_exit_code_and_none_never_fails() -> None:
    gate = apply_trust(decide("any", {}, set(), ["3 verdicts missing"]), _counts(raced=500))
    assert gate.exit_code == EXIT_INCOMPLETE and len(gate.reasons) == 2
    none = apply_trust(decide("none", {}, set(), []), _counts(raced=500), lockstep=True)
    assert none.passed and none.inconclusive  # still reported


def test_required_behaviour_coverage() -> None:
    rows = [{"branch": b, "what": "", "count": 1 if b != "edit.noop" else 0} for b in BRANCHES]
    assert missing_branches(rows, ["all"]) == ["edit.noop"]
    assert missing_branches(rows, ["vote.self"]) == []
    gate = apply_trust(decide("any", {}, set(), []), {}, coverage=rows, require_coverage=["edit.noop", "vote.self"])
    assert not gate.passed and gate.uncovered == ["edit.noop"]
    assert apply_trust(decide("any", {}, set(), []), {}, coverage=rows, require_coverage=["vote.self"]).passed
