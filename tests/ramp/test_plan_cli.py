"""A declared ramp plan end to end: synthetic reads through the real proxy (inline, its verdicts in
the results database through the batching writer) to the real legacy and the real rewrite; the plan
started and read through the real CLI, executed by `tapcompare ramp plan run` (a subprocess). It
goes 1% -> 5% -> 25%, each step audited with the advisor's go; then the rewrite answers wrongly and
the plan rolls back to 5% with the advisor's reason in the audit trail."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from yarl import URL

from config import settings_from_mapping
from results.advice.plan import PlanState
from shadow_proxy.app import PROXY
from shadow_proxy.audit import RampKeys, recent_audit
from shadow_proxy.ramp import bucket
from tests.proxy.conftest import ADMIN_TOKEN, serve
from tests.proxy.test_real_services import SECRET, real_services  # noqa: F401
from tests.ramp.conftest import REPO
from tests.support.stores import READONLY_ROLE
from tests.support.waiting import eventually
from wiring.parts import Parts
from wiring.ramp_plan_store import PlanStore

PLAN = """
[ramp]
plan_tick_s = 0.1
plan_lease_s = 5

[[ramp.plan]]
endpoint = "info"
steps = [1, 5, 25, 50]
min_minutes = [0.01, 0.01, 0.03, 0.01]   # 0.6 s a step; 1.8 s at 25%, where the rewrite goes wrong
min_samples = 20

[ramp.plan.policy]
max_mismatch_rate_pct = 20      # 0 of 20 has a 95% upper bound of 14%: go after 20 clean samples
max_p50_ratio = 100             # latency is not what this test is about
max_p99_ratio = 100
"""
# Links that every step shadows (their sticky bucket is below 1%): no thread, so both sides answer
# an empty listing; requests are cheap and every one is judged.
NAMES = [name for name in (f"t3_{n:x}z" for n in range(20_000)) if bucket(name) < 100][:8]


@pytest.fixture
def plan_cli(stores, results_dsn: str, tmp_path: Path):  # noqa: F811
    config = tmp_path / "plan.toml"
    config.write_text(PLAN, encoding="utf-8")
    env = {**os.environ, "TAPCOMPARE_PROXY__RAMP_REDIS": stores.sister.redis,
           "TAPCOMPARE_REPORTS__RESULTS_DSN": results_dsn, "COLUMNS": "200"}
    env.pop("TAPCOMPARE_CONFIG", None)
    head = [sys.executable, "-m", "tapcompare", "--config", str(config)]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*head, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)

    def spawn(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*head, *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    return run, spawn


@contextlib.asynccontextmanager
async def proxy_in_front(stores, legacy_url: str, new_url: str, results_dsn: str,
                         ramp: dict | None = None) -> AsyncIterator[str]:
    def store_set(a) -> dict:
        return {"local": False, "postgres": a.postgres, "memcached": a.memcached, "redis": a.redis}

    settings = settings_from_mapping({
        "stores": {"production": store_set(stores.production), "sister": store_set(stores.sister)},
        "legacy": {"port": URL(legacy_url).port},
        "new_service": {"port": URL(new_url).port, "tap_secret": SECRET, "readonly_role": READONLY_ROLE},
        "proxy": {"admin_token": ADMIN_TOKEN, "guard_enabled": False, "recheck_read_mismatches": False},
        "reports": {"results_dsn": results_dsn}, **({"ramp": ramp} if ramp is not None else {})})
    app = Parts(settings).proxy_app(with_capture=False)
    runner, url = await serve(app)
    try:
        await app[PROXY].ramp.wait_until(lambda p: True)
        yield url
    finally:
        await runner.cleanup()


async def traffic(url: str, stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as session:
        i = 0
        while not stop.is_set():
            async with session.get(f"{url}/api/info", params={"id": NAMES[i % len(NAMES)]}) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()
            i += 1
            await asyncio.sleep(0.005)  # a paced client, not a wait for anything


def info_plan(stores: Any) -> tuple[aioredis.Redis, Callable[[], Awaitable[PlanState | None]]]:
    """The control-plane Redis client and a reader of the `info` plan's state."""
    redis = aioredis.from_url(stores.sister.redis)
    plans = PlanStore(redis, RampKeys())

    async def state() -> PlanState | None:
        return (await plans.get("info"))[1]
    return redis, state


