"""A declared ramp plan as it runs: its state and what it does next (pure).

The state is plain data kept in the control-plane Redis (wiring/ramp_plan_store.py), so whichever
executor holds the lease continues where the last one stopped. `next_move` says what to do at one
tick: wait for the step's minimum time and samples, then follow the advisor: go sets the next step
(or finishes at the last), hold pauses, roll back ramps down and pauses. A percentage changed
outside the plan (the kill switch, a guardrail, a manual `ramp set`) pauses it: the plan never
overrides anyone. The executor applies the move through the audited ramp control.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from config.settings import RampPlanSettings, RampPolicySettings
from results.advice.decision import Advice, duration

PlanStatus = Literal["running", "paused", "rolled_back", "done", "aborted"]
ACTIVE: tuple[PlanStatus, ...] = ("running", "paused", "rolled_back")
MoveKind = Literal["wait", "advance", "done", "pause", "roll back"]


def fmt_pct(p: float) -> str:
    return f"{p:g}%"


@dataclass(frozen=True)
class PlanState:
    endpoint: str
    steps: tuple[float, ...]
    min_minutes: tuple[float, ...]
    min_samples: tuple[int, ...]
    policy: dict[str, Any]           # RampPolicySettings, as started
    rollback_to: str                 # "previous" | "zero"
    status: PlanStatus
    step: int                        # index into steps
    pct: float                       # the percentage the plan set last (what it expects to see)
    step_since: float                # when this step was set or resumed: its evidence starts here
    started_by: str
    started_at: float
    updated_at: float
    reason: str = ""                 # why the plan is in its status (the advisor's reasons, or who paused it)
    decisions: tuple[str, ...] = field(default=())  # the last advice's reasons

    @classmethod
    def begin(cls, plan: RampPlanSettings, *, who: str, now: float) -> PlanState:
        return cls(plan.endpoint, tuple(plan.steps), plan.step_minutes, plan.step_samples, plan.policy.model_dump(),
                   plan.rollback_to, "running", 0, plan.steps[0], now, who, now, now, "started")

    @property
    def step_pct(self) -> float:
        return self.steps[self.step]

    @property
    def is_last(self) -> bool:
        return self.step == len(self.steps) - 1

    def where(self) -> str:
        return f"step {self.step + 1} of {len(self.steps)} ({fmt_pct(self.step_pct)})"

    def step_policy(self) -> RampPolicySettings:
        """The advisor's policy at this step: the step's minimum time and samples in place of the policy's."""
        return RampPolicySettings(**{**self.policy, "min_step_minutes": self.min_minutes[self.step],
                                     "min_samples": self.min_samples[self.step]})

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PlanState:
        raw = json.loads(text)
        for key in ("steps", "min_minutes", "min_samples", "decisions"):
            raw[key] = tuple(raw.get(key, ()))
        return cls(**raw)


@dataclass(frozen=True)
class Progress:
    """How far the current step is towards asking the advisor."""

    seconds: float
    samples: int
    min_seconds: float
    min_samples: int

    @property
    def ready(self) -> bool:
        return self.seconds >= self.min_seconds and self.samples >= self.min_samples

    def sentence(self) -> str:
        return (f"{self.samples:,} of {self.min_samples:,} samples, {duration(self.seconds)} of "
                f"{duration(self.min_seconds)}")


def progress(state: PlanState, samples: int, now: float) -> Progress:
    return Progress(max(0.0, now - state.step_since), samples, state.min_minutes[state.step] * 60,
                    state.min_samples[state.step])


@dataclass(frozen=True)
class Move:
    kind: MoveKind
    state: PlanState           # the state after the move
    to_pct: float | None       # the percentage to set through the ramp control; None: leave it
    why: str                   # the audit trail's reason


def outside_change(state: PlanState, pct_now: float, now: float, by: str = "") -> Move | None:
    """A running plan whose endpoint is not at the percentage it set pauses (the kill switch wins)."""
    if state.status != "running" or pct_now == state.pct:
        return None
    why = (f"plan paused at {state.where()}: {state.endpoint} is at {fmt_pct(pct_now)}, not the plan's "
           f"{fmt_pct(state.pct)}; changed outside the plan" + (f" ({by})" if by else ""))
    return Move("pause", replace(state, status="paused", reason=why, updated_at=now), None, why)


def next_move(state: PlanState, advice: Advice, now: float) -> Move:
    """What a running plan does on the advisor's decision, once its step's minimums are met."""
    reasons = "; ".join(advice.reasons)
    at = state.where()
    if advice.decision == "go":
        if state.is_last:
            why = f"plan done at {at}: {reasons}"
            return Move("done", replace(state, status="done", reason=why, decisions=advice.reasons, updated_at=now),
                        None, why)
        nxt = state.step + 1
        pct = state.steps[nxt]
        why = f"plan step {nxt + 1} of {len(state.steps)}: {fmt_pct(state.step_pct)} -> {fmt_pct(pct)}; {reasons}"
        return Move("advance", replace(state, step=nxt, pct=pct, step_since=now, reason=why, decisions=advice.reasons,
                                       updated_at=now), pct, why)
    if advice.decision == "hold":
        why = f"plan paused at {at}: {reasons}"
        return Move("pause", replace(state, status="paused", reason=why, decisions=advice.reasons, updated_at=now),
                    None, why)
    back = state.step - 1 if state.rollback_to == "previous" and state.step > 0 else None
    pct = state.steps[back] if back is not None else 0.0
    why = f"plan rolled back from {at} to {fmt_pct(pct)}: {reasons}"
    return Move("roll back", replace(state, status="rolled_back", step=back if back is not None else 0, pct=pct,
                                     step_since=now, reason=why, decisions=advice.reasons, updated_at=now), pct, why)


def resumed(state: PlanState, *, who: str, why: str, now: float) -> Move:
    """A paused or rolled-back plan runs again from its current step; the step's clock restarts
    (its minimum time and samples count again, from now) and its percentage is set again."""
    if state.status not in ("paused", "rolled_back"):
        raise PlanError(f"the plan for {state.endpoint} is {state.status}, not paused; nothing to resume")
    text = f"plan resumed at {state.where()} by {who}" + (f": {why}" if why else "")
    return Move("advance", replace(state, status="running", pct=state.step_pct, step_since=now, reason=text,
                                   updated_at=now), state.step_pct, text)


def paused(state: PlanState, *, who: str, why: str, now: float) -> Move:
    if state.status != "running":
        raise PlanError(f"the plan for {state.endpoint} is {state.status}, not running; nothing to pause")
    text = f"plan paused at {state.where()} by {who}" + (f": {why}" if why else "")
    return Move("pause", replace(state, status="paused", reason=text, updated_at=now), None, text)


def aborted(state: PlanState, *, who: str, why: str, pct_now: float, now: float) -> Move:
    if state.status not in ACTIVE:
        raise PlanError(f"the plan for {state.endpoint} is {state.status} already")
    text = (f"plan aborted at {state.where()} by {who}; {state.endpoint} stays at {fmt_pct(pct_now)}"
            + (f": {why}" if why else ""))
    return Move("pause", replace(state, status="aborted", reason=text, updated_at=now), None, text)


class PlanError(ValueError):
    """A plan operation that does not apply (the message says why and what would)."""
