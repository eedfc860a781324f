"""Each bug counts once: after a write mismatches, the entity's sister copy is re-synchronised from
production, so a planted bug on N writes gives exactly N mismatches on its paths (one group per
path), and the correct writes around them match. A missing CDC event is `missing_event`."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from diff_reports.grouping import signature
from diff_reports.types import MISSING_EVENT, VerdictKind
from new_comments_service import cdc, queries, writes
from tests.validation.stack import THREAD, running_stack

VOTERS = tuple(f"voter_{i:02d}" for i in range(10))


def _switch_forgets_the_old_vote(mp: pytest.MonkeyPatch) -> None:
    """The planted bug: switching an upvote to a downvote applies the downvote without undoing the upvote."""
    original = queries.apply_votes

    async def apply_votes(tx, comment_id, ups_delta, downs_delta):
        if ups_delta < 0 and downs_delta > 0:  # a switch from up to down: one undo, one apply
            ups_delta = 0
        return await original(tx, comment_id, ups_delta, downs_delta)
    mp.setattr(queries, "apply_votes", apply_votes)


async def _create(stack, n: int) -> list[str]:
    out = []
    for i in range(n):
        body = await stack.post("/api/comment", "alice", thing_id=THREAD, text=f"comment {i} \u200b\U0001F600")
        out.append(body["json"]["data"]["things"][0]["data"]["name"])
        await stack.settle()
    return out


async def _vote(stack, voter: str, fullname: str, direction: int) -> str:
    before = len(stack.sink.records)
    await stack.post("/api/vote", voter, id=fullname, dir=str(direction))
    await stack.settle()
    [rid] = {r.request_id for r in list(stack.sink.records)[before:] if r.path.startswith("increment.")}
    return rid


async def test_a_planted_vote_bug_on_n_writes_gives_n_mismatches_and_one_group_per_path(
        stores, monkeypatch: pytest.MonkeyPatch) -> None:
    _switch_forgets_the_old_vote(monkeypatch)
    async with running_stack(stores, accounts=("alice", *VOTERS)) as stack:
        comments = await _create(stack, len(VOTERS))
        bad: set[str] = set()
        for i, voter in enumerate(VOTERS):
            target = comments[i]
            await _vote(stack, voter, target, 1)                 # correct: a first vote
            bad.add(await _vote(stack, voter, target, -1))       # the bug: a switch from up to down
            if i % 3 == 0:
                await _vote(stack, voter, target, 1)             # correct: a switch back up
            if i % 4 == 0:
                await _vote(stack, voter, target, 0)             # correct: an un-vote
            await _vote(stack, VOTERS[(i + 1) % len(VOTERS)], target, 1)  # correct: another voter after the bug
            async with stack.session.get(f"{stack.url}/comments/{THREAD[3:]}?sort=top&limit=50") as resp:
                assert resp.status == 200
            stack.sent += 1
            await stack.settle()
    records = stack.sink.records
    mismatches = [r for r in records if r.verdict is VerdictKind.MISMATCH]
    by_path: dict[str, list] = defaultdict(list)
    for r in mismatches:
        by_path[r.path].append(r)
    n = len(bad)
    assert n == len(VOTERS)
    detail = {p: Counter((d.path, d.kind) for r in rs for d in r.differences).most_common(4) for p, rs in by_path.items()}
    # the bug shows on the vote paths, and nowhere else (no spill into reads, creates or responses)
    assert set(by_path) <= {f"increment.{s}.{c}" for s in ("postgres", "memcached", "redis_cdc")
                            for c in ("parity", "legacy_read")}, detail
    assert {"increment.postgres.parity", "increment.postgres.legacy_read"} <= set(by_path), detail
    for path, rs in by_path.items():
        assert len(rs) == n, (path, len(rs), n, detail[path])
        assert {r.request_id for r in rs} == bad, path
        assert len({signature(r).fingerprint for r in rs}) == 1, (path, {signature(r).title for r in rs})
        assert all(r.context.get("first_diverging_write") == r.request_id for r in rs)
    # every correct write was judged from a correct start: it matches (or is ignored by a declared rule)
    correct = [r for r in records if r.path.startswith("increment.") and r.path.count(".") == 2
               and r.request_id not in bad]
    assert correct and all(r.verdict in (VerdictKind.MATCH, VerdictKind.IGNORED) for r in correct), \
        Counter((r.path, r.verdict.value, r.reason) for r in correct if r.verdict not in
                (VerdictKind.MATCH, VerdictKind.IGNORED)).most_common(5)


async def test_a_planted_missing_event_is_missing_event(stores, monkeypatch: pytest.MonkeyPatch) -> None:
    skipped: list[str] = []
    original = cdc.publish

    async def publish(redis, stream, fields):
        if fields.get("type") == cdc.VOTED and fields.get("fullname") and len(skipped) < 1:
            skipped.append(fields.get("request_id", ""))
            return "0-0"  # the planted bug: the first vote's event is never published
        return await original(redis, stream, fields)
    monkeypatch.setattr(cdc, "publish", publish)
    async with running_stack(stores, accounts=("alice", "bob", "carol")) as stack:
        [fullname] = await _create(stack, 1)
        await _vote(stack, "bob", fullname, 1)
        await _vote(stack, "carol", fullname, -1)   # correct: judged from a re-synchronised copy
    assert len(skipped) == 1
    records = [r for r in stack.sink.records if r.path.startswith("increment.")]
    flagged = {r.path: r for r in records if r.verdict is VerdictKind.MISMATCH}
    assert set(flagged) == {"increment.redis_cdc.parity", "increment.redis_cdc.legacy_read"}, \
        {p: (r.reason, r.differences) for p, r in flagged.items()}
    for r in flagged.values():
        assert [(d.path, d.kind) for d in r.differences] == [("$", MISSING_EVENT)], r.differences
        assert r.request_id == skipped[0]
    assert writes is not None
