"""The job codec, the bounded stream with its backlog metric and alert, and the /ready probes."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from diff_reports.types import Observation, VerdictKind, VerdictRecord
from judge.codec import decode, encode, job_id_for
from traffic.shadowed import CapturedRequest, ComparisonJob
from judge.breaker import Breaker, BreakerConfig, State
from judge.metrics import BacklogMetrics, PublisherMetrics
from judge.publisher import BacklogMonitor, JobPublisher, read_backlog
from tests.proxy.conftest import set_ramp
from tests.proxy.test_breaker import refusing_rewrite
from tests.scale.conftest import ALL, Jobs, stored_counts, wait_for


def job(i: int, body: object = None) -> ComparisonJob:
    req = CapturedRequest("POST", f"/api/vote?x={i}", (("X-Auth-User", "alice"), ("X-Tap-Secret", "forged")),
                          b"id=t1_1&dir=1\x00\xff")
    legacy = Observation("legacy", {"status": 200, "body": body if body is not None else {"n": i}}, duration_s=0.01)
    return ComparisonJob(job_id=job_id_for(f"r{i}", "info", req, legacy), kind="read", endpoint="info",
                         request_id=f"r{i}", path="read.info.response", entity="t1_1", link="t3_a", request=req,
                         legacy=legacy, new=Observation("new", error="TimeoutError: no answer"), legacy_status=200,
                         records=(VerdictRecord("read.info.response", VerdictKind.SKIPPED, reason="x"),))


def test_codec_round_trips_what_orjson_alone_refuses() -> None:
    odd = {"text": "lone \ud800 surrogate", "big": 2**70, "list": [1.5, None, True]}
    original = job(1, odd)
    back = decode(encode(original))
    assert back == original
    assert back.request.body == b"id=t1_1&dir=1\x00\xff"
    assert job(1).job_id == job(1).job_id != job(2).job_id


async def test_the_stream_stays_bounded_and_a_backlog_over_the_threshold_is_counted(jobs: Jobs, worker_factory):
    redis = aioredis.from_url(jobs.redis_url)
    registry = CollectorRegistry()
    raised: list[BaseException] = []
    publisher = JobPublisher(redis, jobs.stream, 100, PublisherMetrics(registry), lambda op, e: raised.append(e))
    monitor = BacklogMonitor(redis, jobs.stream, jobs.group, 50, BacklogMetrics(registry, 50))
    try:
        # The group exists before the stream overflows: Redis 7.0's own `lag` then counts the trimmed
        # entries forever (it exceeds XLEN); the monitor must still read the real backlog.
        await redis.xgroup_create(jobs.stream, jobs.group, id="0", mkstream=True)
        for i in range(1000):                     # no worker reading yet: everything waits
            assert await publisher.publish(job(i))
        length = await redis.xlen(jobs.stream)
        assert 100 <= length < 300, length        # MAXLEN ~100 trims whole stream nodes
        backlog = await monitor.sample()
        assert backlog.total == length and monitor.over
        assert registry.get_sample_value("tapcompare_jobs_backlog_exceeded_total") == 1
        assert registry.get_sample_value("tapcompare_jobs_backlog", {"kind": "backlog"}) == length

        await worker_factory("catch-up", batch=64)

        async def drained():
            return (await read_backlog(redis, jobs.stream, jobs.group)).total == 0

        await wait_for(drained, timeout=20)
        assert len(await stored_counts(jobs.results_dsn)) == length  # what the bound kept, each once
        assert (await monitor.sample()).total == 0 and not monitor.over
        assert registry.get_sample_value("tapcompare_jobs_backlog_exceeded_total") == 1
        assert not raised
    finally:
        await redis.aclose()


async def test_ready_probes(proxy_factory, legacy, new, client, jobs: Jobs, worker_factory) -> None:
    async with proxy_factory(legacy.url, new.url, **jobs.proxy_overrides()) as proxy:
        await set_ramp(proxy, **ALL)
        async with client.get(proxy.url + "/ready?strict=1") as resp:
            assert resp.status == 200
            assert await resp.json() == {"status": "ready", "checks": {"ramp_redis": "ok", "jobs_redis": "ok"}}
        await proxy.runtime.jobs.redis.aclose()
        proxy.runtime.jobs.redis = aioredis.from_url("redis://127.0.0.1:1")  # the jobs Redis is gone
        async with client.get(proxy.url + "/ready") as resp:
            assert resp.status == 200 and (await resp.json())["status"] == "degraded"  # still serves clients
        async with client.get(proxy.url + "/ready?strict=1") as resp:
            assert resp.status == 503

    running = await worker_factory("probe")
    async with TestClient(TestServer(running.service.app())) as probe:
        resp = await probe.get("/ready")
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["checks"] == {"jobs_redis": "ok", "results_db": "ok"}
        await running.service.store.pool.close()
        resp = await probe.get("/ready")
        assert resp.status == 503 and (await resp.json())["checks"]["results_db"] != "ok"


async def test_a_down_jobs_redis_is_not_connected_to_while_its_breaker_is_open() -> None:
    """The jobs Redis hangs up on every connection: after 2 failed publishes, none is tried."""
    server, accepted, url = await refusing_rewrite()
    redis = aioredis.from_url(url.replace("http://", "redis://"), socket_connect_timeout=1.0)
    metrics = PublisherMetrics(CollectorRegistry())
    raised: list[BaseException] = []
    breaker = Breaker("jobs_redis", BreakerConfig(failures=2, open_s=60.0))
    publisher = JobPublisher(redis, "tapcompare:jobs:breaker", 1000, metrics, lambda op, e: raised.append(e),
                             breaker=breaker)
    try:
        assert [await publisher.publish(job(i)) for i in range(2)] == [False, False]
        assert breaker.state is State.OPEN
        connections = len(accepted)
        assert [await publisher.publish(job(i)) for i in range(2, 6)] == [False] * 4
        assert len(accepted) == connections and len(raised) == 2
        assert metrics.failed.labels("info")._value.get() == 6  # each job counted, none silently lost
    finally:
        await redis.aclose()
        server.close()
        await server.wait_closed()
