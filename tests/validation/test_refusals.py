"""Writes the legacy refused are shadowed and judged, and repeats are judged like any write.

With the correct rewrite every refused write gets its response verdict and six store verdicts, all
`match` (both refused alike, neither side changed a store). With a planted bug that forgets one
refusal or counts one repeat (refusal_mutants.py), the write mismatches on its paths, each bug is
one group per path however often it is hit, and the next write to the same entity is judged
`match` again (its sister copy was re-synchronised from production).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pytest

from diff_reports.grouping import signature
from diff_reports.types import UNEXPECTED_WRITE, VerdictKind, VerdictRecord
from tests.contract.seed import R2_LINK, R2_NAMES, seed_store_set
from tests.validation.refusal_mutants import PLANTED, PlantedBug
from tests.support.verdicts import ttl_countdown_only
from tests.validation.stack import Stack, serving_stack

pytestmark = pytest.mark.timeout(180)


@dataclass(frozen=True)
class Sent:
    label: str
    request_id: str
    status: int


@dataclass
class Run:
    sent: list[Sent] = field(default_factory=list)

    def by_label(self, label: str) -> list[Sent]:
        return [s for s in self.sent if s.label == label]


async def _send(stack: Stack, run: Run, label: str, path: str, user: str | None, **form: str) -> Sent:
    rid = f"{label}:{len(run.sent)}"
    headers = {"X-Request-Id": rid, **({"X-Auth-User": user} if user is not None else {})}  # None: no header
    async with stack.session.post(stack.url + path, data=form, headers=headers) as resp:
        await resp.read()
        stack.sent += 1
    sent = Sent(label, rid, resp.status)
    run.sent.append(sent)
    await stack.settle()
    stack.clock.now += 2
    return sent


async def refusals_and_repeats(stack: Stack) -> Run:
    """Every refusal kind twice (two entities where the kind allows), each followed by a write the
    legacy accepts on the same entity where one exists; then each repeat twice."""
    n = R2_NAMES
    run = Run()
    edit, vote, create = "/api/editusertext", "/api/vote", "/api/comment"
    for target, author in ((n["P"], "alice"), (n["Q"], "bob")):
        await _send(stack, run, "refusal.edit.not_author", edit, "dave", thing_id=target, text="not mine")
        await _send(stack, run, "follow", edit, author, thing_id=target, text=f"the author's own edit of {target}")
    for target in (n["DEL_PARENT"], n["DEL_LEAF"]):
        await _send(stack, run, "refusal.edit.deleted", edit, "carol", thing_id=target, text="edit of a deleted one")
        await _send(stack, run, "refusal.vote.deleted", vote, "bob", id=target, dir="1")
    for _ in range(2):
        await _send(stack, run, "refusal.create.reply_to_deleted", create, "bob", thing_id=n["DEL_PARENT"],
                    text="a reply to a deleted comment")
    # no auth header, an empty one, a name no account has: one error code, three ways to forget it
    for label, user, follower in (("refusal.missing_auth", None, "carol"), ("refusal.empty_auth", "", "dave"),
                                  ("refusal.unknown_user", "mallory", "bob")):
        for target in (n["C6"], n["C7"]):
            await _send(stack, run, label, vote, user, id=target, dir="1")
            await _send(stack, run, label, edit, user, thing_id=target, text="who am I")
            await _send(stack, run, "follow", vote, follower, id=target, dir="-1")
        for _ in range(2):
            await _send(stack, run, label, create, user, thing_id=R2_LINK, text="anonymous")
    for target in (n["Z5"], n["Z9"]):
        await _send(stack, run, "refusal.malformed_id", vote, "dave", id=target.upper(), dir="1")
        await _send(stack, run, "refusal.malformed_id", edit, "bob", thing_id=target.upper(), text="upper case")
        await _send(stack, run, "follow", vote, "carol", id=target, dir="1")
    for target in ("t1_zzzzzzz", "t1_zzzzzzy"):
        await _send(stack, run, "refusal.vote.unknown_id", vote, "bob", id=target, dir="1")
    for target in (n["M1"], n["M2"]):
        await _send(stack, run, "repeat.vote_twice", vote, "dave", id=target, dir="1")
        await _send(stack, run, "repeat.vote_twice", vote, "dave", id=target, dir="1")
        await _send(stack, run, "follow", vote, "alice", id=target, dir="-1")
    for target, author in ((n["M4"], "alice"), (n["M5"], "bob")):
        await _send(stack, run, "repeat.edit_twice", edit, author, thing_id=target, text="said twice")
        await _send(stack, run, "repeat.edit_twice", edit, author, thing_id=target, text="said twice")
        await _send(stack, run, "follow", vote, "carol", id=target, dir="1")
    for parent in (n["M6"], n["M8"]):
        await _send(stack, run, "repeat.create_twice", create, "carol", thing_id=parent, text="double click")
        await _send(stack, run, "repeat.create_twice", create, "carol", thing_id=parent, text="double click")
    return run


def _by_request(stack: Stack) -> dict[str, list[VerdictRecord]]:
    out: dict[str, list[VerdictRecord]] = defaultdict(list)
    for record in stack.sink.records:
        out[record.request_id or ""].append(record)
    return out


async def test_refused_writes_are_judged_on_all_seven_paths_and_match(stores) -> None:
    async with serving_stack(stores, seed_store_set) as stack:
        run = await refusals_and_repeats(stack)
    by_rid = _by_request(stack)
    refused = [s for s in run.sent if s.label.startswith("refusal.")]
    assert refused and all(400 <= s.status < 500 for s in refused), [(s.label, s.status) for s in refused]
    assert all(s.status == 200 for s in run.sent if not s.label.startswith("refusal.")), run.sent
    for sent in run.sent:
        records = by_rid[sent.request_id]
        verdicts = {r.path: (r.verdict.value, r.reason) for r in records}
        assert len(records) == 7, (sent, verdicts)  # the response and the endpoint's six store paths
        assert all(r.verdict is VerdictKind.MATCH or ttl_countdown_only(r) for r in records), (sent, verdicts)


@pytest.mark.parametrize("bug", PLANTED.values(), ids=list(PLANTED))
async def test_a_planted_refusal_or_repeat_bug_is_caught_once_per_path(stores, monkeypatch: pytest.MonkeyPatch,
                                                                        bug: PlantedBug) -> None:
    bug.apply(monkeypatch)
    async with serving_stack(stores, seed_store_set) as stack:
        run = await refusals_and_repeats(stack)
    by_rid = _by_request(stack)
    hit = run.by_label(bug.name)
    flagged = [r for s in hit for r in by_rid[s.request_id] if r.verdict is VerdictKind.MISMATCH]
    assert flagged, (bug.what, {s.request_id: [(r.path, r.verdict.value) for r in by_rid[s.request_id]] for s in hit})
    groups: dict[str, set[str]] = defaultdict(set)
    for record in flagged:
        sig = signature(record)
        assert sig is not None
        groups[record.path].add(sig.fingerprint)
    assert all(len(g) == 1 for g in groups.values()), {p: len(g) for p, g in groups.items()}
    if bug.name.startswith("refusal."):
        store_hits = [r for r in flagged if not r.path.endswith(".response")]
        assert all(r.differences[0].kind == UNEXPECTED_WRITE for r in store_hits), store_hits
        # An event the refused write published is flagged on both CDC paths, even where the legacy
        # consumer's projection of it changes nothing (an edit moves no score).
        cdc = {(r.request_id, r.path.rsplit(".", 1)[-1]) for r in store_hits if ".redis_cdc." in r.path}
        assert {rid for rid, check in cdc if check == "parity"} == {rid for rid, check in cdc if check == "legacy_read"}, cdc
    # Nothing else mismatches: not the other kinds, and not the write after the bug on the same
    # entity (re-synchronised) -- that one is judged `match` on every path.
    others = [(s.label, r.path, r.reason) for s in run.sent if s.label != bug.name
              for r in by_rid[s.request_id] if r.verdict is not VerdictKind.MATCH and not ttl_countdown_only(r)]
    differences = [(r.path, r.differences) for s in run.sent if s.label != bug.name for r in by_rid[s.request_id]
                   if r.verdict is VerdictKind.MISMATCH]
    assert others == [], (bug.what, others, differences)
