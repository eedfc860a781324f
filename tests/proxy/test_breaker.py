"""The rewrite's circuit breaker: a dead rewrite is not connected to while open, the primaries stay
byte-identical, the skipped shadows are `shadow_error` with reason `circuit_open`, and the breaker
closes once the rewrite answers again. Plus the breaker's own states and the validation breaker."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from diff_reports.types import Observation, VerdictKind, VerdictRecord
from judge.breaker import CIRCUIT_OPEN, Breaker, BreakerConfig, State
from judge.runner import JobRunner
from shadow_proxy.audit import RampKeys
from shadow_proxy.links import LinkIndex
from tests.proxy.conftest import EqualityComparator, metric, set_ramp, settle
from tests.proxy.test_isolation import primaries
from tests.support.waiting import eventually
from traffic.shadowed import CapturedRequest, ComparisonJob

PATH = "read.comments.response"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_probes_and_closes() -> None:
    clock = Clock()
    b = Breaker("rewrite", BreakerConfig(failures=3, open_s=1.0, max_open_s=3.0), clock=clock)
    for _ in range(2):
        assert b.allow()
        b.failure()
    assert b.state is State.CLOSED
    b.failure()
    assert b.state is State.OPEN and not b.allow()
    clock.now += 1.0
    assert b.allow() and b.state is State.HALF_OPEN
    assert not b.allow()  # one probe at a time
    b.failure()           # the probe failed: open twice as long
    clock.now += 1.5
    assert not b.allow()
    clock.now += 0.5
    assert b.allow()
    b.success()
    assert b.state is State.CLOSED and b.allow() and b.failures == 0


async def refusing_rewrite() -> tuple[asyncio.Server, list[int], str]:
    """A rewrite that is down: it accepts the connection and closes it at once, counting each."""
    accepted: list[int] = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, accepted, f"http://127.0.0.1:{port}"


async def test_a_down_rewrite_is_not_called_while_the_breaker_is_open(proxy_factory, legacy, client) -> None:
    server, accepted, url = await refusing_rewrite()
    try:
        async with proxy_factory(legacy.url, url, breaker_failures=3, breaker_open_s=60.0) as proxy:
            await set_ramp(proxy, comments=100)
            direct = await primaries(client, legacy.url, 10)
            assert await primaries(client, proxy.url, 10) == direct
            await settle(proxy, 10)
            assert proxy.runtime.rewrite_breaker.state is State.OPEN
            connections = len(accepted)
            assert await primaries(client, proxy.url, 10) == direct
            await settle(proxy, 20)
            assert len(accepted) == connections  # not one connection while open
            records = [r for r in proxy.sink.records if r.path == PATH]
            assert len(records) == 20 and all(r.verdict is VerdictKind.SHADOW_ERROR for r in records)
            skipped = sum(r.reason == CIRCUIT_OPEN for r in records)
            assert 3 <= 20 - skipped < 10  # calls made: the failures that opened it (4 shadow workers)
            assert metric(proxy, "tapcompare_proxy_breaker_state", dependency="rewrite") == State.OPEN
            assert metric(proxy, "tapcompare_proxy_breaker_rejected_total", dependency="rewrite") == skipped
    finally:
        server.close()
        await server.wait_closed()


async def test_the_breaker_closes_when_the_rewrite_answers_again(proxy_factory, legacy, new, client) -> None:
    new.state.mode = "stall"
    async with proxy_factory(legacy.url, new.url, shadow_timeout_s=0.2, breaker_failures=2,
                             breaker_open_s=0.3) as proxy:
        await set_ramp(proxy, comments=100)
        breaker = proxy.runtime.rewrite_breaker
        direct = await primaries(client, legacy.url, 4)
        assert await primaries(client, proxy.url, 4) == direct
        await settle(proxy, 4)
        assert breaker.state is State.OPEN
        new.state.mode = "same"
        new.state.release.set()
        sent = 4

        async def one_more() -> int:
            nonlocal sent
            assert await primaries(client, proxy.url, 1) == direct[:1]
            sent += 1
            await settle(proxy, sent)
            return proxy.sink.count(PATH, "match")

        await eventually(one_more, timeout=5.0, every=0.05, what="a match after the back-off")
        assert breaker.state is State.CLOSED
        assert metric(proxy, "tapcompare_proxy_breaker_state", dependency="rewrite") == State.CLOSED
        assert metric(proxy, "tapcompare_proxy_breaker_opened_total", dependency="rewrite") >= 1


class DownStores:
    def __init__(self) -> None:
        self.calls = 0

    async def validate(self, write: ComparisonJob) -> list[VerdictRecord]:
        self.calls += 1
        raise ConnectionRefusedError("sister postgres down")


async def test_validation_breaker_skips_the_store_reads_while_open() -> None:
    stores = DownStores()
    runner = JobRunner(EqualityComparator(), stores, lambda op, exc: None, recheck=None, validate_timeout_s=1.0,
                       validation_breaker=Breaker("sister_stores", BreakerConfig(failures=2, open_s=60.0)))
    seen: list[VerdictRecord] = []

    async def emit(endpoint: str, record: VerdictRecord) -> None:
        seen.append(record)

    value = {"status": 200, "body": {}}
    job = ComparisonJob(job_id="j", kind="write", endpoint="increment", request_id="r", path="increment.response",
                        entity="t1_1", link="t3_a", request=CapturedRequest("POST", "/api/vote", (), b""),
                        legacy=Observation("legacy", value), new=Observation("new", value), legacy_status=200)
    try:
        for _ in range(4):
            await runner.run(job, emit)
    finally:
        runner.close()
    assert stores.calls == 2
    store_paths = [r for r in seen if r.path != "increment.response"]
    assert len(store_paths) == 4 * 6 and all(r.verdict is VerdictKind.UNAVAILABLE for r in store_paths)
    assert sum(r.reason == CIRCUIT_OPEN for r in store_paths) == 2 * 6


async def test_a_down_control_redis_is_not_asked_for_links_while_open() -> None:
    server, accepted, url = await refusing_rewrite()
    redis = aioredis.from_url(url.replace("http://", "redis://"), socket_connect_timeout=1.0)
    links = LinkIndex(redis, RampKeys("tapcompare"), 10, breaker=Breaker("control_redis", BreakerConfig(2, 60.0)))
    try:
        for _ in range(2):
            with pytest.raises(Exception):
                await links.link_of("t1_9")
        connections = len(accepted)
        await links.learn({"kind": "t1", "data": {"name": "t1_5", "link_id": "t3_b"}})  # the local cache only
        assert [await links.link_of("t1_9"), await links.link_of("t1_5")] == [None, "t3_b"]
        assert len(accepted) == connections
    finally:
        await redis.aclose()
        server.close()
        await server.wait_closed()
