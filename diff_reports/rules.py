"""Declared ignore rules: field-path globs, optional path scoping and numeric tolerances.

Every rule names itself and says why (`reason` is mandatory). A difference is ignored by the
first rule, in declared order, that
- applies to the comparison path (`applies_to`: fnmatch globs over names like
  `create.postgres.parity` or `read.comments.response`; empty means every path),
- has a field glob matching the difference's path (see `diff_reports.paths`),
- accepts its kind (`kinds`; empty means every kind), and
- when it declares a tolerance, the difference is numeric (int/float, not bool, `changed` or
  `type_changed` between int and float) and within it: `|a - b| <= tolerance_abs` or
  `|a - b| <= tolerance_rel * max(|a|, |b|)`. A tolerance rule never ignores anything else.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from diff_reports.value_diff import DIFFERENCE_KINDS
from diff_reports.paths import compile_glob
from diff_reports.types import Difference

NOISE_PREFIX = "noise:"


@dataclass(frozen=True)
class IgnoreRule:
    name: str
    paths: tuple[str, ...]
    reason: str
    applies_to: tuple[str, ...] = ()
    tolerance_abs: float | None = None
    tolerance_rel: float | None = None
    kinds: tuple[str, ...] = ()
    _regexes: tuple[Any, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("paths", "applies_to", "kinds"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, (value,))
            else:
                object.__setattr__(self, name, tuple(value))
        if not self.name or self.name.startswith(NOISE_PREFIX):
            raise ValueError(f"rule name {self.name!r}: expected a non-empty name not starting with {NOISE_PREFIX!r}")
        if not self.reason or not self.reason.strip():
            raise ValueError(f"rule {self.name!r}: a reason is required")
        if not self.paths:
            raise ValueError(f"rule {self.name!r}: at least one field-path pattern is required")
        for tol in ("tolerance_abs", "tolerance_rel"):
            value = getattr(self, tol)
            if value is not None and not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"rule {self.name!r}: {tol} must be a finite number >= 0, got {value!r}")
        bad = [k for k in self.kinds if k not in DIFFERENCE_KINDS]
        if bad:
            raise ValueError(f"rule {self.name!r}: unknown kinds {bad} (expected {list(DIFFERENCE_KINDS)})")
        try:
            regexes = tuple(compile_glob(p) for p in self.paths)
        except ValueError as exc:
            raise ValueError(f"rule {self.name!r}: {exc}") from None
        object.__setattr__(self, "_regexes", regexes)

    @property
    def has_tolerance(self) -> bool:
        return self.tolerance_abs is not None or self.tolerance_rel is not None

    def applies(self, comparison_path: str) -> bool:
        return not self.applies_to or any(fnmatchcase(comparison_path, p) for p in self.applies_to)

    def matches_field(self, field_path: str) -> bool:
        return any(r.match(field_path) for r in self._regexes)

    def within_tolerance(self, legacy: Any, new: Any) -> bool:
        if not (_is_number(legacy) and _is_number(new)):
            return False
        delta = abs(legacy - new)
        if self.tolerance_abs is not None and delta <= self.tolerance_abs:
            return True
        return self.tolerance_rel is not None and delta <= self.tolerance_rel * max(abs(legacy), abs(new))

    def ignores(self, comparison_path: str, difference: Difference) -> bool:
        if not self.applies(comparison_path) or not self.matches_field(difference.path):
            return False
        if self.kinds and difference.kind not in self.kinds:
            return False
        if self.has_tolerance:
            return difference.kind in ("changed", "type_changed") and self.within_tolerance(difference.legacy, difference.new)
        return True

    @classmethod
    def from_mapping(cls, data: Any) -> "IgnoreRule":
        """From a `[[compare.rules]]` entry: a mapping or a settings object with the same fields."""
        get: Callable[..., Any] = data.get if isinstance(data, dict) else lambda k, d=None: getattr(data, k, d)
        return cls(
            name=get("name"), paths=tuple(get("paths", ())), reason=get("reason"),
            applies_to=tuple(get("applies_to", ()) or ()), tolerance_abs=get("tolerance_abs"),
            tolerance_rel=get("tolerance_rel"), kinds=tuple(get("kinds", ()) or ()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "paths": list(self.paths), "reason": self.reason,
            "applies_to": list(self.applies_to), "tolerance_abs": self.tolerance_abs,
            "tolerance_rel": self.tolerance_rel, "kinds": list(self.kinds),
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class RuleSet:
    """Rules in declared order, with the applicable subset cached per comparison path."""

    def __init__(self, rules: Iterable[IgnoreRule] = ()) -> None:
        self.rules: tuple[IgnoreRule, ...] = tuple(rules)
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate rule names: {dupes}")
        self._by_path: dict[str, tuple[IgnoreRule, ...]] = {}

    def for_path(self, comparison_path: str) -> tuple[IgnoreRule, ...]:
        cached = self._by_path.get(comparison_path)
        if cached is None:
            cached = tuple(r for r in self.rules if r.applies(comparison_path))
            if len(self._by_path) < 10_000:
                self._by_path[comparison_path] = cached
        return cached

    def match(self, comparison_path: str, difference: Difference) -> IgnoreRule | None:
        """The first rule that ignores `difference` on `comparison_path`, if any."""
        for rule in self.for_path(comparison_path):
            if rule.ignores(comparison_path, difference):
                return rule
        return None

    def __len__(self) -> int:
        return len(self.rules)


def rules_from_settings(entries: Sequence[Any]) -> list[IgnoreRule]:
    """`[[compare.rules]]` entries (settings objects or mappings) -> rules, names unique."""
    rules = [IgnoreRule.from_mapping(e) for e in entries]
    RuleSet(rules)  # validates uniqueness
    return rules
