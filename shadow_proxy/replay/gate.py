"""The exit decision of a replay (`--fail-on`), and baseline files of accepted group fingerprints.

- `new-groups`: fail when a mismatch or shadow_error group is not in the baseline;
- `any`: fail on any mismatch or shadow_error;
- `none`: never fail on verdicts.
An incomplete run (verdicts missing, exchanges or results dropped) fails under every policy
but `none`: a gate that passes because verdicts went missing would be worse than none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from shadow_proxy.replay.sink import Group

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
