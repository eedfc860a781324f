"""For each r2 behaviour of issue 15, one planted rewrite bug (mutants_r2.py): the harness flags it
on the path it belongs to, and nothing its divergence does not touch. The correct rewrite runs the
same scenario with nothing flagged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from diff_reports.types import VerdictKind
from tests.contract.seed import R2_LINK, R2_NAMES, T0, seed_store_set
from tests.support.stores import StoreSets
from tests.validation.mutants_r2 import MUTANTS, Mutant
from tests.validation.stack import Stack, serving_stack

SECRET = "r2-mutants-tap-secret"
LINK36 = R2_LINK[3:]


@asynccontextmanager
async def r2_stack(stores: StoreSets) -> AsyncIterator[Stack]:
    """Legacy + rewrite (tap mode, on the legacy's clock: score hiding depends on the read time) +
    proxy at 100% with the 18-path validator, over the contract seed (real threads + the r2 thread)."""
    async with serving_stack(stores, seed_store_set, secret=SECRET, start=T0, rewrite_on_clock=True,
                             keep=100_000) as stack:
        yield stack


async def _get(stack: Stack, path: str, **query: str) -> None:
    async with stack.session.get(stack.url + path, params=query) as resp:
        stack.sent += 1
        assert resp.status == 200, (path, query, await resp.text())
    await stack.settle()


async def scenario(stack: Stack) -> None:
    """Reads that show behaviours 1-7 and 9 on the r2 thread, then a create, a vote (10's cache
    write), an anonymous read in the score window (11) and a same-text edit (8), each settled."""
    thread = f"/comments/{LINK36}"
    await _get(stack, thread, sort="top", limit="2")
    await _get(stack, thread + "/", sort="old", limit="500")
    await _get(stack, thread, sort="confidence", depth="1", limit="500")
    await _get(stack, "/api/morechildren", link_id=R2_LINK, children=",".join(R2_NAMES[f"M{i}"][3:] for i in range(25)),
               sort="top")
    await _get(stack, thread, sort="best")
    await _get(stack, "/api/info", id=R2_LINK)
    created = await stack.post("/api/comment", "alice", thing_id=R2_LINK, text="in the window <b>")
    name = created["json"]["data"]["things"][0]["data"]["name"]
    await stack.settle()
    stack.clock.now += 5
    await stack.post("/api/vote", "bob", id=name, dir="1")
    await stack.settle()
    stack.clock.now += 30
    await _get(stack, "/api/info", id=name)  # score 2, shown as 1 inside the window
    await stack.post("/api/editusertext", "alice", thing_id=name, text="in the window <b>")  # 2 votes: no-op
    await stack.settle()


def test_one_mutant_per_behaviour() -> None:
    assert sorted(m.behaviour for m in MUTANTS) == list(range(1, 12))


async def test_correct_rewrite_flags_nothing(stores) -> None:
    async with r2_stack(stores) as stack:
        await scenario(stack)
    records = stack.sink.records
    assert not stack.flagged(), [(r.path, r.reason) for r in records if r.verdict is VerdictKind.MISMATCH]
    paths = {r.path for r in records}
    assert {"read.comments.response", "read.morechildren.response", "read.info.response"} <= paths
    assert {"create.response", "update.response", "increment.response"} <= paths


@pytest.mark.parametrize("mutant", MUTANTS, ids=[f"{m.behaviour}-{m.path}" for m in MUTANTS])
async def test_mutant_is_flagged_on_its_path(stores, monkeypatch: pytest.MonkeyPatch, mutant: Mutant) -> None:
    mutant.apply(monkeypatch)
    async with r2_stack(stores) as stack:
        await scenario(stack)
    flagged = stack.flagged()
    details = {r.path: (r.reason, [(d.path, d.kind) for d in r.differences][:4]) for r in stack.sink.records
               if r.verdict is VerdictKind.MISMATCH}
    assert mutant.path in flagged, (mutant.what, details)
    assert flagged <= mutant.touched, (mutant.what, flagged - mutant.touched, details)
