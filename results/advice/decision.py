"""The ramp decision: from the evidence of one endpoint at its current step, go, hold or roll back,
each reason a sentence. Pure: the evidence is plain data (results.advice.gather reads it from the
results store; the replay builds it from its own counts), the policy is `[ramp.policy]`.

- roll back: a path's failure rate (mismatches and shadow errors among conclusive verdicts) is
  above the policy's maximum with the policy's confidence (its one-sided lower bound is above it),
  or a group marked fixed is seen again at this step;
- hold: a path not yet exercised or with too few samples, an upper bound not below the maximum,
  too many inconclusive (raced or unavailable) verdicts, an open group seen at this step, a
  latency regression that is both significant and large, too many SQL statements per request
  (when the policy sets a limit), or too little time at this step;
- go: none of these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from config.settings import RampPolicySettings
from results.advice.stats import MannWhitney, mann_whitney_greater, percentile, rate_bounds

Decision = Literal["go", "hold", "roll back"]
CONCLUSIVE = ("match", "ignored", "mismatch", "shadow_error")
FAILURES = ("mismatch", "shadow_error")
INCONCLUSIVE = ("raced", "unavailable")  # skipped is by design (a write the legacy refused)
UNRESOLVED = ("open", "regressed")


@dataclass(frozen=True)
class PathEvidence:
    path: str
    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def samples(self) -> int:
        return sum(self.counts.get(v, 0) for v in CONCLUSIVE)

    @property
    def failures(self) -> int:
        return sum(self.counts.get(v, 0) for v in FAILURES)

    @property
    def inconclusive(self) -> int:
        return sum(self.counts.get(v, 0) for v in INCONCLUSIVE)


@dataclass(frozen=True)
class GroupEvidence:
    """A mismatch or shadow-error group seen at this step, with its status now."""

    id: str
    path: str
    verdict: str
    status: str
    title: str
    seen: int  # occurrences at this step


@dataclass(frozen=True)
class Step:
    """The endpoint's current percentage and when it was set (epoch seconds; None: not in the audit trail)."""

    pct: float
    since: float | None


@dataclass(frozen=True)
class Evidence:
    endpoint: str
    paths: Sequence[PathEvidence]
    groups: Sequence[GroupEvidence] = ()
    legacy_ms: Sequence[float] = ()   # response latency samples, each side
    new_ms: Sequence[float] = ()
    legacy_sql: float | None = None   # mean SQL statements per request, each side
    new_sql: float | None = None
    sql_samples: int = 0
    step: Step | None = None          # None: not a ramp step (a replay run); time is not judged
    now: float = 0.0


@dataclass(frozen=True)
class PathRow:
    path: str
    total: int
    samples: int
    failures: int
    lower: float
    upper: float
    inconclusive: int
    status: str  # ok | few | unexercised | uncertain | inconclusive | too_high


@dataclass(frozen=True)
class Latency:
    legacy_samples: int
    new_samples: int
    legacy_p50: float | None
    legacy_p99: float | None
    new_p50: float | None
    new_p99: float | None
    test: MannWhitney | None
    regression: bool

    @property
    def p50_ratio(self) -> float | None:
        return _ratio(self.new_p50, self.legacy_p50)

    @property
    def p99_ratio(self) -> float | None:
        return _ratio(self.new_p99, self.legacy_p99)


@dataclass(frozen=True)
class Advice:
    endpoint: str
    decision: Decision
    reasons: tuple[str, ...]       # why this decision, each a sentence starting with it
    notes: tuple[str, ...]         # the rest of the evidence, each a sentence
    paths: tuple[PathRow, ...]
    latency: Latency
    legacy_sql: float | None
    new_sql: float | None
    step: Step | None
    seconds_at_step: float | None
    open_groups: int
    regressed_groups: int
    at: float = 0.0
    policy: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["latency"]["p50_ratio"] = self.latency.p50_ratio
        out["latency"]["p99_ratio"] = self.latency.p99_ratio
        return out


def _ratio(new: float | None, legacy: float | None) -> float | None:
    return new / legacy if new is not None and legacy else None


def pct(rate: float) -> str:
    """A rate as a percentage with two significant digits below 10% ("0.024%", "1.5%", "39%")."""
    v = rate * 100
    if v == 0:
        return "0%"
    if v >= 10:
        return f"{v:.0f}%"
    return f"{float(f'{v:.2g}'):g}%"


def duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{int(minutes // 60)} h {int(minutes % 60)} min"


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"1 {word}"
    return f"{n:,} {word}{'es' if word.endswith(('ch', 'sh', 's')) else 's'}"


def _failures_text(mismatches: int, errors: int) -> str:
    text = _plural(mismatches, "mismatch")
    return text + (f" and {_plural(errors, 'shadow error')}" if errors else "")


def _latency(ev: Evidence, policy: RampPolicySettings) -> Latency:
    legacy, new = list(ev.legacy_ms), list(ev.new_ms)
    test = None
    if len(legacy) >= policy.min_latency_samples and len(new) >= policy.min_latency_samples:
        test = mann_whitney_greater(new, legacy)  # one-sided: is the rewrite slower?
    lat = Latency(len(legacy), len(new), percentile(legacy, 0.5), percentile(legacy, 0.99), percentile(new, 0.5),
                  percentile(new, 0.99), test, False)
    large = ((lat.p50_ratio or 0) > policy.max_p50_ratio) or ((lat.p99_ratio or 0) > policy.max_p99_ratio)
    return Latency(**{**lat.__dict__, "regression": bool(test is not None and test.p < policy.latency_alpha and large)})


def _ms(v: float | None) -> str:
    return "–" if v is None else (f"{v:.1f}" if v < 100 else f"{v:.0f}")


def _latency_sentence(lat: Latency, policy: RampPolicySettings) -> str:
    if lat.test is None:
        return (f"latency not tested: {lat.legacy_samples} legacy and {lat.new_samples} rewrite samples, "
                f"the test needs {policy.min_latency_samples} on each side")
    r50, r99 = lat.p50_ratio, lat.p99_ratio
    shape = (f"rewrite p50 {_ms(lat.new_p50)} ms vs legacy {_ms(lat.legacy_p50)} ms ({r50:.2f}x), "
             f"p99 {_ms(lat.new_p99)} ms vs {_ms(lat.legacy_p99)} ms ({r99:.2f}x)" if r50 is not None and r99 is not None
             else f"rewrite p50 {_ms(lat.new_p50)} ms vs legacy {_ms(lat.legacy_p50)} ms")
    p = f"Mann-Whitney U one-sided p = {lat.test.p:.2g}"
    if lat.regression:
        return (f"the rewrite is slower: {shape}; {p} < {policy.latency_alpha:g} and above the "
                f"{policy.max_p50_ratio:g}x p50 / {policy.max_p99_ratio:g}x p99 limits")
    if lat.test.p < policy.latency_alpha:
        return f"latency: {shape}; slower with {p}, but within the {policy.max_p50_ratio:g}x p50 / {policy.max_p99_ratio:g}x p99 limits"
    return f"latency: {shape}; no significant slowdown ({p} >= {policy.latency_alpha:g})"


def advise(ev: Evidence, policy: RampPolicySettings = RampPolicySettings()) -> Advice:
    """Go, hold or roll back for `ev.endpoint`, with a sentence per reason."""
    limit = policy.max_mismatch_rate_pct / 100
    rollback: list[str] = []
    hold: list[str] = []
    notes: list[str] = []
    rows: list[PathRow] = []
    for p in ev.paths:
        lower, upper = rate_bounds(p.failures, p.samples, policy.confidence, policy.bound)
        share = 100 * p.inconclusive / p.total if p.total else 0.0
        if p.total == 0:
            status = "unexercised"
        elif p.samples and lower > limit:
            status = "too_high"
        elif share > policy.max_inconclusive_pct:
            status = "inconclusive"
        elif p.samples < policy.min_samples:
            status = "few"
        elif upper >= limit:
            status = "uncertain"
        else:
            status = "ok"
        rows.append(PathRow(p.path, p.total, p.samples, p.failures, lower, upper, p.inconclusive, status))
        failures = _failures_text(p.counts.get("mismatch", 0), p.counts.get("shadow_error", 0))
        conf = f"{policy.confidence * 100:g}%"
        if status == "too_high":
            rollback.append(f"roll back: {p.path} has {failures} in {p.samples:,} samples, so its failure rate is "
                            f"above {pct(limit)} with {conf} confidence (lower bound {pct(lower)})")
        elif status == "inconclusive":
            hold.append(f"hold: {p.path} has {p.inconclusive:,} of {p.total:,} verdicts inconclusive (raced or "
                        f"unavailable), {share:.1f}% > {policy.max_inconclusive_pct:g}%")
        elif status == "uncertain":
            hold.append(f"hold: {p.path} has {failures} in {p.samples:,} samples; its upper bound {pct(upper)} "
                        f"is not below {pct(limit)}")
    if not rows:
        hold.append(f"hold: no path of {ev.endpoint} to judge")
    unexercised = [r.path for r in rows if r.status == "unexercised"]
    if unexercised:
        hold.append(f"hold: {len(unexercised)} of {len(rows)} paths not yet exercised at this step: "
                    + ", ".join(unexercised))
    few = [r for r in rows if r.status == "few"]
    if few:
        hold.append(f"hold: too few samples on {len(few)} path{'s' if len(few) > 1 else ''} ("
                    + ", ".join(f"{r.path} {r.samples:,}" for r in few)
                    + f"); the policy asks for {policy.min_samples:,} each")

    open_groups = [g for g in ev.groups if g.status == "open"]
    regressed = [g for g in ev.groups if g.status == "regressed"]
    for g in regressed:
        sentence = (f"group {g.id} on {g.path} was marked fixed and is seen again at this step "
                    f"({_plural(g.seen, 'time')}): {g.title}")
        (rollback if policy.rollback_on_regressed else hold).append(
            ("roll back: " if policy.rollback_on_regressed else "hold: ") + sentence)
    if open_groups:
        listed = "; ".join(f"{g.id} on {g.path} ({g.title}, {_plural(g.seen, 'time')})" for g in open_groups[:5])
        more = f"; and {len(open_groups) - 5} more" if len(open_groups) > 5 else ""
        sentence = (f"{_plural(len(open_groups), 'open group')} seen at this step "
                    f"need{'s' if len(open_groups) == 1 else ''} review (accept as noise or fix): {listed}{more}")
        (hold.append("hold: " + sentence) if policy.hold_on_open_groups else notes.append(sentence))

    lat = _latency(ev, policy)
    (hold.append("hold: " + _latency_sentence(lat, policy)) if lat.regression
     else notes.append(_latency_sentence(lat, policy)))

    if ev.legacy_sql is not None and ev.new_sql is not None:
        ratio = ev.new_sql / ev.legacy_sql if ev.legacy_sql else None
        sql = (f"SQL statements per request: rewrite {ev.new_sql:.1f} vs legacy {ev.legacy_sql:.1f}"
               + (f" ({ratio:.2f}x)" if ratio is not None else "") + f" over {ev.sql_samples:,} requests")
        if policy.max_sql_ratio is not None and ratio is not None and ratio > policy.max_sql_ratio:
            hold.append(f"hold: {sql}, above the {policy.max_sql_ratio:g}x limit")
        else:
            notes.append(sql)
    else:
        notes.append("SQL statements per request: not measured for this endpoint")

    seconds = None
    if ev.step is not None:
        at = f"{ev.step.pct:g}%"
        if ev.step.since is None:
            msg = f"no audit entry says when {ev.endpoint} was set to {at}, so the time at this step is unknown"
            (hold.append("hold: " + msg) if policy.min_step_minutes > 0 else notes.append(msg))
        else:
            seconds = max(0.0, ev.now - ev.step.since)
            if seconds < policy.min_step_minutes * 60:
                hold.append(f"hold: {duration(seconds)} at {at} so far; the policy asks for "
                            f"{policy.min_step_minutes:g} min at a step")
            else:
                notes.append(f"{duration(seconds)} at {at}")

    if ev.step is not None and ev.step.pct <= 0 and not rollback:
        # Nothing is shadowed: the only evidence is from before, so say how to start instead.
        hold = [f"hold: {ev.endpoint} is at 0%, so nothing is shadowed and nothing is judged; start with a small "
                f"step by hand (tapcompare ramp set {ev.endpoint} 1)"]
    decision: Decision
    if rollback:
        decision, reasons = "roll back", rollback + hold
    elif hold:
        decision, reasons = "hold", hold
    else:
        decision = "go"
        mismatches = sum(p.counts.get("mismatch", 0) for p in ev.paths)
        errors = sum(p.counts.get("shadow_error", 0) for p in ev.paths)
        samples = sum(r.samples for r in rows)
        worst = max((r.upper for r in rows), default=0.0)
        reasons = [f"go: {_failures_text(mismatches, errors)} in {samples:,} samples, upper bound "
                   f"{'at most ' if len(rows) > 1 else ''}{pct(worst)} < {pct(limit)} on "
                   f"{'all ' + str(len(rows)) + ' paths' if len(rows) > 1 else rows[0].path if rows else 'no path'}"]
    return Advice(ev.endpoint, decision, tuple(reasons), tuple(notes), tuple(rows), lat, ev.legacy_sql, ev.new_sql,
                  ev.step, seconds, len(open_groups), len(regressed), ev.now, policy.model_dump())
