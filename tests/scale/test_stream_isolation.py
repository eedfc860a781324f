"""Stream mode (the judge in `tapcompare worker`): whatever the rewrite does, the primaries stay
byte-identical and every sampled exchange is published as a job (a down rewrite's behind its
open breaker as `circuit_open`)."""

from __future__ import annotations

import pytest

from judge.breaker import CIRCUIT_OPEN, State
from tests.proxy.conftest import metric, set_ramp, settle
from tests.proxy.test_isolation import primaries
from tests.scale.conftest import Jobs

N = 12


@pytest.mark.parametrize("mode", ["down", "stall", "500", "garbage"])
async def test_stream_mode_primaries_unchanged_whatever_the_rewrite_does(proxy_factory, legacy, new, client,
                                                                        jobs: Jobs, mode: str) -> None:
    new.state.mode = mode
    new_url = "http://127.0.0.1:9" if mode == "down" else new.url
    async with proxy_factory(legacy.url, new_url, **jobs.proxy_overrides(shadow_timeout_s=0.2,
                                                                          breaker_failures=3)) as proxy:
        await set_ramp(proxy, comments=100)
        direct = await primaries(client, legacy.url, N)
        assert await primaries(client, proxy.url, N) == direct
        await settle(proxy, N)
        assert metric(proxy, "tapcompare_jobs_published_total", endpoint="comments") == N
        open_ = proxy.runtime.rewrite_breaker.state is State.OPEN
        assert open_ == (mode in ("down", "stall"))
        if open_:
            skipped = metric(proxy, "tapcompare_proxy_shadow_seconds_count", endpoint="comments", outcome=CIRCUIT_OPEN)
            assert 0 < skipped <= N - 3
