"""The exit decision of a replay (`--fail-on`), and baseline files of accepted group fingerprints.

- `new-groups`: fail when a mismatch or shadow_error group is not in the baseline;
- `any`: fail on any mismatch or shadow_error;
- `none`: never fail on verdicts.
An incomplete run (verdicts missing, exchanges or results dropped) fails under every policy
but `none`: a gate that passes because verdicts went missing would be worse than none.
`apply_trust` adds what a green gate must also mean: no path is inconclusive (its raced, unavailable
or skipped share above a threshold), a lockstep replay saw no race (a harness defect there), and
every required behaviour branch was exercised.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from results.store.queries import Thresholds, inconclusive_reason
from replay.sink import Group

POLICIES = ("new-groups", "any", "none")
EXIT_OK, EXIT_GATE, EXIT_INCOMPLETE = 0, 1, 3


class BaselineError(ValueError):
    """A baseline file that cannot be read; the message names the file and what was expected."""


def load_baseline(path: str | Path | None) -> set[str]:
    """Fingerprints from a JSON list of strings (or of objects with an `id`, like a report's groups)."""
    if path is None:
        return set()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BaselineError(f"baseline {path}: cannot read it ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("groups"), list):
        data = data["groups"]
    if not isinstance(data, list):
        raise BaselineError(f"baseline {path}: expected a JSON list of group fingerprints")
    out = set()
    for item in data:
        fp = item.get("id") if isinstance(item, dict) else item
        if not isinstance(fp, str) or not fp:
            raise BaselineError(f"baseline {path}: {item!r} is not a group fingerprint (a string)")
        out.add(fp)
    return out


def write_baseline(path: str | Path, groups: dict[str, Group]) -> None:
    """The run's mismatch/shadow_error groups as a baseline (sorted fingerprints)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(sorted(groups), indent=2) + "\n", encoding="utf-8")


@dataclass
class GateResult:
    policy: str
    passed: bool
    exit_code: int
    reasons: list[str] = field(default_factory=list)
    new_groups: list[str] = field(default_factory=list)
    known_groups: list[str] = field(default_factory=list)
    inconclusive: dict[str, str] = field(default_factory=dict)  # path -> why (see apply_trust)
    harness_defects: list[str] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)          # required behaviour branches never exercised


def decide(policy: str, groups: dict[str, Group], baseline: set[str], incomplete: list[str]) -> GateResult:
    if policy not in POLICIES:
        raise ValueError(f"unknown --fail-on {policy!r} (expected one of {', '.join(POLICIES)})")
    new = sorted(fp for fp in groups if fp not in baseline)
    known = sorted(fp for fp in groups if fp in baseline)
    result = GateResult(policy, True, EXIT_OK, new_groups=new, known_groups=known)
    if policy == "none":
        return result
    if incomplete:
        result.passed, result.exit_code = False, EXIT_INCOMPLETE
        result.reasons += incomplete
    failing = new if policy == "new-groups" else sorted(groups)
    if failing:
        occurrences = sum(groups[fp].count for fp in failing)
        what = "new " if policy == "new-groups" else ""
        result.reasons.append(f"{len(failing)} {what}mismatch/shadow_error group(s), {occurrences} verdict(s): "
                              + ", ".join(f"{fp} ({groups[fp].signature.path})" for fp in failing[:10]))
        if result.passed:
            result.exit_code = EXIT_GATE
        result.passed = False
    return result


# -- trust: inconclusive paths, lockstep races, behaviour coverage ------------------------------

def inconclusive_paths(counts: dict[str, dict[str, int]], thresholds: Thresholds = Thresholds()) -> dict[str, str]:
    """Path -> why it is inconclusive, for every path whose raced/unavailable/skipped share is
    above its threshold (or that has no conclusive verdict at all): the same rule as the reports."""
    out = {}
    for path, row in sorted(counts.items()):
        why = inconclusive_reason(row, thresholds)
        if why:
            out[path] = why
    return out


def apply_trust(gate: GateResult, counts: dict[str, dict[str, int]], *, thresholds: Thresholds = Thresholds(),
                lockstep: bool = False, inconclusive: str = "fail", coverage: list[dict] | None = None,
                require_coverage: list[str] | None = None) -> GateResult:
    """Add the trust checks to a verdict gate (unless the policy is `none`): inconclusive paths
    (fail unless `inconclusive` = "warn"), any raced verdict in a lockstep replay (no concurrent
    writer exists there, so a race is a harness defect) and required behaviour branches with no
    occurrence. Fills `gate.inconclusive`, `gate.harness_defects`, `gate.uncovered` either way."""
    from replay.coverage import missing_branches

    gate.inconclusive = inconclusive_paths(counts, thresholds)
    if lockstep:
        gate.harness_defects = [f"{path}: {row['raced']} raced verdict(s) in a lockstep replay (no concurrent writer: "
                                "a harness defect)" for path, row in sorted(counts.items()) if row.get("raced")]
    if coverage is not None and require_coverage:
        gate.uncovered = missing_branches(coverage, require_coverage)
    if gate.policy == "none":
        return gate
    failing = []
    if gate.inconclusive and inconclusive == "fail":
        failing.append(f"{len(gate.inconclusive)} inconclusive path(s): "
                       + "; ".join(f"{p}: {why}" for p, why in gate.inconclusive.items()))
    failing += gate.harness_defects
    if gate.uncovered:
        failing.append(f"required behaviour not exercised: {', '.join(gate.uncovered)}")
    if failing:
        gate.reasons += failing
        if gate.passed:
            gate.exit_code = EXIT_GATE
        gate.passed = False
    return gate
