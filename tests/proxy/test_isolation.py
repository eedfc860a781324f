"""Whatever the new service does, the primary is unchanged and not slowed; the queue stays bounded."""

from __future__ import annotations

import asyncio
import time

import pytest

from judge.recheck import DEFAULT_ROUNDS
from tests.proxy.conftest import metric, set_ramp, settle

N = 20


async def primaries(client, base: str, n: int = N) -> list[tuple[int, bytes]]:
    out = []
    for i in range(n):
        async with client.get(f"{base}/comments/a?n={i % 2}") as resp:
            out.append((resp.status, await resp.read()))
    return out


@pytest.mark.parametrize("mode", ["down", "500", "garbage"])
async def test_primary_unchanged_when_new_service_fails(proxy_factory, legacy, new, client, mode) -> None:
    new_url = "http://127.0.0.1:9" if mode == "down" else new.url
    new.state.mode = mode
    async with proxy_factory(legacy.url, new_url) as proxy:
        await set_ramp(proxy, comments=100)
        direct = await primaries(client, legacy.url)
        assert await primaries(client, proxy.url) == direct
        await settle(proxy, N)
        expected = "mismatch" if mode == "garbage" else "shadow_error"
        assert proxy.sink.count("read.comments.response", expected) == N
        assert proxy.sink.count() == N


async def test_stalled_new_service_neither_delays_primary_nor_grows_queue(proxy_factory, legacy, new, client) -> None:
    new.state.mode = "stall"
    async with proxy_factory(legacy.url, new.url, shadow_timeout_s=30.0, queue_size=4, shadow_workers=2) as proxy:
        await set_ramp(proxy, comments=100)
        started = time.perf_counter()
        results = await asyncio.gather(*(primaries(client, proxy.url, 5) for _ in range(4)))
        elapsed = time.perf_counter() - started
        # Every primary answered while the new service is still stalled (it stalls until released).
        assert not new.state.release.is_set()
        assert all(status == 200 for batch in results for status, _ in batch)
        assert elapsed < 5.0
        await proxy.runtime.forwarder.wait_completed(N)
        queue = proxy.runtime.queue
        assert queue.depth() <= 4
        # 2 in flight at the workers + 4 queued at most; the rest were shed and counted.
        assert queue.dropped >= N - 6
        assert metric(proxy, "tapcompare_proxy_shadow_dropped_total", endpoint="comments") == queue.dropped
        assert metric(proxy, "tapcompare_proxy_shadow_queue_depth") <= 4
        new.state.release.set()
        await settle(proxy, N)
        assert proxy.sink.count("read.comments.response") == N - queue.dropped


async def test_shadow_timeout_is_a_shadow_error(proxy_factory, legacy, new, client) -> None:
    new.state.mode = "stall"
    async with proxy_factory(legacy.url, new.url, shadow_timeout_s=0.2) as proxy:
        await set_ramp(proxy, comments=100)
        assert await primaries(client, proxy.url, 2) == await primaries(client, legacy.url, 2)
        await settle(proxy, 2)
        records = [r for r in proxy.sink.records if r.path == "read.comments.response"]
        assert [r.verdict.value for r in records] == ["shadow_error", "shadow_error"]
        assert "TimeoutError" in (records[0].reason or "")


async def test_broken_comparator_and_sink_never_reach_the_primary(proxy_factory, legacy, new, client) -> None:
    raised: list[str] = []
    async with proxy_factory(legacy.url, new.url) as proxy:
        class Boom:
            def compare(self, *a, **k):
                raise RuntimeError("comparator bug")
        proxy.runtime.runner.comparator = Boom()
        proxy.runtime._user_raised = lambda op, exc: raised.append(op)
        await set_ramp(proxy, comments=100)
        assert await primaries(client, proxy.url, 3) == await primaries(client, legacy.url, 3)
        await settle(proxy, 3)
        assert raised == ["compare"] * 3
        # every exception is a verdict: unavailable, with the reason
        assert [r.verdict.value for r in proxy.sink.records] == ["unavailable"] * 3
        assert all("comparator bug" in (r.reason or "") for r in proxy.sink.records)
        assert metric(proxy, "tapcompare_proxy_shadow_raised_total", operation="compare") == 3


async def test_read_bug_while_the_legacy_moves_stays_a_mismatch(proxy_factory, legacy, new, client) -> None:
    async with proxy_factory(legacy.url, new.url) as proxy:
        await set_ramp(proxy, comments=100)
        new.state.mode = "different"
        await primaries(client, proxy.url, 1)  # legacy steady: a real mismatch stays one
        await settle(proxy, 1)
        legacy.state.drift = True              # now every legacy answer differs from the previous one
        await primaries(client, proxy.url, 1)
        await settle(proxy, 2)
        # the bug (a body and a score the legacy never had) is not what changed at the legacy
        assert [r.verdict.value for r in proxy.sink.records] == ["mismatch", "mismatch"]
        rechecked = proxy.sink.records[1]
        assert "never agreed" in (rechecked.reason or "")
        rounds = rechecked.context["recheck"]["rounds"]
        assert len(rounds) == DEFAULT_ROUNDS and all("rewrite_again_vs_legacy_again" in r for r in rounds)
        # the legacy's own answers were compared and differed (the writes that landed)
        assert all(r["legacy_vs_its_previous_answer"]["verdict"] == "mismatch" for r in rounds)


async def test_read_mismatch_explained_by_the_legacy_moving_is_raced(proxy_factory, legacy, new, client) -> None:
    async with proxy_factory(legacy.url, new.url) as proxy:
        await set_ramp(proxy, comments=100)
        legacy.state.drift = True
        new.state.ahead_of = legacy.state      # the rewrite already shows the write the legacy shows next
        await primaries(client, proxy.url, 1)
        await settle(proxy, 1)
        [record] = proxy.sink.records
        assert record.verdict.value == "raced", (record.reason, record.differences)
        assert "rewrite_again_vs_legacy_again" in record.context["recheck"]["rounds"][0]

async def test_a_comparator_that_reports_its_own_failure_still_reaches_raised(proxy_factory, legacy, new,
                                                                              client) -> None:
    from diff_reports.comparator import Comparator
    from diff_reports.normalise import Normaliser

    def broken(value, ctx):
        raise RuntimeError("bad processor")

    raised: list[str] = []
    async with proxy_factory(legacy.url, new.url) as proxy:
        proxy.runtime.runner.comparator = Comparator(normaliser=Normaliser([broken]))
        proxy.runtime._user_raised = lambda op, exc: raised.append(op)
        await set_ramp(proxy, comments=100)
        await primaries(client, proxy.url, 2)
        await settle(proxy, 2)
        assert [r.verdict.value for r in proxy.sink.records] == ["unavailable"] * 2
        assert raised == ["compare"] * 2
