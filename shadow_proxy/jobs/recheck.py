"""Tri-compare rechecks of a read mismatch (Diffy's primary/secondary idea, applied per field).

A read mismatch between the legacy's primary answer L1 and the rewrite's answer N1 may be a
write landing in between, or a bug. The runner reads both sides again, the rewrite first (N2),
then the legacy (L2), so in time L1 < N1 < N2 < L2. The verdict is `raced` only when every
differing field is exactly explained by what changed between the legacy's two answers:

- every field where N1 differs from L1 holds L2's value in N1 (the rewrite saw the newer state);
- every field where N2 differs from L2 changed between L1 and L2, and holds L1's value in N2.

Anything else stays a `mismatch`: a field the legacy never changed, or a value neither legacy
answer had (a bug coinciding with a write). All reads are kept in the record's context. Fields
where all of L1, L2 and N1 differ from one another are taught to the learned noise as
non-deterministic candidates (a race leaves the rewrite on one of the legacy's values).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from diff_reports.comparator import related_paths
from diff_reports.types import Observation, VerdictKind, VerdictRecord

CompareFn = Callable[[str, Observation, Observation], VerdictRecord]

RACED_READ = ("raced: every differing field is what changed between the legacy's primary answer and its "
              "re-read (a write landed in between), and the rewrite's answers hold the legacy's values")


@dataclass(frozen=True)
class RecheckReads:
    legacy: Observation                 # L2: the legacy read again, after the rewrite's re-read
    new: Observation | None = None      # N2: the rewrite read again (None: not configured)


def standing_paths(record: VerdictRecord) -> list[str]:
    """Field paths of the differences no rule or learned noise explains."""
    if record.verdict in (VerdictKind.MATCH, VerdictKind.IGNORED):
        return []
    # a comparator that reports no field paths: the whole value differs
    return sorted({d.path for d in record.differences if d.ignored_by is None}) or ["$"]


def covered(path: str, paths: Iterable[str]) -> bool:
    return any(related_paths(path, p) for p in paths)


def _differs_somewhere(record: VerdictRecord) -> bool:
    return record.verdict not in (VerdictKind.MATCH, VerdictKind.IGNORED)


def _brief(record: VerdictRecord) -> dict[str, Any]:
    """A comparison as the context keeps it: verdict, differing paths and the (redacted) values."""
    return {"verdict": record.verdict.value, "reason": record.reason,
            "differences": [[d.path, d.kind] for d in record.differences][:50],
            "legacy_value": record.legacy_value, "new_value": record.new_value}


def judge_recheck(compare: CompareFn, path: str, record: VerdictRecord, l1: Observation, n1: Observation,
                  reads: RecheckReads, *, learn: Callable[[str, Observation, Observation, set[str]], Any] | None = None
                  ) -> VerdictRecord:
    """The verdict for a read `record` (a mismatch of L1 vs N1) given the re-reads."""
    l2, n2 = reads.legacy, reads.new
    context: dict[str, Any] = {"recheck": {"legacy_read_again": _obs(l2), "rewrite_read_again": _obs(n2)}}
    if l2.raised:
        return _keep(record, context, f"the legacy recheck failed ({l2.error}): kept as a mismatch")
    d1 = standing_paths(record)
    moved = compare(path, l1, l2)
    context["recheck"]["legacy_vs_legacy"] = _brief(moved)
    changed = ([d.path for d in moved.differences] or ["$"]) if _differs_somewhere(moved) else []
    if not changed:
        return _keep(record, context, "the legacy answered the same when read again: not a race")
    n1_vs_l2 = compare(path, l2, n1)
    context["recheck"]["first_rewrite_vs_legacy_again"] = _brief(n1_vs_l2)
    off = set(standing_paths(n1_vs_l2))
    unexplained = [p for p in d1 if covered(p, off) or not covered(p, changed)]
    if learn is not None:
        d1_all = [d.path for d in record.differences] or ["$"]
        noisy = {p for p in changed if covered(p, d1_all) and covered(p, off)}
        if noisy:
            learn(path, l1, l2, noisy)
    if n2 is not None and not n2.raised:
        again = compare(path, l2, n2)
        context["recheck"]["rewrite_again_vs_legacy_again"] = _brief(again)
        d2 = standing_paths(again)
        if d2:
            back = compare(path, l1, n2)
            behind = set(standing_paths(back))
            unexplained += [p for p in d2 if covered(p, behind) or not covered(p, changed)]
    elif n2 is not None:
        context["recheck"]["rewrite_recheck_error"] = n2.error
    if unexplained:
        shown = ", ".join(sorted(set(unexplained))[:5])
        return _keep(record, context, f"not explained by the legacy's own change between its two answers: {shown}")
    return replace(record, verdict=VerdictKind.RACED, reason=RACED_READ, context={**record.context, **context})


def _obs(o: Observation | None) -> dict[str, Any] | None:
    if o is None:
        return None
    return {"error": o.error, "duration_s": o.duration_s} if o.raised else {"duration_s": o.duration_s}


def _keep(record: VerdictRecord, context: dict[str, Any], why: str) -> VerdictRecord:
    reason = f"{record.reason}; recheck: {why}" if record.reason else f"recheck: {why}"
    return replace(record, reason=reason[:1000], context={**record.context, **context})
