"""After the whole fault campaign, on a stack of its own (so it needs no other test to have run
first, and shutting its stack down touches no other test's): no exchange dropped and each with its
verdicts, the results writer's counts adding up (with the failures of the results-database outage),
no production CDC event of a successful write missing, the consumer caught up with every created
comment in its projection, and shutting the stack down leaks no task or file handle."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import redis.asyncio as aioredis

from tests.faults.campaign import FAULTS, Driver, FaultStack, _caught_up, account, driver, run_fault, settle, stack  # noqa: F401
from tests.faults.stack import open_fds

pytestmark = pytest.mark.timeout(900)  # the whole campaign: about 1 min alone, several under load


async def test_nothing_lost_and_nothing_leaked(stack: FaultStack, driver: Driver) -> None:
    for fault in FAULTS:  # the campaign itself, on this module's stack
        await run_fault(stack, driver, fault)
    await settle(stack, driver)
    # No exchange dropped by the queue, each got its verdicts; the results writer counted them all.
    assert stack.runtime.queue.dropped == 0
    account(stack, driver.sent)
    await stack.writer.drain()
    stats = stack.writer.stats
    assert stats.submitted == len(stack.sink.records)
    assert stats.written + stats.failed + stats.dropped == stats.submitted and stats.failed > 0

    # Every successful legacy write has its event in the production stream.
    events = await stack.production_events()
    seen = {e.get("request_id") for e in events}
    missing = [(s.rid, s.endpoint) for s in driver.sent if s.event_expected and s.rid not in seen]
    assert not missing, missing

    # The consumer caught up (nothing pending, no lag) and its projection holds every comment.
    await _caught_up(stack)
    r = aioredis.from_url(stack.production.redis, decode_responses=True)  # type: ignore[union-attr]
    try:
        for s in driver.sent:
            if s.created:
                data = json.loads(s.body)["json"]["data"]["things"][0]["data"]
                kids = json.loads(await r.hget(f"tree:{data['link_id'][3:]}", data["parent_id"]) or "[]")
                assert data["id"] in kids, (s.rid, data["name"])
    finally:
        await r.aclose()

    # Shut everything down: tasks and file handles back to where they were.
    tasks_before, fds_before = stack.baseline
    await driver.session.close()
    await stack.close()
    deadline = time.monotonic() + 10
    while len(asyncio.all_tasks()) > tasks_before + 1 or open_fds() > fds_before + 3:
        if time.monotonic() > deadline:
            leftover = [t.get_name() + ":" + repr(t.get_coro()) for t in asyncio.all_tasks()]
            raise AssertionError(f"leak: tasks {len(asyncio.all_tasks())} (was {tasks_before}), "
                                 f"fds {open_fds()} (was {fds_before}); tasks {leftover}")
        await asyncio.sleep(0.05)  # closing sockets settle on the loop; bounded by the deadline


