"""The real `tapcompare worker` command in two processes; one is SIGKILLed holding pending jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import redis.asyncio as aioredis

from tests.proxy.conftest import set_ramp, settle
from tests.scale.conftest import ALL, Jobs, stored_counts, wait_for
from tests.scale.test_workers import pending_of, published, send

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = "import sys; from tapcompare.commands.worker import worker; worker(sys.argv[1:], obj={})"


def start_worker(jobs: Jobs, consumer: str, legacy_port: int) -> subprocess.Popen:
    env = {**os.environ, "TAPCOMPARE_PROXY__COMPARE_MODE": "stream", "TAPCOMPARE_PROXY__JOBS_STREAM": jobs.stream,
           "TAPCOMPARE_PROXY__JOBS_GROUP": jobs.group, "TAPCOMPARE_PROXY__JOBS_CLAIM_IDLE_S": "0.5",
           "TAPCOMPARE_PROXY__RAMP_REDIS": jobs.redis_url, "TAPCOMPARE_PROXY__GUARD_ENABLED": "false",
           "TAPCOMPARE_REPORTS__RESULTS_DSN": jobs.results_dsn, "TAPCOMPARE_LEGACY__PORT": str(legacy_port)}
    env.pop("TAPCOMPARE_CONFIG", None)
    return subprocess.Popen([sys.executable, "-c", LAUNCH, "--consumer", consumer, "--port", "0", "--batch", "8",
                             "--no-validate", "--log-level", "WARNING"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def blocked_reader(jobs: Jobs, consumer: str) -> bool:
    """True when `consumer` is registered and a client sits blocked in XREADGROUP."""
    r = aioredis.from_url(jobs.redis_url, decode_responses=True)
    try:
        try:
            names = {c["name"] for c in await r.xinfo_consumers(jobs.stream, jobs.group)}
        except aioredis.ResponseError:
            return False
        blocked = [c for c in await r.client_list() if c.get("cmd") == "xreadgroup" and "b" in c.get("flags", "")]
        return consumer in names and bool(blocked)
    finally:
        await r.aclose()


async def test_sigkilled_worker_process_loses_nothing_and_doubles_nothing(proxy_factory, legacy, new, client,
                                                                         jobs: Jobs):
    port = int(legacy.url.rsplit(":", 1)[1])
    doomed = start_worker(jobs, "doomed", port)
    healthy: subprocess.Popen | None = None
    try:
        async with proxy_factory(legacy.url, new.url, **jobs.proxy_overrides()) as p1, \
                   proxy_factory(legacy.url, new.url, **jobs.proxy_overrides()) as p2:
            await set_ramp(p1, **ALL)
            await p2.runtime.ramp.wait_until(lambda p: all(p[e] == 100 for e in ALL))
            # Freeze the worker while it waits in XREADGROUP: Redis still hands it the next jobs
            # (they become its pending entries), and it never gets to acknowledge them.
            held, sent_n = 0, 0
            for attempt in range(5):
                await wait_for(lambda: blocked_reader(jobs, "doomed"), timeout=30)
                doomed.send_signal(signal.SIGSTOP)
                await send(client, [p1, p2], 6, start=sent_n)
                sent_n += 6
                await settle(p1, sent_n // 2)
                await settle(p2, sent_n // 2)
                held = await pending_of(jobs, "doomed")
                if held:
                    break
                doomed.send_signal(signal.SIGCONT)  # it was between two reads; try again
            assert held > 0
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(10)

            healthy = start_worker(jobs, "healthy", port)
            await send(client, [p1, p2], 24, start=sent_n)
            sent_n += 24
            await settle(p1, sent_n // 2)
            await settle(p2, sent_n // 2)
            total = published(p1, p2)
            assert total == sent_n

            async def all_stored():
                counts = await stored_counts(jobs.results_dsn)
                return counts if len(counts) == total and await pending_of(jobs, "doomed") == 0 else None

            counts = await wait_for(all_stored, timeout=60)
            assert all(declared == rows for declared, rows in counts.values()), counts
            assert len(counts) == total
    finally:
        for proc in (doomed, healthy):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if healthy is not None and healthy.returncode not in (0, -signal.SIGTERM):
            raise AssertionError(healthy.stderr.read().decode() if healthy.stderr else healthy.returncode)
