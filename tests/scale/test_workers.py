"""Two proxies publish comparison jobs to one stream; two workers judge them into one results
database. A worker dies holding pending jobs; every job's verdicts are still stored exactly once."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

import aiohttp
import redis.asyncio as aioredis

from tests.proxy.conftest import ProxyHandle, metric, set_ramp, settle
from tests.scale.conftest import ALL, GatedComparator, Jobs, stored_counts, wait_for

USER = {"X-Auth-User": "alice"}
REQUESTS = [
    ("GET", "/api/info?id=t1_1", None),
    ("GET", "/comments/a", None),
    ("POST", "/api/vote", {"id": "t1_1", "dir": "1"}),
    ("POST", "/api/editusertext", {"thing_id": "t1_2", "text": "edited"}),
    ("POST", "/api/comment", {"thing_id": "t1_3", "text": "a reply"}),
    ("POST", "/api/vote", {"id": "t1_4", "dir": "7"}),          # the legacy refuses it: judged on 7 paths like any write
]
RECORDS = {"GET": 1, "POST": 7}  # a read: its response; a write: its response + 6 store paths


async def send(client: aiohttp.ClientSession, proxies: list[ProxyHandle], n: int, start: int = 0) -> Counter:
    """n requests round-robin over the proxies and the request mix; returns records expected per kind."""
    sent: Counter = Counter()
    for i, (proxy, (method, path, form)) in zip(range(start, start + n), zip(itertools.cycle(proxies),
                                                                             itertools.cycle(REQUESTS))):
        headers = {**USER, "X-Request-Id": f"req-{i}"}
        async with client.request(method, proxy.url + path, data=form, headers=headers) as resp:
            await resp.read()
        sent["rejected" if form and form.get("dir") == "7" else method] += 1
    return sent


def published(*proxies: ProxyHandle) -> int:
    return int(sum(metric(p, "tapcompare_jobs_published_total", endpoint=e) for p in proxies
                   for e in ("info", "comments", "create", "update", "increment")))


async def pending_of(jobs: Jobs, consumer: str) -> int:
    r = aioredis.from_url(jobs.redis_url)
    try:
        info = await r.xpending(jobs.stream, jobs.group)
        return sum(int(c["pending"]) for c in info["consumers"]
                   if (c["name"].decode() if isinstance(c["name"], bytes) else c["name"]) == consumer)
    finally:
        await r.aclose()


async def test_two_proxies_two_workers_one_killed_mid_run(proxy_factory, legacy, new, client, jobs, worker_factory):
    async with proxy_factory(legacy.url, new.url, **jobs.proxy_overrides()) as p1, \
               proxy_factory(legacy.url, new.url, **jobs.proxy_overrides()) as p2:
        await set_ramp(p1, **ALL)
        await p2.runtime.ramp.wait_until(lambda p: all(p[e] == 100 for e in ALL))

        gate = GatedComparator()
        # Claims wait 3 s: long enough that the healthy worker cannot take the doomed one's jobs while
        # the requests below are still being sent (on a loaded machine that takes over a second).
        doomed = await worker_factory("doomed", comparator=gate, batch=16, jobs_claim_idle_s=3.0)
        sent = await send(client, [p1, p2], 24)
        # The doomed worker has read a batch and is judging it: its entries are pending.
        assert await asyncio.to_thread(gate.entered.wait, 10)
        assert await pending_of(jobs, "doomed") > 0

        healthy = await worker_factory("healthy", batch=8, jobs_claim_idle_s=3.0)
        sent += await send(client, [p1, p2], 36, start=24)
        held = await pending_of(jobs, "doomed")
        await doomed.kill()                      # dies holding `held` pending jobs, none acknowledged
        gate.release.set()
        assert held > 0

        for p, n in ((p1, 30), (p2, 30)):
            await settle(p, n)
        total = published(p1, p2)
        assert total == 60                       # every request (100% ramp) is one job

        async def all_stored():
            counts = await stored_counts(jobs.results_dsn)
            return counts if len(counts) == total else None

        counts = await all_stored() or await wait_for(all_stored, timeout=30)
        # Exactly once: every job's rows equal what it declared, and no row lacks a job.
        assert all(declared == rows for declared, rows in counts.values()), counts
        assert sum(rows for _, rows in counts.values()) == sent["GET"] * 1 + (sent["POST"] + sent["rejected"]) * 7
        assert healthy.service.worker.stored == total
        assert metric_claimed(healthy) >= held
        assert await pending_of(jobs, "healthy") == 0


def metric_claimed(running) -> float:
    return running.service.registry.get_sample_value("tapcompare_worker_claimed_total") or 0.0


async def test_a_job_redelivered_after_its_commit_is_counted_once(proxy_factory, legacy, new, client, jobs,
                                                                  worker_factory):
    async with proxy_factory(legacy.url, new.url, **jobs.proxy_overrides()) as p1:
        await set_ramp(p1, **ALL)
        committed = asyncio.Event()
        stuck = await worker_factory("stuck", batch=64)

        async def never_ack(ids) -> None:        # stored, then dies before XACK
            committed.set()
            await asyncio.Event().wait()

        stuck.service.worker._ack = never_ack   # type: ignore[method-assign]
        sent = await send(client, [p1], 12)
        await settle(p1, 12)
        async with asyncio.timeout(10):
            await committed.wait()
        await stuck.kill()
        first = await stored_counts(jobs.results_dsn)
        assert first

        rescuer = await worker_factory("rescuer")

        async def drained():
            return await pending_of(jobs, "stuck") == 0 and len(await stored_counts(jobs.results_dsn)) == 12

        await wait_for(drained, timeout=20)
        counts = await stored_counts(jobs.results_dsn)
        assert all(declared == rows for declared, rows in counts.values()), counts
        assert sum(rows for _, rows in counts.values()) == sent["GET"] + (sent["POST"] + sent["rejected"]) * 7
        assert rescuer.service.worker.duplicates == len(first)  # judged again, stored once
