"""A write judged after more later CDC events than validation reads (`proxy.cdc_scan_events`) is
`unavailable` with that reason on its store paths, never a mismatch or a race, and its entity is
re-synchronised: the next write to it is judged `match` again.

The judge is made to lag for one write: just before that write is validated, more events than the
window holds are published on production's stream by real writes straight to the legacy (past the
proxy, so nothing else is judged), at a later legacy time.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from diff_reports.types import VerdictKind, VerdictRecord
from tests.contract.seed import R2_NAMES, seed_store_set
from tests.support.verdicts import ttl_countdown_only
from tests.validation.stack import Stack, serving_stack
from traffic.shadowed import ComparisonJob
from write_validation.store_validator import StoreValidator

pytestmark = pytest.mark.timeout(180)
SCAN = 10  # the window under test; the default is 2,000


async def _vote(stack: Stack, base: str, rid: str, user: str, thing: str, direction: str) -> None:
    headers = {"X-Request-Id": rid, "X-Auth-User": user}
    async with stack.session.post(base + "/api/vote", data={"id": thing, "dir": direction}, headers=headers) as resp:
        assert resp.status == 200, await resp.text()


async def test_a_write_judged_past_the_cdc_window_is_unavailable_and_the_next_matches(
        stores, monkeypatch: pytest.MonkeyPatch) -> None:
    original = StoreValidator.validate
    holder: dict[str, Stack] = {}

    async def lagging(self: StoreValidator, write: ComparisonJob) -> list[VerdictRecord]:
        if write.request_id == "aged":
            stack = holder["stack"]
            stack.clock.now += 5  # the later traffic begins after the write
            for i in range(SCAN + 2):  # each flips dave's vote, so each publishes one event
                await _vote(stack, stack.legacy_url, f"direct-{i}", "dave", R2_NAMES["P"], "1" if i % 2 == 0 else "-1")
        return await original(self, write)

    monkeypatch.setattr(StoreValidator, "validate", lagging)
    async with serving_stack(stores, seed_store_set, proxy_overrides={"cdc_scan_events": SCAN}) as stack:
        holder["stack"] = stack
        target = R2_NAMES["Q"]  # the names exist once the seed ran
        await _vote(stack, stack.url, "aged", "bob", target, "1")
        stack.sent += 1
        await stack.settle()
        stack.clock.now += 5
        await _vote(stack, stack.url, "next", "carol", target, "1")
        stack.sent += 1
        await stack.settle()
    by_rid: dict[str, list[VerdictRecord]] = defaultdict(list)
    for record in stack.sink.records:
        by_rid[record.request_id or ""].append(record)
    aged = {r.path: r for r in by_rid["aged"]}
    assert len(aged) == 7, sorted(aged)
    assert aged["increment.response"].verdict is VerdictKind.MATCH
    stores_judged = [r for p, r in aged.items() if p != "increment.response"]
    assert all(r.verdict is VerdictKind.UNAVAILABLE for r in stores_judged), \
        [(r.path, r.verdict.value, r.reason) for r in stores_judged]
    assert all(f"older than the newest {SCAN} events" in (r.reason or "") for r in stores_judged), \
        {r.reason for r in stores_judged}
    following = by_rid["next"]
    assert len(following) == 7
    assert all(r.verdict is VerdictKind.MATCH or ttl_countdown_only(r) for r in following), \
        [(r.path, r.verdict.value, r.reason) for r in following]
    assert not by_rid.keys() - {"aged", "next"}  # the direct writes were never shadowed
