"""A lost legacy write, reproduced on purpose: today's behaviour asserted (the known findings of
tests/faults/campaign.py), on a stack of its own so that no earlier test's lost writes change it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from diff_reports.types import VerdictKind
from tests.contract.seed import CONTRACT_THREADS
from tests.faults.campaign import Driver, FaultStack, _caught_up, driver, settle, stack  # noqa: F401
from tests.faults.driver import WRITES

pytestmark = pytest.mark.timeout(240)


async def test_lost_legacy_create_today(stack: FaultStack, driver: Driver) -> None:
    """legacy_partial_write, reproduced on purpose: a legacy create that commits to PostgreSQL and
    then fails on its CDC Redis answers 500, is not shadowed (`skipped`, legacy_failed) and has no
    CDC event; once the consumer has caught up, the legacy's /comments still omits that comment
    while the rewrite lists it first (sort=new): a `mismatch` on read.comments.response.
    And what does not follow from one lost write (drift_after_lost_write needs more: the campaign
    sees it after several lost writes of the production Redis and sister Redis faults, so the
    campaign still sets that exact shape aside): the next creates in the two threads, after such a
    lost create and after one the shadow side lost (sister PostgreSQL down), and an edit, match on
    the response and all six store paths."""
    thread = CONTRACT_THREADS[1]
    await stack.kill_store("production", "redis")
    try:
        lost = await driver.create("lost:during", thread)
    finally:
        await stack.start_store("production", "redis")
    await settle(stack, driver)
    await _caught_up(stack)
    read = await driver._send("lost:read", "comments", "GET", f"/comments/{thread[3:]}?sort=new&limit=10")
    await settle(stack, driver)
    by_rid = stack.sink.by_request()
    assert lost.status == 500 and lost.legacy_raised and lost.created is None
    assert [(r.path, r.verdict.value, r.reason) for r in by_rid[lost.rid]] == \
        [("create.response", "skipped", "legacy_failed")]
    [record] = by_rid[read.rid]
    assert (record.path, record.verdict) == ("read.comments.response", VerdictKind.MISMATCH), record.to_dict()

    def names(answer: Any) -> list[str]:
        return [c["data"]["name"] for c in answer["body"][1]["data"]["children"] if c["kind"] == "t1"]

    legacy_names, new_names = names(record.legacy_value), names(record.new_value)
    served = [c["data"]["name"] for c in json.loads(read.body)[1]["data"]["children"] if c["kind"] == "t1"]
    assert served == legacy_names  # the client got the legacy's own answer
    newest = new_names[0]
    assert newest not in legacy_names and newest not in driver.comments, (newest, legacy_names)

    await stack.kill_store("sister", "postgres")
    try:
        shadow_lost = await driver.create("lost:shadow", CONTRACT_THREADS[0])
        await settle(stack, driver)
    finally:
        await stack.start_store("sister", "postgres")
    assert shadow_lost.status == 200
    assert {r.verdict.value for r in stack.sink.by_request()[shadow_lost.rid]} == {"shadow_error"}
    after = [await driver.create("lost:after", thread), await driver.create("lost:after", CONTRACT_THREADS[0])]
    await settle(stack, driver)
    target = after[0].created
    assert target is not None
    edit = await driver._send("lost:after", "update", "POST", WRITES["update"],
                              {"thing_id": target, "text": "edited after a lost create"}, driver.comments[target].author)
    after.append(edit)
    await settle(stack, driver)
    by_rid = stack.sink.by_request()
    for s in after:
        verdicts = {r.path: r.verdict.value for r in by_rid[s.rid]}
        assert s.status == 200 and len(verdicts) == 7 and set(verdicts.values()) <= {"match", "ignored"}, verdicts
