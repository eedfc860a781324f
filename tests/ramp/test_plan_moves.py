"""Declared ramp plans: [[ramp.plan]] validation and the plan's moves on the advisor's decisions (pure)."""

from __future__ import annotations

import pytest

from config import ConfigError, settings_from_mapping
from config.settings import RampPlanSettings
from diff_reports.types import VerdictKind
from results.advice.decision import Advice, Evidence, GroupEvidence, PathEvidence, Step, advise
from results.advice.plan import PlanError, PlanState, aborted, next_move, outside_change, paused, progress, resumed

NOW = 1_000_000.0


def problems(ramp: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as err:
        settings_from_mapping({"ramp": ramp})
    return {p.key: p.expected for p in err.value.problems}


def test_plan_config_errors_name_the_key_and_what_was_expected() -> None:
    assert "rising strictly" in problems({"plan": [{"endpoint": "create", "steps": [5, 1]}]})["ramp.plan.0.steps"]
    assert "at most 100" in problems({"plan": [{"endpoint": "create", "steps": [1, 150]}]})["ramp.plan.0.steps"]
    assert "'create'" in problems({"plan": [{"endpoint": "creat", "steps": [1]}]})["ramp.plan.0.endpoint"]
    got = problems({"plan": [{"endpoint": "create", "steps": [1, 5], "min_minutes": [1, 2, 3], "min_samples": 0}]})
    assert got["ramp.plan.0.min_minutes"].startswith("one number for every step, or a list of 2")
    assert got["ramp.plan.0.min_samples"] == "at least 1 sample"
    got = problems({"plan": [{"endpoint": "info", "steps": [1]}, {"endpoint": "info", "steps": [5]}]})
    assert got["ramp.plan"] == "one plan per endpoint; info has more than one"
    assert "no such key" in problems({"plan": [{"endpoint": "info", "steps": [1], "policy": {"min_sample": 3}}]})[
        "ramp.plan.0.policy.min_sample"]
    assert "plan_lease_s above plan_tick_s" in problems({"plan_tick_s": 10, "plan_lease_s": 5})["ramp"]


def test_a_plans_policy_is_the_global_one_with_its_own_keys_over_it() -> None:
    s = settings_from_mapping({"ramp": {
        "policy": {"min_samples": 7, "confidence": 0.9, "min_step_minutes": 4},
        "plan": [{"endpoint": "create", "steps": [1, 5, 25], "min_samples": [10, 20, 30], "policy": {"min_samples": 3}},
                 {"endpoint": "info", "steps": [50]}]}})
    create, info = s.ramp.plan_for("create"), s.ramp.plan_for("info")
    assert create is not None and info is not None and s.ramp.plan_for("update") is None
    assert (create.policy.min_samples, create.policy.confidence) == (3, 0.9)
    assert create.step_samples == (10, 20, 30) and create.step_minutes == (4.0, 4.0, 4.0)
    assert info.step_samples == (7,) and info.policy.confidence == 0.9
    state = PlanState.begin(create, who="cli:ana", now=NOW)
    assert state.step_policy().min_samples == 10 and state.step_policy().confidence == 0.9
    assert PlanState.from_json(state.to_json()) == state


def plan(**over) -> PlanState:
    settings = RampPlanSettings(**{"endpoint": "info", "steps": [1, 5, 25], "min_minutes": 1, "min_samples": 100,
                                   **over})
    return PlanState.begin(settings, who="cli:ana", now=NOW)


def at(state: PlanState, step: int) -> PlanState:
    return PlanState(**{**state.__dict__, "step": step, "pct": state.steps[step]})


def decided(mismatches: int = 0, n: int = 4000, open_group: bool = False) -> Advice:
    counts = {VerdictKind.MATCH.value: n - mismatches, VerdictKind.MISMATCH.value: mismatches}
    groups = [GroupEvidence("g1", "read.info.response", "mismatch", "open", "body changed", 1)] if open_group else []
    return advise(Evidence("info", [PathEvidence("read.info.response", counts)], groups, step=Step(5, NOW - 600),
                           now=NOW))


def test_the_plan_waits_for_its_steps_minimum_time_and_samples() -> None:
    state = plan()
    assert not progress(state, 500, NOW + 59).ready
    assert not progress(state, 99, NOW + 61).ready
    ready = progress(state, 100, NOW + 60)
    assert ready.ready and ready.sentence() == "100 of 100 samples, 60 s of 60 s"


def test_go_sets_the_next_step_and_finishes_at_the_last() -> None:
    advice = decided()
    assert advice.decision == "go"
    move = next_move(plan(), advice, NOW + 100)
    assert (move.kind, move.to_pct, move.state.step, move.state.status) == ("advance", 5, 1, "running")
    assert move.state.step_since == NOW + 100
    assert move.why.startswith("plan step 2 of 3: 1% -> 5%; go: 0 mismatches in 4,000 samples")
    done = next_move(at(plan(), 2), advice, NOW + 100)
    assert (done.kind, done.to_pct, done.state.status) == ("done", None, "done")
    assert done.why.startswith("plan done at step 3 of 3 (25%): go:")


def test_hold_pauses_with_the_reason_and_leaves_the_percentage() -> None:
    advice = decided(open_group=True)
    assert advice.decision == "hold"
    move = next_move(at(plan(), 1), advice, NOW)
    assert (move.kind, move.to_pct, move.state.status, move.state.pct) == ("pause", None, "paused", 5)
    assert move.why.startswith("plan paused at step 2 of 3 (5%): hold: 1 open group seen at this step needs review")


def test_roll_back_ramps_down_to_the_previous_step_or_to_zero() -> None:
    advice = decided(mismatches=40)
    assert advice.decision == "roll back"
    move = next_move(at(plan(), 2), advice, NOW)
    assert (move.kind, move.to_pct, move.state.step, move.state.status) == ("roll back", 5, 1, "rolled_back")
    assert move.why.startswith("plan rolled back from step 3 of 3 (25%) to 5%: roll back: read.info.response has 40")
    assert next_move(plan(), advice, NOW).to_pct == 0  # from the first step
    assert next_move(at(plan(rollback_to="zero"), 2), advice, NOW).to_pct == 0


def test_a_change_outside_the_plan_pauses_it_and_resume_sets_the_step_again() -> None:
    state = at(plan(), 1)
    assert outside_change(state, 5, NOW) is None
    move = outside_change(state, 0, NOW, by="by guardrail: error rate 30%")
    assert move is not None and move.state.status == "paused" and move.to_pct is None
    assert move.why == ("plan paused at step 2 of 3 (5%): info is at 0%, not the plan's 5%; changed outside the plan "
                        "(by guardrail: error rate 30%)")
    again = resumed(move.state, who="cli:ana", why="guardrail fixed", now=NOW + 5)
    assert (again.to_pct, again.state.status, again.state.step_since) == (5, "running", NOW + 5)
    assert again.why == "plan resumed at step 2 of 3 (5%) by cli:ana: guardrail fixed"
    with pytest.raises(PlanError, match="not paused"):
        resumed(again.state, who="cli:ana", why="", now=NOW)
    with pytest.raises(PlanError, match="not running"):
        paused(move.state, who="cli:ana", why="", now=NOW)
    stop = aborted(move.state, who="cli:ana", why="", pct_now=0, now=NOW)
    assert stop.state.status == "aborted" and stop.why == "plan aborted at step 2 of 3 (5%) by cli:ana; info stays at 0%"
    with pytest.raises(PlanError, match="aborted already"):
        aborted(stop.state, who="cli:ana", why="", pct_now=0, now=NOW)
