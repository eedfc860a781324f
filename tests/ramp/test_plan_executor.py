"""The plan executor against the real control-plane Redis and results database, tick by tick: only
the lease holder acts, the kill switch pauses the plan (and the plan never raises it again by
itself), a second executor continues from the state in Redis once the first lets go."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from config.settings import RampPlanSettings
from results.store.store import ResultsStore
from shadow_proxy.audit import RampKeys, recent_audit
from shadow_proxy.ramp import RampControl
from tests.ramp.test_advise_cli import verdicts, write
from wiring.ramp_plan import PlanControl, PlanExecutor
from wiring.ramp_trail import RedisRampTrail

async def _forget(redis: aioredis.Redis, keys: RampKeys) -> None:
    """Leave the shared Redis as found: the plan's keys (its lease has a TTL) go with the test."""
    try:
        stale = [key async for key in redis.scan_iter(match=f"{keys.prefix}:*")]
        if stale:
            await redis.delete(*stale)
    finally:
        await redis.aclose()


PLAN = RampPlanSettings(endpoint="info", steps=[1, 5], min_minutes=0, min_samples=20,
                        policy={"max_mismatch_rate_pct": 20})


async def test_lease_kill_switch_resume_and_a_second_executor(stores, results_store: ResultsStore) -> None:
    redis = aioredis.from_url(stores.sister.redis)
    keys = RampKeys("plantest")
    try:
        control = PlanControl(redis, keys)
        first = PlanExecutor(control, results_store.pool, tick_s=0.1, lease_s=5, holder="first")
        second = PlanExecutor(PlanControl(redis, keys), results_store.pool, tick_s=0.1, lease_s=5, holder="second")
        state = await control.start(PLAN, who="cli:ana", why="try it")
        assert (state.status, state.pct, (await control.ramp.read())["info"]) == ("running", 1, 1)

        await first.tick()
        assert first.leading and await control.store.lease_holder() == "first"
        progress = await control.store.progress("info")
        assert progress is not None and progress["holder"] == "first" and progress["samples"] == 0
        await second.tick()
        assert not second.leading

        await RampControl(redis, keys).kill(who="cli:ana", why="kill switch (CLI)")
        await first.tick()
        view = (await control.status(["info"]))[0]
        assert view.state is not None and view.state.status == "paused" and view.pct_now == 0
        assert view.state.reason == ("plan paused at step 1 of 2 (1%): info is at 0%, not the plan's 1%; changed "
                                     "outside the plan (by cli:ana: kill switch (CLI))")
        note = (await recent_audit(redis, keys, 1))[0]
        assert (note.who, note.from_pct, note.to_pct, note.why) == ("plan:first", 0, 0, view.state.reason)
        # a note changes no percentage, so it starts no step in the advisor's trail
        assert [(c.from_pct, c.to_pct) for c in await RedisRampTrail(redis, keys).changes("info")] == [(1, 0)]
        await first.tick()
        assert (await control.ramp.read())["info"] == 0  # paused: the plan does not raise it

        resumed = await control.resume("info", who="cli:ana", why="checked")
        assert resumed.status == "running" and (await control.ramp.read())["info"] == 1
        await redis.delete(control.store.lease_key)  # the first executor is gone (its lease lapsed)
        await write(results_store, verdicts("info", 30, time.time()))
        await second.tick()
        assert second.leading
        after = (await control.status(["info"]))[0]
        assert after.state is not None and (after.state.step, after.pct_now) == (1, 5), after.state.reason
        assert after.state.reason.startswith("plan step 2 of 2: 1% -> 5%; go: 0 mismatches in 30 samples")
        await first.tick()
        assert not first.leading  # the second holds the lease now

        await control.pause("info", who="cli:ana")
        await second.tick()
        paused = (await control.status(["info"]))[0]
        assert paused.state is not None and paused.state.status == "paused" and paused.pct_now == 5
        aborted = await control.abort("info", who="cli:ana", why="enough")
        assert aborted.reason == "plan aborted at step 2 of 2 (5%) by cli:ana; info stays at 5%: enough"
    finally:
        await _forget(redis, keys)


async def test_a_hold_pauses_the_plan_with_the_reason_in_the_trail_and_the_percentage_unchanged(
        stores, results_store: ResultsStore) -> None:
    redis = aioredis.from_url(stores.sister.redis)
    keys = RampKeys("planhold")
    try:
        control = PlanControl(redis, keys)
        executor = PlanExecutor(control, results_store.pool, tick_s=0.1, lease_s=5, holder="only")
        plan = RampPlanSettings(endpoint="create", steps=[5, 25], min_minutes=0, min_samples=30,
                                policy={"max_mismatch_rate_pct": 20})
        await control.start(plan, who="cli:ana")
        # 1 mismatch in 30 on each store path: below the limit, but each is an open group to review
        await write(results_store, verdicts("create", 30, time.time(), mismatches=1))
        await executor.tick()
        view = (await control.status(["create"]))[0]
        assert view.state is not None and view.state.status == "paused" and view.pct_now == 5
        assert view.state.reason.startswith("plan paused at step 1 of 2 (5%): hold: 6 open groups seen at this step "
                                            "need review"), view.state.reason
        note = (await recent_audit(redis, keys, 1))[0]
        assert (note.endpoint, note.who, note.from_pct, note.to_pct, note.why) == (
            "create", "plan:only", 5, 5, view.state.reason)
    finally:
        await _forget(redis, keys)
