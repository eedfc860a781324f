"""Tri-compare rechecks of a read mismatch (Diffy's primary/secondary idea, applied per field).

A read mismatch between the legacy's primary answer L1 and the rewrite's answer N1 may be a
write landing in between, or a bug. The runner reads both sides again, the rewrite first (N2),
then the legacy (L2), for up to `rounds` rounds. The verdict is `raced` only when

- every field where N1 differed from L1 is one the legacy itself changed between its answers (a
  list whose members the legacy changed, a comment added or re-sorted, counts as changed as a
  whole: positions shift, and the rewrite may have answered from a state in between that the
  legacy never showed, say after a create and before its votes), and
- in some round the rewrite's re-read agrees with the legacy's re-read (the rewrite converged on
  the legacy's newer state).

It is `mismatch` when a differing field is one the legacy never changed (judged once the legacy
stops moving: a legacy projection catching up may explain it in a later answer), when both sides
answer the same again (for at least `settle_s`) while they still disagree, or when no round
converges (a bug in the very field a write changed keeps disagreeing). A rewrite whose answers
still move is catching up with writes queued on its side: it is read again. Without a rewrite
re-read, N1 must hold L2's value in every differing field. All reads are kept in the record's
context. A legacy re-read that fails (a timeout under load) is no evidence either way: the next
round reads again, up to `FAILED_REREADS_ALLOWED` failures; past that the mismatch stands.

Learned noise: a field that changed between every pair of legacy answers and on which the rewrite
never agreed is non-deterministic (a per-request token), not a write: it is taught to the learned
noise, which trusts it only after its own thresholds. A write makes the legacy settle, so it
teaches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from diff_reports.comparator import related_paths
from diff_reports.types import Observation, VerdictKind, VerdictRecord
from traffic.shadowed import RecheckReads

CompareFn = Callable[[str, Observation, Observation], VerdictRecord]
LearnFn = Callable[[str, Observation, Observation, set[str]], Any]

RACED_READ = ("raced: every differing field is one the legacy itself changed between its answers (a write "
              "landed in between), and the rewrite's re-read agreed with the legacy's")
UNEXPLAINED = "not explained by the legacy's own change between its answers: "
FAILED_REREADS_ALLOWED = 2  # legacy re-reads that may fail (a timeout under load) before the mismatch stands
DEFAULT_ROUNDS = 8  # with the runner's doubling backoff, up to about 2 s for a busy thread's writes to land
# `...children[3]` added or removed, or `...children[3].data.name` replaced: the list (group 1) changed members
_LIST_MEMBER = re.compile(r"^(.*)\[\d+\](?:(?:\.data)?\.(?:id|name))?$")
# `...children[8].data.children[1]` or `...children[8].data.count`: a `more` stub (the only thing whose
# data holds `children` in a list of things) gained or lost ids, so the list it stands in (group 1) changed
# members: the comment it now hides may have been shown, ranked anywhere, in a state between two answers
_STUB_MEMBERS = re.compile(r"^(.*\.children)\[\d+\]\.data\.(?:children(?:\[\d+\])?|count)$")


def standing_paths(record: VerdictRecord) -> list[str]:
    """Field paths of the differences no rule or learned noise explains."""
    if record.verdict in (VerdictKind.MATCH, VerdictKind.IGNORED):
        return []
    # a comparator that reports no field paths: the whole value differs
    return sorted({d.path for d in record.differences if d.ignored_by is None}) or ["$"]


def with_reshuffled_lists(paths: set[str]) -> set[str]:
    """`paths` plus every list whose members changed: when a thing is added, removed or re-sorted,
    positions shift, so each field at any position of that list is the legacy's own change (so is
    a `more` stub's list of hidden ids: those are members of the list the stub sits in). Only
    convergence (the rewrite agreeing with a later legacy answer) then makes it a race: a wrong
    order or value that persists never converges."""
    lists = {m.group(1) for m in map(_LIST_MEMBER.match, paths) if m is not None}
    stubbed = {m.group(1) for m in map(_STUB_MEMBERS.match, paths) if m is not None}
    return paths | lists | stubbed


def covered(path: str, paths: Iterable[str]) -> bool:
    return any(related_paths(path, p) for p in paths)


def _brief(record: VerdictRecord) -> dict[str, Any]:
    """A comparison as the context keeps it: verdict, differing paths and the (redacted) values."""
    return {"verdict": record.verdict.value, "reason": record.reason,
            "differences": [[d.path, d.kind] for d in record.differences][:50],
            "legacy_value": record.legacy_value, "new_value": record.new_value}


def _obs(o: Observation | None) -> dict[str, Any] | None:
    if o is None:
        return None
    return {"error": o.error, "duration_s": o.duration_s} if o.raised else {"duration_s": o.duration_s}


@dataclass
class Recheck:
    """One read mismatch being rechecked: feed it each round's reads with `step`."""

    compare: CompareFn
    path: str
    record: VerdictRecord
    l1: Observation
    n1: Observation
    learn: LearnFn | None = None
    changed: set[str] = field(default_factory=set)            # fields the legacy changed across its answers
    noisy: set[str] | None = None                              # changed every round, never agreed on
    rounds: list[dict[str, Any]] = field(default_factory=list)
    settle_s: float = 0.0  # how long both sides must answer the same before a disagreement stands

    def __post_init__(self) -> None:
        self.d1 = standing_paths(self.record)
        self.legacy_last = self.l1
        self.new_last = self.n1
        self.quiet_since: float | None = None  # neither side has moved since then
        self.last_at: float | None = None
        self.unexplained: list[str] = []  # differing fields no legacy change has explained yet
        self.failed: list[str] = []       # errors of the legacy re-reads that did not answer

    def step(self, reads: RecheckReads) -> VerdictRecord | None:
        """The verdict after this round, or None: read again (the legacy is still moving)."""
        l2, n2 = reads.legacy, reads.new
        ctx: dict[str, Any] = {"legacy_read_again": _obs(l2), "rewrite_read_again": _obs(n2)}
        self.rounds.append(ctx)
        if l2.raised:
            # a slow or failed re-read says nothing about the rewrite: read again, a bounded number of times
            self.failed.append(l2.error or "failed")
            if len(self.failed) > FAILED_REREADS_ALLOWED:
                return self._keep(f"the legacy recheck failed {len(self.failed)} times (last: {l2.error}): "
                                  "kept as a mismatch")
            return None
        moved = self.compare(self.path, self.legacy_last, l2)
        ctx["legacy_vs_its_previous_answer"] = _brief(moved)
        moved_fields = set(standing_paths(moved))
        moved_paths = with_reshuffled_lists(moved_fields)
        self.changed |= moved_paths
        self.legacy_last = l2
        again = None
        new_moved = False
        if n2 is not None and not n2.raised:  # compared first, so the record holds every read
            again = self.compare(self.path, l2, n2)
            ctx["rewrite_again_vs_legacy_again"] = _brief(again)
            new_moved = bool(standing_paths(self.compare(self.path, self.new_last, n2)))
            self.new_last = n2
        previous_at, self.last_at = self.last_at, reads.at
        if moved_paths or new_moved:
            self.quiet_since = None
        elif self.quiet_since is None:
            self.quiet_since = previous_at if previous_at is not None else reads.at
        if not self.changed:
            return self._keep("the legacy answered the same when read again: not a race")
        unchanged = [p for p in self.d1 if not covered(p, self.changed)]
        self.unexplained = unchanged
        if unchanged:
            if moved_paths:
                return None  # the legacy still moves (a projection catching up): a later answer may explain
            return self._keep(UNEXPLAINED + ", ".join(unchanged[:5]))
        if again is None:
            if n2 is not None:
                ctx["rewrite_recheck_error"] = n2.error
            # the legacy alone: the first answer must hold the legacy's newer value in every differing field
            n1_vs_l2 = self.compare(self.path, l2, self.n1)
            ctx["first_rewrite_vs_legacy_again"] = _brief(n1_vs_l2)
            off = [p for p in self.d1 if covered(p, standing_paths(n1_vs_l2))]
            if off:
                return self._keep("the rewrite's answer is neither of the legacy's in " + ", ".join(off[:5]))
            return self._raced()
        d2 = standing_paths(again)
        if not d2:
            return self._raced()
        # noise is learned from fields that changed themselves, never from a whole reshuffled list
        round_noise = {p for p in d2 if covered(p, moved_fields)}
        self.noisy = round_noise if self.noisy is None else {p for p in self.noisy if covered(p, round_noise)}
        if self.quiet_since is not None and reads.at - self.quiet_since >= self.settle_s:
            return self._keep("both sides answered the same again and still disagree: " + ", ".join(d2[:5]))
        return None  # a side is still moving (or not yet quiet for long enough): read again

    def give_up(self) -> VerdictRecord:
        """No round converged: the rewrite never agreed with the legacy while it kept changing."""
        if self.learn is not None and self.noisy:
            self.learn(self.path, self.l1, self.legacy_last, set(self.noisy))
        why = f"the rewrite never agreed with the legacy in {len(self.rounds)} re-reads"
        if self.failed:
            why += f" ({len(self.failed)} of them failed at the legacy, last: {self.failed[-1]})"
        if self.unexplained:
            why += "; " + UNEXPLAINED + ", ".join(self.unexplained[:5])
        return self._keep(why)

    def _context(self) -> dict[str, Any]:
        return {**self.record.context, "recheck": {"rounds": self.rounds, "legacy_changed": sorted(self.changed)[:50]}}

    def _raced(self) -> VerdictRecord:
        return replace(self.record, verdict=VerdictKind.RACED, reason=RACED_READ, context=self._context())

    def _keep(self, why: str) -> VerdictRecord:
        reason = f"{self.record.reason}; recheck: {why}" if self.record.reason else f"recheck: {why}"
        return replace(self.record, reason=reason[:1000], context=self._context())


def judge_recheck(compare: CompareFn, path: str, record: VerdictRecord, l1: Observation, n1: Observation,
                  reads: RecheckReads | Iterable[RecheckReads], *, learn: LearnFn | None = None,
                  settle_s: float = 0.0) -> VerdictRecord:
    """The verdict for a read `record` (a mismatch of L1 vs N1) given the rounds of re-reads."""
    check = Recheck(compare, path, record, l1, n1, learn, settle_s=settle_s)
    for one in ([reads] if isinstance(reads, RecheckReads) else reads):
        verdict = check.step(one)
        if verdict is not None:
            return verdict
    return check.give_up()
