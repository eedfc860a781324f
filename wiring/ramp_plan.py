"""Declared ramp plans, executed: the operations (`tapcompare ramp plan start|pause|resume|abort|status`)
and the executor that advances running plans (`tapcompare ramp plan run`, or a part any proxy runs).

Every percentage a plan sets goes through the ramp control (shadow_proxy.ramp.RampControl), so it
is audited and published like a manual change, with who (`plan:<executor>` or the CLI's user) and
why (the advisor's reasons); a pause, an abort or a finished plan is an audit note that changes no
percentage. The state is in the control-plane Redis (wiring/ramp_plan_store.py): a restarted
executor continues where the last one stopped, and several executors are safe, since only the
holder of the lease acts. The kill switch wins: an endpoint not at the plan's percentage pauses the
plan, and the plan raises no percentage that is at 0 unless someone resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from config.settings import RampPlanSettings, Settings
from results.advice.decision import Step, advise
from results.advice.gather import evidence
from results.advice.plan import (ACTIVE, Move, PlanError, PlanState, aborted, fmt_pct, next_move, outside_change,
                                 paused, progress, resumed)
from shadow_proxy.audit import RampKeys
from shadow_proxy.ramp import ENDPOINTS, RampControl, read_ramp
from telemetry.logs import get_logger
from telemetry.tasks import cancel_and_wait
from wiring.ramp_plan_store import PlanStore
from wiring.ramp_trail import RedisRampTrail

log = get_logger("wiring.ramp_plan")
RETRIES = 5


@dataclass(frozen=True)
class PlanStatusView:
    endpoint: str
    state: PlanState | None
    progress: dict[str, Any] | None
    pct_now: float

    def to_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "pct": self.pct_now, "progress": self.progress,
                "plan": asdict(self.state) if self.state is not None else None}


class PlanControl:
    """Plan operations over the control-plane Redis; each is a compare-and-set on the plan's state,
    retried when someone else changed it in between."""

    def __init__(self, redis: aioredis.Redis, keys: RampKeys) -> None:
        self.redis = redis
        self.keys = keys
        self.store = PlanStore(redis, keys)
        self.ramp = RampControl(redis, keys)
        self.trail = RedisRampTrail(redis, keys)

    async def apply(self, endpoint: str, version: str, move: Move, *, who: str, only_if_enabled: bool) -> bool:
        """Write the move's state, then set its percentage (audited) or note it; False when the plan
        changed since `version` was read (nothing done)."""
        if not await self.store.put(endpoint, version, move.state):
            return False
        if move.to_pct is not None:
            change = await self.ramp.set(endpoint, move.to_pct, who=who, why=move.why, only_if_enabled=only_if_enabled)
            if change is None:  # at 0 meanwhile (the kill switch): the next tick pauses the plan
                log.warning("ramp_plan_not_raised", endpoint=endpoint, to_pct=move.to_pct, why="endpoint at 0%")
        else:
            await self.store.note(endpoint, who=who, why=move.why)
        log.info("ramp_plan_" + move.kind.replace(" ", "_"), endpoint=endpoint, status=move.state.status,
                 step=move.state.step + 1, pct=move.state.pct, who=who, why=move.why)
        return True

    async def _change(self, endpoint: str, make: Callable[[PlanState, float], Move], *, who: str, only_if_enabled: bool = False) -> PlanState:
        for _ in range(RETRIES):
            version, state = await self.store.get(endpoint)
            if state is None:
                raise PlanError(f"no plan for {endpoint} was started; `tapcompare ramp plan start {endpoint}`")
            move = make(state, (await read_ramp(self.redis, self.keys))[endpoint])
            if await self.apply(endpoint, version, move, who=who, only_if_enabled=only_if_enabled):
                return move.state
        raise PlanError(f"the plan for {endpoint} kept changing under this command; try again")

    async def start(self, plan: RampPlanSettings, *, who: str, why: str = "") -> PlanState:
        endpoint = plan.endpoint
        version, state = await self.store.get(endpoint)
        if state is not None and state.status in ACTIVE:
            raise PlanError(f"a plan for {endpoint} is {state.status} at {state.where()}; resume or abort it first")
        new = PlanState.begin(plan, who=who, now=time.time())
        text = (f"plan started by {who}: step 1 of {len(new.steps)} ({fmt_pct(new.pct)}), steps "
                + ", ".join(fmt_pct(s) for s in new.steps) + (f": {why}" if why else ""))
        move = Move("advance", replace(new, reason=text), new.pct, text)
        if not await self.apply(endpoint, version, move, who=who, only_if_enabled=False):
            raise PlanError(f"another plan for {endpoint} was started at the same time")
        return move.state

    async def pause(self, endpoint: str, *, who: str, why: str = "") -> PlanState:
        return await self._change(endpoint, lambda s, _: paused(s, who=who, why=why, now=time.time()), who=who)

    async def resume(self, endpoint: str, *, who: str, why: str = "") -> PlanState:
        return await self._change(endpoint, lambda s, _: resumed(s, who=who, why=why, now=time.time()), who=who)

    async def abort(self, endpoint: str, *, who: str, why: str = "") -> PlanState:
        return await self._change(endpoint, lambda s, pct: aborted(s, who=who, why=why, pct_now=pct, now=time.time()),
                                  who=who)

    async def status(self, endpoints: Sequence[str] = ENDPOINTS) -> list[PlanStatusView]:
        pcts = await read_ramp(self.redis, self.keys)
        out = []
        for endpoint in endpoints:
            _, state = await self.store.get(endpoint)
            out.append(PlanStatusView(endpoint, state, await self.store.progress(endpoint), pcts[endpoint]))
        return out


class PlanExecutor:
    """Advances running plans, one tick every `tick_s`, while it holds the lease."""

    def __init__(self, control: PlanControl, pool: asyncpg.Pool, *, tick_s: float, lease_s: float,
                 holder: str | None = None) -> None:
        self.control = control
        self.pool = pool
        self.tick_s = tick_s
        self.lease_s = lease_s
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.leading = False

    @property
    def who(self) -> str:
        return f"plan:{self.holder}"

    async def tick(self) -> None:
        store = self.control.store
        leading = await store.hold_lease(self.holder, self.lease_s)
        if leading != self.leading:
            log.info("ramp_plan_lease", holder=self.holder, held=leading)
            self.leading = leading
        if not leading:
            return
        pcts = await read_ramp(self.control.redis, self.control.keys)
        for endpoint in ENDPOINTS:
            version, state = await store.get(endpoint)
            if state is not None and state.status == "running":
                await self._step(endpoint, version, state, pcts[endpoint])

    async def _step(self, endpoint: str, version: str, state: PlanState, pct_now: float) -> None:
        now = time.time()
        move = outside_change(state, pct_now, now, by=await self._last_change(endpoint) if pct_now != state.pct else "")
        if move is None:
            policy = state.step_policy()
            ev = await evidence(self.pool, endpoint, Step(state.pct, state.step_since), now=now, policy=policy)
            # every path of the endpoint needs its conclusive samples (a path's verdicts can land later)
            samples = min((p.samples for p in ev.paths), default=0)
            prog = progress(state, samples, now)
            await self.control.store.set_progress(endpoint, {
                "at": now, "step": state.step, "samples": samples, "min_samples": prog.min_samples,
                "seconds": prog.seconds, "min_seconds": prog.min_seconds, "ready": prog.ready,
                "holder": self.holder, "sentence": prog.sentence()})
            if not prog.ready:
                return
            move = next_move(state, advise(ev, policy), now)
        await self.control.apply(endpoint, version, move, who=self.who, only_if_enabled=True)

    async def _last_change(self, endpoint: str) -> str:
        changes = await self.control.trail.changes(endpoint)
        return f"by {changes[-1].who}: {changes[-1].why}" if changes else ""

    async def run(self) -> None:
        """Tick until cancelled; a failed tick (a store not answering) is logged and retried."""
        try:
            while True:
                try:
                    await self.tick()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("ramp_plan_tick_failed", error=repr(exc), retry_in_s=self.tick_s)
                await asyncio.sleep(self.tick_s)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.control.store.release_lease(self.holder))


class PlanRunner:
    """The executor as a part with a lifetime (a Resource): opens the control-plane Redis and the
    results database, runs the executor, closes both. `tapcompare ramp plan run` runs one; a proxy
    can run one among its resources (only the lease holder acts)."""

    def __init__(self, ramp_redis: str, results_dsn: str, keys: RampKeys, *, tick_s: float, lease_s: float) -> None:
        self._url = ramp_redis
        self._dsn = results_dsn
        self._keys = keys
        self._tick_s = tick_s
        self._lease_s = lease_s
        self._redis: aioredis.Redis | None = None
        self._pool: asyncpg.Pool | None = None
        self._task: asyncio.Task[None] | None = None
        self.executor: PlanExecutor | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, ramp_redis: str, results_dsn: str) -> PlanRunner:
        return cls(ramp_redis, results_dsn, RampKeys(settings.proxy.ramp_key_prefix),
                   tick_s=settings.ramp.plan_tick_s, lease_s=settings.ramp.plan_lease_s)

    async def start(self) -> None:
        # min_size 0: no connection at start, so a proxy starts while the results database is down (a
        # tick then fails, is logged and retried; the primary path never waits on it).
        self._pool = await asyncpg.create_pool(self._dsn, min_size=0, max_size=2)
        self._redis = aioredis.from_url(self._url)
        self.executor = PlanExecutor(PlanControl(self._redis, self._keys), self._pool, tick_s=self._tick_s,
                                     lease_s=self._lease_s)
        self._task = asyncio.create_task(self.executor.run(), name="ramp-plan-executor")

    async def wait(self) -> None:
        if self._task is not None:
            await self._task

    async def close(self) -> None:
        if self._task is not None:
            # bounded: its Redis calls can swallow a cancellation (the ramp's poll hung a shutdown so)
            abandoned = await cancel_and_wait([self._task])
            if abandoned:
                log.warning("plan_runner_abandoned")
            self._task = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
