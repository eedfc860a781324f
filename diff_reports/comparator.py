"""The comparator: two observations of one path in, one VerdictRecord out. Pure CPU, no I/O.

Order of work: a side that raised decides the verdict (legacy raised -> SKIPPED, new raised ->
SHADOW_ERROR); otherwise both values are normalised, compared on the fast path, and only when
they differ diffed with DeepDiff. Each difference is then explained by the first declared rule
that ignores it, else by learned noise, else it stands. Any standing difference -> MISMATCH; all
explained -> IGNORED (differences kept, each with `ignored_by`); none -> MATCH.

Records keep redacted copies of the normalised values (and of each difference's values) unless
`redact_bodies=False`; MATCH records keep no values unless `keep_match_values=True`, so the
common case stays cheap. `compare` never raises: a failure inside comparison is an UNAVAILABLE
record saying why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Sequence
from typing import Any

from diff_reports.value_diff import RawDifference, fast_equal, raw_differences, value_at
from diff_reports.noise import LearnedNoise
from diff_reports.normalise import NormaliseContext, Normaliser
from diff_reports.redact import redact
from diff_reports.rules import NOISE_PREFIX, IgnoreRule, RuleSet
from diff_reports.types import Difference, Observation, Timings, VerdictKind, VerdictRecord


def related_paths(a: str, b: str) -> bool:
    """Same field path, or one holds the other (`x.y` / `x.y.z`, `l` / `l[2]`)."""
    if a == b or "$" in (a, b):
        return True
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return long_.startswith(short) and long_[len(short)] in ".["


class Comparator:
    def __init__(
        self,
        rules: Sequence[IgnoreRule] = (),
        noise: LearnedNoise | None = None,
        redact_bodies: bool = True,
        *,
        normaliser: Normaliser | None = None,
        keep_match_values: bool = False,
    ) -> None:
        self.rules = RuleSet(rules)
        self.noise = noise
        self.redact_bodies = redact_bodies
        self.normaliser = normaliser or Normaliser()
        self.keep_match_values = keep_match_values
        self._counts: dict[str, int] = {r.name: 0 for r in self.rules.rules}
        self._lock = threading.Lock()

    @property
    def rule_counts(self) -> dict[str, int]:
        """Ignored differences per rule name (every declared rule, zero included) and noise entry."""
        with self._lock:
            return dict(self._counts)

    def compare(
        self, path: str, legacy: Observation, new: Observation, *, entity: str | None = None,
        request_id: str | None = None,
    ) -> VerdictRecord:
        started = time.perf_counter()
        base: dict[str, Any] = {"path": path, "entity": entity, "request_id": request_id}
        try:
            verdict, reason, a, b, diffs = self._judge(path, legacy, new)
        except Exception as exc:  # noqa: BLE001 - comparison must never break the caller
            # Every exception is a verdict: `unavailable`, saying why; `context.raised` lets the
            # caller's `raised` hook count it too.
            failure = f"{type(exc).__name__}: {exc}"[:500]
            verdict, reason, a, b, diffs = VerdictKind.UNAVAILABLE, f"comparison failed: {failure}", None, None, ()
            base["context"] = {"raised": failure}
        timings: Timings = {
            "legacy_s": legacy.duration_s,
            "new_s": new.duration_s,
            "compare_s": time.perf_counter() - started,
        }
        return VerdictRecord(
            **base, verdict=verdict, reason=reason, differences=diffs, timings=timings,
            legacy_value=a, new_value=b,
        )

    def learn(self, path: str, first: Observation, second: Observation,
              only: Collection[str] | None = None) -> list[str]:
        """Feed two legacy runs of one request to the learned noise (same normalisation as compare).
        `only`: count just the differences at (or around) these field paths."""
        if self.noise is None:
            raise ValueError("this comparator has no LearnedNoise to teach")
        keep = None
        if only is not None:
            wanted = set(only)

            def keep(d: RawDifference) -> bool:
                return any(related_paths(d.path, p) for p in wanted)
        return self.noise.observe(path, first, second, normaliser=self.normaliser, keep=keep)

    # --- internals -------------------------------------------------------------------------------

    def _keep(self, value: Any) -> Any:
        return redact(value) if self.redact_bodies and value is not None else value

    def _normalise(self, path: str, obs: Observation, side: str) -> Any:
        return self.normaliser(obs.value, NormaliseContext(path, side))

    def _judge(
        self, path: str, legacy: Observation, new: Observation
    ) -> tuple[VerdictKind, str | None, Any, Any, tuple[Difference, ...]]:
        """The verdict, its reason, the values as the record keeps them, and the differences."""
        if legacy.raised:
            b = None if new.raised else self._keep(self._normalise(path, new, "new"))
            return VerdictKind.SKIPPED, f"legacy raised: {legacy.error}", None, b, ()
        a = self._normalise(path, legacy, "legacy")
        if new.raised:
            return VerdictKind.SHADOW_ERROR, f"new service raised: {new.error}", self._keep(a), None, ()
        b = self._normalise(path, new, "new")
        raw = [] if fast_equal(a, b) else raw_differences(a, b)
        if not raw:  # (raw_differences is empty when only the bytes differed, e.g. 0.0 vs -0.0)
            if not self.keep_match_values:
                return VerdictKind.MATCH, None, None, None, ()
            return VerdictKind.MATCH, None, self._keep(a), self._keep(b), ()
        ra, rb = self._keep(a), self._keep(b)
        diffs = self._explain(path, raw, ra, rb)
        standing = sum(1 for d in diffs if d.ignored_by is None)
        if standing:
            kinds = sorted({d.kind for d in diffs if d.ignored_by is None})
            reason = f"{standing} of {len(diffs)} differences not ignored ({', '.join(kinds)})"
            return VerdictKind.MISMATCH, reason, ra, rb, diffs
        by = sorted({d.ignored_by for d in diffs if d.ignored_by})
        return VerdictKind.IGNORED, f"all {len(diffs)} differences ignored by {', '.join(by)}", ra, rb, diffs

    def _explain(self, path: str, raw: list[RawDifference], ra: Any, rb: Any) -> tuple[Difference, ...]:
        """Rules, then noise, for each difference; values taken from the kept (redacted) trees."""
        out: list[Difference] = []
        hits: dict[str, int] = {}
        for d in raw:
            plain = d.to_difference()
            by: str | None = None
            rule = self.rules.match(path, plain) if len(self.rules) else None
            if rule is not None:
                by = rule.name
            elif self.noise is not None:
                pattern = self.noise.match(path, d)
                if pattern is not None:
                    by = NOISE_PREFIX + pattern
            if by is not None:
                hits[by] = hits.get(by, 0) + 1
            if self.redact_bodies:  # the record's values come from the redacted trees
                legacy_v = value_at(ra, d.tokens) if d.kind != "added" else None
                new_v = value_at(rb, d.tokens) if d.kind != "removed" else None
                out.append(Difference(plain.path, d.kind, legacy_v, new_v, by))
            else:
                out.append(Difference(plain.path, d.kind, d.legacy, d.new, by))
        if hits:
            with self._lock:
                for key, n in hits.items():
                    self._counts[key] = self._counts.get(key, 0) + n
        return tuple(out)