async def test_plan_advances_on_go_and_rolls_back_on_a_wrong_rewrite(plan_cli, real_services, stores,  # noqa: F811
                                                                    results_dsn: str, monkeypatch) -> None:
    from new_comments_service import app as rewrite

    run, spawn = plan_cli
    _, legacy_url, new_url = real_services
    redis, state = info_plan(stores)

    stop = asyncio.Event()
    executor: subprocess.Popen[str] | None = None
    async with proxy_in_front(stores, legacy_url, new_url, results_dsn) as url:
        sender = asyncio.create_task(traffic(url, stop))
        try:
            started = await asyncio.to_thread(run, "ramp", "plan", "start", "info", "--why", "plan test")
            assert started.returncode == 0, started.stderr
            assert started.stdout.strip() == "info: plan running at step 1 of 4 (1%); steps 1%, 5%, 25%, 50%"
            executor = spawn("ramp", "plan", "run", "--log-level", "WARNING")
            at_25 = await eventually(state, lambda s: s is not None and s.pct == 25, timeout=30,
                                     what="the plan at 25%")
            assert at_25.status == "running" and at_25.step == 2

            original = rewrite.HANDLERS["info"]

            async def wrong(request: web.Request) -> web.StreamResponse:  # the rewrite's planted bug
                resp = await original(request)
                assert isinstance(resp, web.Response) and isinstance(resp.body, bytes)
                resp.body = resp.body.replace(b'"Listing"', b'"listing"')
                return resp

            monkeypatch.setitem(rewrite.HANDLERS, "info", wrong)
            back = await eventually(state, lambda s: s is not None and s.status != "running", timeout=30,
                                    what="the plan to stop running")
        finally:
            stop.set()
            await sender
            if executor is not None:
                executor.terminate()
                await asyncio.to_thread(executor.wait, 10)
    try:
        assert (back.status, back.step, back.pct) == ("rolled_back", 1, 5), back.reason
        entries = [a for a in reversed(await recent_audit(redis, RampKeys(), 50)) if a.endpoint == "info"]
        assert (await redis.hget(RampKeys().ramp, "info")) == b"5"
    finally:
        await redis.aclose()
    assert executor is not None and executor.returncode == 0, executor.stderr.read() if executor.stderr else ""
    assert [(a.from_pct, a.to_pct) for a in entries] == [(0, 1), (1, 5), (5, 25), (25, 5)]
    start, go_5, go_25, rollback = entries
    assert start.who.startswith("cli:") and start.why.startswith("plan started by cli:")
    for entry, text in ((go_5, "plan step 2 of 4: 1% -> 5%; go: 0 mismatches in "),
                        (go_25, "plan step 3 of 4: 5% -> 25%; go: 0 mismatches in ")):
        assert entry.who.startswith("plan:") and entry.why.startswith(text), entry.why
    assert rollback.who.startswith("plan:")
    assert rollback.why.startswith("plan rolled back from step 3 of 4 (25%) to 5%: roll back: read.info.response has "), \
        rollback.why
    assert "so its failure rate is above 20% with 95% confidence" in rollback.why

    shown = await asyncio.to_thread(run, "ramp", "plan", "status", "info", "--json")
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)["plans"][0]
    assert (view["pct"], view["plan"]["status"], view["plan"]["reason"]) == (5.0, "rolled_back", rollback.why)


async def test_the_proxy_runs_the_plan_with_no_executor_of_its_own(plan_cli, real_services, stores,  # noqa: F811
                                                                   results_dsn: str) -> None:
    """A proxy whose settings declare the plan runs the executor among its parts (plan_in_proxy, the
    default): the plan started through the CLI advances with no `ramp plan run` anywhere."""
    import tomllib

    run, _ = plan_cli
    _, legacy_url, new_url = real_services
    redis, state = info_plan(stores)

    stop = asyncio.Event()
    try:
        async with proxy_in_front(stores, legacy_url, new_url, results_dsn, tomllib.loads(PLAN)["ramp"]) as url:
            sender = asyncio.create_task(traffic(url, stop))
            try:
                started = await asyncio.to_thread(run, "ramp", "plan", "start", "info", "--why", "plan test")
                assert started.returncode == 0, started.stderr
                at_5 = await eventually(state, lambda s: s is not None and s.pct >= 5, timeout=30,
                                        what="the proxy's executor to take the plan to 5%")
            finally:
                stop.set()
                await sender
        assert at_5.status == "running", at_5.reason
        entries = [a for a in reversed(await recent_audit(redis, RampKeys(), 50)) if a.endpoint == "info"]
        assert [(a.from_pct, a.to_pct) for a in entries][:2] == [(0, 1), (1, 5)]
        assert entries[1].who.startswith("plan:") and entries[1].why.startswith("plan step 2 of 4: 1% -> 5%; go: ")
    finally:
        await redis.aclose()
