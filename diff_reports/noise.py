"""Learned noise, Diffy-style: fields that differ between two legacy runs of the same request.

Feed `observe(path, first, second)` with two legacy observations of the same request (Diffy's
primary and secondary). Every field that differs is counted under its generalised pattern
(indices become `[*]`), once per pair. A pattern is trusted as noise on a comparison path once
- at least `min_samples` pairs were observed on that path, and
- the pattern differed in at least `min_count` of them.
Until then it is only a candidate, so a one-off race between the two legacy reads does not
silence a field. A trusted pattern also covers everything beneath it.

Pure data: `to_dict()`/`from_dict()` save and load it, `merge()` combines workers' learning.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from diff_reports.value_diff import RawDifference, fast_equal, raw_differences
from diff_reports.normalise import NormaliseContext, Normaliser
from diff_reports.paths import ancestor_patterns
from diff_reports.types import Observation

FORMAT_VERSION = 1


class LearnedNoise:
    def __init__(self, min_samples: int = 10, min_count: int = 2) -> None:
        if min_samples < 1 or min_count < 1:
            raise ValueError(f"min_samples and min_count must be >= 1, got {min_samples}, {min_count}")
        self.min_samples = min_samples
        self.min_count = min_count
        self._samples: dict[str, int] = {}
        self._fields: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    # --- learning --------------------------------------------------------------------------------

    def observe(
        self, path: str, first: Observation | Any, second: Observation | Any, normaliser: Normaliser | None = None,
        keep: Callable[[RawDifference], bool] | None = None,
    ) -> list[str]:
        """Learn from two legacy runs of one request; return the patterns that differed.

        Observations where either run raised teach nothing and are not counted. `keep` selects
        the differences that count (a read recheck passes only fields the rewrite did not follow,
        so a write landing between the two legacy reads teaches nothing).
        """
        if isinstance(first, Observation) or isinstance(second, Observation):
            if getattr(first, "raised", False) or getattr(second, "raised", False):
                return []
            first = first.value if isinstance(first, Observation) else first
            second = second.value if isinstance(second, Observation) else second
        norm = normaliser or Normaliser()
        a = norm(first, NormaliseContext(path, "legacy"))
        b = norm(second, NormaliseContext(path, "legacy"))
        raw = [] if fast_equal(a, b) else raw_differences(a, b)
        if keep is not None:
            raw = [d for d in raw if keep(d)]
        return self.observe_differences(path, raw)

    def observe_differences(self, path: str, differences: Iterable[RawDifference]) -> list[str]:
        """Count one observed pair whose differences (possibly none) are given."""
        patterns = sorted({ancestor_patterns(d.tokens)[0] if d.tokens else "$" for d in differences})
        with self._lock:
            self._samples[path] = self._samples.get(path, 0) + 1
            counts = self._fields.setdefault(path, {})
            for pattern in patterns:
                counts[pattern] = counts.get(pattern, 0) + 1
        return patterns

    # --- applying --------------------------------------------------------------------------------

    def samples(self, path: str) -> int:
        return self._samples.get(path, 0)

    def candidates(self, path: str) -> dict[str, int]:
        """Every pattern seen differing on `path`, with how many pairs it differed in."""
        with self._lock:
            return dict(self._fields.get(path, {}))

    def trusted(self, path: str) -> dict[str, int]:
        """The patterns currently trusted as noise on `path`."""
        if self.samples(path) < self.min_samples:
            return {}
        with self._lock:
            return {p: n for p, n in self._fields.get(path, {}).items() if n >= self.min_count}

    def match(self, path: str, difference: RawDifference) -> str | None:
        """The trusted pattern covering `difference` on `path` (deepest first), or None."""
        if self.samples(path) < self.min_samples:
            return None
        counts = self._fields.get(path)
        if not counts:
            return None
        for pattern in ancestor_patterns(difference.tokens) or ["$"]:
            if counts.get(pattern, 0) >= self.min_count:
                return pattern
        if counts.get("$", 0) >= self.min_count:  # the whole value is non-deterministic
            return "$"
        return None

    # --- persistence -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "version": FORMAT_VERSION,
                "min_samples": self.min_samples,
                "min_count": self.min_count,
                "paths": {
                    p: {"samples": n, "fields": dict(sorted(self._fields.get(p, {}).items()))}
                    for p, n in sorted(self._samples.items())
                },
            }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LearnedNoise":
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"learned noise: unsupported format version {data.get('version')!r}")
        noise = cls(int(data["min_samples"]), int(data["min_count"]))
        for path, entry in data.get("paths", {}).items():
            noise._samples[path] = int(entry["samples"])
            noise._fields[path] = {str(k): int(v) for k, v in entry.get("fields", {}).items()}
        return noise

    def merge(self, other: "LearnedNoise") -> None:
        """Add `other`'s observations to these (thresholds stay this object's)."""
        data = other.to_dict()["paths"]
        with self._lock:
            for path, entry in data.items():
                self._samples[path] = self._samples.get(path, 0) + entry["samples"]
                counts = self._fields.setdefault(path, {})
                for pattern, n in entry["fields"].items():
                    counts[pattern] = counts.get(pattern, 0) + n

    def save(self, path: str | Path) -> None:
        """Write the learned noise as JSON (atomically: a temporary file, then a rename)."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, target)

    @classmethod
    def load(cls, path: str | Path) -> "LearnedNoise":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
