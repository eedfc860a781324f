"""Mismatch groups (Diffy-style) and their lifecycle. Pure: no I/O, stdlib only.

A group's fingerprint is the validation path, the verdict, and the sorted set of
(differing field path with array indices generalised to `[*]` and dynamic dict keys (ids,
fullnames) to `*`, kind of difference). Verdicts
without differences (shadow_error, unavailable, skipped...) group by their reason with digits
and hex ids generalised, so "timeout after 2.0s" on two requests lands in one group.

Lifecycle: `open` -> `accepted` (turned into an ignore rule) | `fixed` (at a new-service version)
-> `regressed` (seen again at or after the fixed version). Accepting or fixing again is allowed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from diff_reports.types import Difference, VerdictKind, VerdictRecord

OPEN, ACCEPTED, FIXED, REGRESSED = "open", "accepted", "fixed", "regressed"
STATUSES = (OPEN, ACCEPTED, FIXED, REGRESSED)
# Groups in these states still need a reviewer (JUnit fails a path that has one).
UNRESOLVED = (OPEN, REGRESSED)
# Verdicts whose groups need a reviewer; raced/unavailable/skipped/ignored groups are kept for
# reference (with examples) but are not problems with the rewrite.
REVIEW_VERDICTS = ("mismatch", "shadow_error")

_INDEX = re.compile(r"\[\d+\]")
_HEX_IDS = re.compile(r"\b(0x)?[0-9a-f]*\d[0-9a-f]*\b", re.IGNORECASE)
_DIGITS = re.compile(r"\d+(\.\d+)*")


# Dict keys that are data, not names: account and thing ids (`votes.4711`), fullnames
# (`tree.t1_2ab`, `applied.t3_x`), UUIDs and long hex ids. They fold to `*` like list indices
# fold to `[*]`, so one bug is one group across entities and voters (and `*` is also the glob an
# accepted group's ignore rule needs).
_DYNAMIC_KEY = re.compile(
    r"(?:(?<=^)|(?<=\.))"
    r"(?:\d+|t\d_[0-9a-z]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?=[0-9a-f]*\d)[0-9a-f]{12,})"
    r"(?=[.\[]|$)", re.IGNORECASE)
_QUOTED_DYNAMIC_KEY = re.compile(r'\["(?:\d+|t\d_[0-9a-z]+)"\]', re.IGNORECASE)


def generalise_path(path: str) -> str:
    """`data.children[3].data.score` -> `data.children[*].data.score`; `votes.4711.dir` ->
    `votes.*.dir`; `tree.t1_2ab` -> `tree.*`."""
    folded = _DYNAMIC_KEY.sub("*", _INDEX.sub("[*]", path))
    return _QUOTED_DYNAMIC_KEY.sub(lambda m: "*" if m.start() == 0 else ".*", folded)


def generalise_reason(reason: str | None) -> str:
    """Numbers and hex ids become `#`, whitespace collapses; capped at 200 characters."""
    if not reason:
        return ""
    return " ".join(_DIGITS.sub("#", _HEX_IDS.sub("#", reason)).split())[:200]


@dataclass(frozen=True)
class Signature:
    """What makes two records 'the same problem'."""

    path: str
    verdict: str
    fields: tuple[tuple[str, str], ...]  # sorted (generalised field path, difference kind)
    reason: str = ""

    @property
    def fingerprint(self) -> str:
        canon = json.dumps([self.path, self.verdict, self.fields, self.reason], separators=(",", ":"))
        return hashlib.sha1(canon.encode()).hexdigest()[:16]

    @property
    def title(self) -> str:
        if self.fields:
            shown = ", ".join(f"{kind} {field or '<root>'}" for field, kind in self.fields[:4])
            more = f" (+{len(self.fields) - 4} more)" if len(self.fields) > 4 else ""
            return f"{shown}{more}"
        return f"{self.verdict}: {self.reason}" if self.reason else self.verdict

    def field_paths(self) -> list[str]:
        return sorted({field for field, _ in self.fields})


def _relevant(differences: tuple[Difference, ...], verdict: VerdictKind) -> list[Difference]:
    # A mismatch is explained by its unexplained differences; an `ignored` verdict by all of them.
    if verdict is VerdictKind.IGNORED:
        return list(differences)
    unexplained = [d for d in differences if d.ignored_by is None]
    return unexplained or list(differences)


def signature(record: VerdictRecord) -> Signature | None:
    """The group a record belongs to; None for a match (matches are only counted)."""
    if record.verdict is VerdictKind.MATCH:
        return None
    fields = tuple(sorted({(generalise_path(d.path), d.kind) for d in _relevant(record.differences, record.verdict)}))
    reason = "" if fields else generalise_reason(record.reason)
    return Signature(record.path, record.verdict.value, fields, reason)


def endpoint_of(path: str) -> str:
    """`create.postgres.parity` -> `create`; `read.info.response` -> `read.info`."""
    parts = path.split(".")
    return ".".join(parts[:2]) if parts[0] == "read" else parts[0]


# ---- versions -------------------------------------------------------------------------------

_VERSION_PART = re.compile(r"\d+|[A-Za-z]+")


def version_key(version: str | None) -> str | None:
    """A text key whose ordering is version ordering: numbers compare numerically, so
    `1.10.0` > `1.9.2`; a pre-release tag sorts before the release (`2.0rc1` < `2.0`)."""
    if version is None or not version.strip():
        return None
    out = []
    for part in _VERSION_PART.findall(version.strip().lstrip("vV")):
        out.append(f"c{int(part):012d}" if part.isdigit() else f"a{part.lower():<12.12}")
    # 'a' (pre-release tag) < 'b' (end) < 'c' (a further number): 2.0rc1 < 2.0 < 2.0.1.
    # Compare these keys bytewise (COLLATE "C" in SQL).
    return ".".join(out + ["b"])


def seen_since(fixed_version: str | None, seen_version: str | None, fixed_at: float | None = None,
               seen_at: float | None = None) -> bool:
    """Does an occurrence count against a fix at `fixed_version`? Yes when it ran on that version
    or a later one; an occurrence without a version counts when it happened after the fix."""
    fixed_k, seen_k = version_key(fixed_version), version_key(seen_version)
    if fixed_k is not None and seen_k is not None:
        return seen_k >= fixed_k
    if fixed_at is not None and seen_at is not None:
        return seen_at > fixed_at
    return False


def status_after_occurrence(status: str, fixed_version: str | None, seen_version: str | None,
                            fixed_at: float | None = None, seen_at: float | None = None) -> str:
    """The status of a group after another occurrence: only a fixed group changes (to regressed)."""
    if status == FIXED and seen_since(fixed_version, seen_version, fixed_at, seen_at):
        return REGRESSED
    return status


# ---- accepted groups as ignore rules -----------------------------------------------------------

def rule_name_for(group_id: str, given: str | None = None) -> str:
    return given or f"accepted-{group_id}"


def accepted_rule(group: dict[str, Any]) -> dict[str, Any]:
    """An accepted group as an ignore rule dict for the comparator (diff_reports.rules.IgnoreRule
    mapping): `{"name", "paths", "applies_to", "reason"}`; `paths` are the group's field paths
    (indices as `[*]`), `applies_to` a one-element list holding the group's validation path."""
    return {
        "name": rule_name_for(group["id"], group.get("rule_name")),
        "paths": sorted({field for field, _kind in group.get("fields") or []}),
        "applies_to": [group["path"]],
        "reason": group.get("reason") or "",
    }
