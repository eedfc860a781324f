"""Stream mode with several workers shares the ordering book (Redis), so adding workers does not
raise the raced share: the same load judged by 1 worker and then by 4 workers (each with its own
StoreValidator, as separate processes have), on the real legacy and rewrite."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import aiohttp
import asyncpg

from config import NewServiceSettings, Settings
from diff_reports.configure import comparator_from_settings
from shadow_proxy.app import PROXY, create_app
from wiring.worker import WorkerAddresses, WorkerService
from write_validation.store_validator import StoreValidator
from tests.proxy.conftest import ProxyHandle, serve, set_ramp, settle
from tests.scale.conftest import ALL, Jobs, stored_counts, wait_for
from tests.support.stores import READONLY_ROLE
from tests.validation.stack import SECRET, THREAD, Clock

VOTERS = tuple(f"voter_{i:02d}" for i in range(24))
COMMENTS, WRITES = 6, 8


async def _verdicts(dsn: str, entities: list[str]) -> Counter:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT verdict, count(*) AS n FROM results WHERE entity = ANY($1::text[]) "
                                "AND path LIKE '%.%.%' AND path NOT LIKE 'read.%' GROUP BY verdict", entities)
    finally:
        await conn.close()
    return Counter({r["verdict"]: r["n"] for r in rows})


async def _examples(dsn: str, verdict: str) -> list:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT e.record FROM examples e JOIN mismatch_groups g ON g.id = e.group_id "
                                "WHERE g.verdict = $1 ORDER BY e.at LIMIT 12", verdict)
    finally:
        await conn.close()
    out = []
    for r in rows:
        rec = json.loads(r["record"])
        out.append((rec["path"], rec["entity"], rec["request_id"], rec["created_at"], (rec.get("reason") or "")[:300],
                    [(d["path"], d["kind"], d["legacy"], d["new"]) for d in rec.get("differences", [])][:4]))
    return out


async def test_four_stream_workers_raise_no_raced_share(stores, jobs: Jobs) -> None:
    from legacy_adapter.app import create_app as legacy_app
    from legacy_adapter.seeding import seed
    from legacy_adapter.store import LegacyStores
    from new_comments_service.app import create_app as new_app
    from tests.contract.seed import THREADS_DIR

    settings = Settings(new_service=NewServiceSettings(mode="tap", tap_secret=SECRET, readonly_role=READONLY_ROLE,
                                                       memcached_pool_threads=4))
    prod = stores.production
    st = await LegacyStores.open(prod.postgres, prod.memcached_host_port, prod.redis, settings.stores.cdc_stream)
    try:
        await seed(st, THREADS_DIR, [THREAD], ("alice", *VOTERS))
    finally:
        await st.close()
    clock = Clock(1_700_000_000.0)
    runners: list = []
    workers: list[tuple[WorkerService, asyncio.Task]] = []
    proxy_settings = jobs.settings(shadow_timeout_s=5.0, queue_size=5000)

    async def start_workers(n: int) -> None:
        for i in range(n):
            validator = StoreValidator(prod, stores.sister, comparator_from_settings(settings).compare,
                                       stream=settings.stores.cdc_stream, tz_offset=settings.legacy.tz_offset_seconds,
                                       readonly_role=READONLY_ROLE)
            service = WorkerService(proxy_settings, WorkerAddresses(jobs.redis_url, jobs.results_dsn, jobs.redis_url,
                                                                    legacy_url),
                                    comparator_from_settings(settings), validator, consumer=f"w{n}-{i}", batch=8)
            await service.start()
            workers.append((service, asyncio.create_task(service.run())))

    async def stop_workers() -> None:
        while workers:
            service, task = workers.pop()
            service.worker.stop()
            await asyncio.wait_for(task, 30)
            await service.close()

    try:
        legacy_runner, legacy_url = await serve(legacy_app(prod, settings, clock=clock, consume=True))
        runners.append(legacy_runner)
        new_runner, new_url = await serve(new_app(settings, prod, stores.sister))
        runners.append(new_runner)
        app = create_app(proxy_settings, legacy_url=legacy_url, new_url=new_url, tap_secret=SECRET,
                         ramp_redis_url=jobs.redis_url, comparator=comparator_from_settings(settings))
        proxy_runner, url = await serve(app)
        runners.append(proxy_runner)
        proxy = ProxyHandle(url, app[PROXY], app[PROXY].sink)  # type: ignore[arg-type]
        await set_ramp(proxy, **ALL)
        sent = 0

        async with aiohttp.ClientSession() as session:
            async def post(path: str, user: str, **form: str) -> dict:
                nonlocal sent
                for _ in range(5):  # the legacy answers 503 RATELIMIT when its lock stays busy: resend
                    async with session.post(url + path, data=form, headers={"X-Auth-User": user}) as resp:
                        body = await resp.json(content_type=None)
                    sent += 1
                    if resp.status != 503:
                        break
                assert resp.status == 200, (path, form, body)
                return body

            async def phase(seed_: int) -> list[str]:
                """Creates, then per comment a chain of votes and edits; the chains run concurrently."""
                rng = random.Random(seed_)
                comments = []
                for i in range(COMMENTS):
                    body = await post("/api/comment", "alice", thing_id=THREAD, text=f"phase {seed_} comment {i}")
                    comments.append(body["json"]["data"]["things"][0]["data"]["name"])
                clock.now += 400  # edits leave an edit mark

                async def chain(fullname: str) -> None:
                    for n, voter in enumerate(rng.sample(VOTERS, WRITES)):
                        if n % 4 == 3:
                            await post("/api/editusertext", "alice", thing_id=fullname, text=f"edit {n} of {fullname}")
                        else:
                            await post("/api/vote", voter, id=fullname, dir=str(rng.choice((1, 1, -1))))

                await asyncio.gather(*(chain(c) for c in comments))
                await settle(proxy, sent, timeout=60)

                async def all_stored() -> bool:
                    return len(await stored_counts(jobs.results_dsn)) >= sent
                await wait_for(all_stored, timeout=120)
                return comments

            await start_workers(1)
            one = await _verdicts(jobs.results_dsn, await phase(1))
            await stop_workers()
            await start_workers(4)
            four = await _verdicts(jobs.results_dsn, await phase(2))
            await stop_workers()

        writes = COMMENTS * (WRITES + 1)
        for verdicts in (one, four):
            if verdicts["mismatch"]:
                for ex in await _examples(jobs.results_dsn, "mismatch"):
                    print("EXAMPLE", ex)
            assert sum(verdicts.values()) == writes * 6, verdicts  # every path of every write has its verdict
            assert verdicts["mismatch"] == 0, (verdicts, await _examples(jobs.results_dsn, "mismatch"),
                                               await _examples(jobs.results_dsn, "raced"))
        share_one = one["raced"] / sum(one.values())
        share_four = four["raced"] / sum(four.values())
        print(f"\nraced share: 1 worker {share_one:.1%} {dict(one)}; 4 workers {share_four:.1%} {dict(four)}")
        if share_four > share_one + 0.005:
            for ex in await _examples(jobs.results_dsn, "raced"):
                print("RACED", ex)
        assert share_four <= share_one + 0.005, (one, four)
    finally:
        await stop_workers()
        for runner in reversed(runners):
            await runner.cleanup()
