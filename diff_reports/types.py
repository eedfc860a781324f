"""The vocabulary where packages meet: paths, observations, differences and verdicts.

Dependency-free on purpose (stdlib only) so the proxy, the comparison core, workers and reports
can all import it without pulling each other in. Everything here is immutable and serialisable
to plain JSON-able dicts, so a comparison can run in another process.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Literal, TypedDict

WRITE_ENDPOINTS = ("create", "update", "increment")
READ_ENDPOINTS = ("info", "comments", "morechildren")
STORES = ("postgres", "memcached", "redis_cdc")
CHECKS = ("parity", "legacy_read")


class VerdictKind(str, Enum):
    MATCH = "match"
    MISMATCH = "mismatch"
    IGNORED = "ignored"          # a declared rule or learned noise explains every difference
    RACED = "raced"              # another write landed in between: inconclusive, never a mismatch
    SHADOW_ERROR = "shadow_error"  # the new service failed or timed out
    UNAVAILABLE = "unavailable"  # a store could not be read
    SKIPPED = "skipped"          # not comparable; the record says why


# Difference kinds beyond DeepDiff's changed/added/removed/type_changed: one thing the rewrite
# did not store at all, named as such (one difference, not "every field changed").
MISSING_EVENT = "missing_event"              # the legacy published a CDC event for the write; the rewrite none
MISSING_ROW = "missing_row"                  # the legacy's row exists; the sister has none
MISSING_CACHE_ENTRY = "missing_cache_entry"  # the legacy's cache entry exists; the sister has none
MISSING_KINDS = (MISSING_EVENT, MISSING_ROW, MISSING_CACHE_ENTRY)
# A write the legacy refused changed a store on one side (`new` names the side: "rewrite" or
# "legacy"); the comparator's own differences follow it in the record.
UNEXPECTED_WRITE = "unexpected_write"

# `skipped` reasons the harness itself gives (the record's `reason`; counted by reason).
TOO_LARGE = "too_large"  # a body over the configured limit: never compared cut


@dataclass(frozen=True)
class ValidationPath:
    """`<endpoint>.<store>.<check>`: one of the 18 write-validation paths."""

    endpoint: str
    store: str
    check: str

    def __post_init__(self) -> None:
        if self.endpoint not in WRITE_ENDPOINTS or self.store not in STORES or self.check not in CHECKS:
            raise ValueError(
                f"not a validation path: {self.endpoint}.{self.store}.{self.check} "
                f"(expected <{'|'.join(WRITE_ENDPOINTS)}>.<{'|'.join(STORES)}>.<{'|'.join(CHECKS)}>)"
            )

    @property
    def name(self) -> str:
        return f"{self.endpoint}.{self.store}.{self.check}"

    @classmethod
    def parse(cls, name: str) -> "ValidationPath":
        parts = name.split(".")
        if len(parts) != 3:
            raise ValueError(f"not a validation path: {name!r} (expected <endpoint>.<store>.<check>)")
        return cls(*parts)

    def __str__(self) -> str:
        return self.name


ALL_WRITE_PATHS: tuple[ValidationPath, ...] = tuple(
    ValidationPath(e, s, c) for e in WRITE_ENDPOINTS for s in STORES for c in CHECKS
)


def write_response_path(endpoint: str) -> str:
    return f"{endpoint}.response"


def read_response_path(endpoint: str) -> str:
    return f"read.{endpoint}.response"


@dataclass(frozen=True)
class Observation:
    """What one side did: a value or an error (never both), and how long it took (Scientist-style)."""

    side: str  # "legacy" or "new"
    value: Any = None
    error: str | None = None  # "<ExceptionType>: message" when the side raised or timed out
    duration_s: float = 0.0

    @property
    def raised(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class Difference:
    """One differing field. `path` is a dotted/indexed field path like `data.children[0].data.score`."""

    path: str
    kind: str  # "changed", "added", "removed", "type_changed"
    legacy: Any = None
    new: Any = None
    ignored_by: str | None = None  # the rule (or learned-noise entry) that explains it, if any


class Timings(TypedDict, total=False):
    """What a verdict's comparison took: each side's answer time (`*_s` seconds, or `*_ms` from an
    import that recorded milliseconds), the comparison's own time, the SQL statements each side's
    request ran (the replay's SQL counts)."""

    legacy_s: float
    new_s: float
    legacy_ms: float
    new_ms: float
    compare_s: float
    legacy_sql: int
    new_sql: int


def side_seconds(t: Timings, side: Literal["legacy", "new"]) -> float | None:
    """One side's answer time in seconds, from whichever unit the record carries."""
    s, ms = (t.get("legacy_s"), t.get("legacy_ms")) if side == "legacy" else (t.get("new_s"), t.get("new_ms"))
    if s is not None:
        return float(s)
    return float(ms) / 1000.0 if ms is not None else None


def side_sql(t: Timings, side: Literal["legacy", "new"]) -> int | None:
    n = t.get("legacy_sql") if side == "legacy" else t.get("new_sql")
    return int(n) if n is not None else None


@dataclass(frozen=True)
class VerdictRecord:
    """The outcome of one comparison on one path. Bodies inside values are redacted by default."""

    path: str
    verdict: VerdictKind
    entity: str | None = None
    request_id: str | None = None
    legacy_value: Any = None
    new_value: Any = None
    differences: tuple[Difference, ...] = ()
    reason: str | None = None
    timings: Timings = field(default_factory=lambda: Timings())
    created_at: float = field(default_factory=time.time)
    # What else the verdict rests on, as plain data: e.g. a read recheck's legacy and rewrite
    # re-reads (`{"recheck": {...}}`), or that the sister copy was re-synchronised after it.
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = self.verdict.value
        out["differences"] = [asdict(d) for d in self.differences]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VerdictRecord":
        data = dict(data)
        data["verdict"] = VerdictKind(data["verdict"])
        data["differences"] = tuple(Difference(**d) for d in data.get("differences", ()))
        data["context"] = dict(data.get("context") or {})
        return cls(**data)
