"""Hundreds of concurrent votes and edits on the same comments, through the proxy at 100%:
zero mismatches on a correct rewrite; what cannot be compared is `raced`, and that share is small."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from diff_reports.types import VerdictKind
from tests.validation.stack import THREAD, running_stack

VOTERS = tuple(f"voter_{i:03d}" for i in range(120))


async def test_concurrent_votes_and_edits_never_mismatch(stores) -> None:
    rng = random.Random(5)
    async with running_stack(stores, accounts=("alice", *VOTERS)) as stack:
        comments = []
        for i in range(3):
            body = await stack.post("/api/comment", "alice", thing_id=THREAD, text=f"comment {i}")
            comments.append(body["json"]["data"]["things"][0]["data"]["name"])
        await stack.settle()
        stack.clock.now += 400  # edits now leave an edit mark

        requests = [("/api/vote", voter, {"id": rng.choice(comments), "dir": str(rng.choice((1, 1, -1)))})
                    for voter in VOTERS]
        requests += [("/api/vote", voter, {"id": rng.choice(comments), "dir": str(rng.choice((0, -1, 1)))})
                     for voter in rng.sample(VOTERS, 60)]  # changes of direction and un-votes
        requests += [("/api/editusertext", "alice", {"thing_id": c, "text": f"edit {n} of {c}"})
                     for n in range(10) for c in comments]
        rng.shuffle(requests)
        gate = asyncio.Semaphore(24)

        async def send(path: str, user: str, form: dict[str, str]) -> None:
            async with gate:
                await stack.post(path, user, retry_busy=5, **form)

        await asyncio.gather(*(send(*r) for r in requests))
        await stack.settle(timeout=120)

    store_records = [r for r in stack.sink.records if r.path.count(".") == 2]
    verdicts = Counter(r.verdict.value for r in store_records)
    mismatches = [(r.path, r.reason, [(d.path, d.legacy, d.new) for d in r.differences][:3])
                  for r in store_records if r.verdict is VerdictKind.MISMATCH]
    assert not mismatches, mismatches[:5]
    writes = len(requests) + 3
    responses = Counter((r.path, r.verdict.value, r.reason) for r in stack.sink.records if r.path.count(".") == 1)
    assert sum(verdicts.values()) == writes * 6, (verdicts, responses)  # every path of every write got a verdict
    raced_share = verdicts["raced"] / sum(verdicts.values())
    print(f"\n{len(requests)} concurrent writes: verdicts {dict(verdicts)}; raced share {raced_share:.1%}")
    assert verdicts["match"] > 0 and raced_share < 0.25, verdicts
