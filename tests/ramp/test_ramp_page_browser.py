"""The ramp page in headless Chromium: the advisor's decision and the server-side SVG plots over
time (shadow percentage from the trail, match rate with decision marks, rates per path, latency),
in light and dark; the overview's trend lines. Screenshots in test-artifacts/ramp/."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from typing import AsyncIterator

import orjson
from aiohttp import web

from config.settings import RampPolicySettings
from diff_reports.types import Difference, VerdictKind, VerdictRecord
from results.advice.endpoints import endpoint_paths
from results.advice.trail import RampChange, StaticTrail
from results.store.store import ResultsStore
from results.ui.app import create_app
from tests.ramp.test_advise_cli import ARTIFACTS, write

TOKEN = "test-report-token"


@asynccontextmanager
async def running(store: ResultsStore, trail: StaticTrail) -> AsyncIterator[str]:
    app = create_app(store.pool, TOKEN, ramp_trail=trail, ramp_policy=RampPolicySettings(min_step_minutes=5))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def seeded(now: float) -> tuple[StaticTrail, list[VerdictRecord]]:
    """create at 1% 40 min ago, 5% 25 min ago, 25% 10 min ago; a mismatch burst at 5%."""
    steps = [(now - 2400, 0, 1), (now - 1500, 1, 5), (now - 600, 5, 25)]
    trail = StaticTrail({"create": 25}, [RampChange(at, "create", a, b, "cli:ana", "next step") for at, a, b in steps])
    records = []
    for minute in range(40):
        at = now - 2400 + minute * 60 + 1
        per_minute = 5 + minute * 3
        for i in range(per_minute):
            for path in endpoint_paths("create"):
                bad = 15 <= minute < 20 and i == 0 and path == "create.memcached.parity"
                timings = ({"legacy_ms": 20.0 + i % 5, "new_ms": 12.0 + i % 4, "legacy_sql": 10, "new_sql": 6}
                           if path == "create.response" else {})
                records.append(VerdictRecord(
                    path=path, verdict=VerdictKind.MISMATCH if bad else VerdictKind.MATCH, entity=f"t1_{i}",
                    request_id=f"m{minute}-{i}", timings=timings, created_at=at + i * 0.01,
                    differences=(Difference("ttl", "changed", 43200, 3600),) if bad else ()))
    return trail, records


async def test_ramp_page_plots_and_decision(results_store: ResultsStore, browser) -> None:
    now = time.time()
    trail, records = seeded(now)
    await write(results_store, records)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with running(results_store, trail) as base:
        for scheme in ("light", "dark"):
            context = await browser.new_context(viewport={"width": 1600, "height": 1100}, color_scheme=scheme)
            page = await context.new_page()
            try:
                await page.goto(f"{base}/ramp/create?token={TOKEN}")
                section = page.locator("section.advice")
                # 10 minutes at 25%: 0 mismatches in each path's samples of this step
                assert await section.get_attribute("data-decision") in ("go", "hold")
                assert "create at 25%" in await section.locator("h2").inner_text()
                assert await section.locator("table.advice-paths tbody tr").count() == 7
                pct = page.locator('figure[data-plot="pct"] g.series')
                # the steps of the trail (a bucket-aligned start may show the 0% before the first)
                assert (await pct.get_attribute("data-values")).split(" ")[-3:] == ["1", "5", "25"]
                match = page.locator('figure[data-plot="match"]')
                values = (await match.locator("g.series").get_attribute("data-values")).split(" ")
                known = [float(v) for v in values if v]
                assert len(known) >= 39 and min(known) < 100 and max(known) == 100  # the burst dips below 100%
                decisions = await match.locator("g.mark").evaluate_all("ms => ms.map(m => m.dataset.decision)")
                assert len(decisions) >= 39
                # during the mismatch burst at 5% the advisor rolled back or held; never go then
                assert "rollback" in decisions or "hold" in decisions
                per_path = page.locator('figure[data-plot="paths"] g.series')
                names = await per_path.evaluate_all("gs => gs.map(g => g.dataset.series)")
                assert names == endpoint_paths("create")
                burst = await page.locator('figure[data-plot="paths"] g.series[data-series="create.memcached.parity"]'
                                           ).get_attribute("data-values")
                assert any(float(v) > 0 for v in burst.split(" ") if v)
                latency = page.locator('figure[data-plot="latency"] g.series')
                assert await latency.evaluate_all("gs => gs.map(g => g.dataset.series)") == [
                    "legacy p50", "rewrite p50", "legacy p99", "rewrite p99"]
                legacy_p50 = [float(v) for v in (await latency.nth(0).get_attribute("data-values")).split(" ") if v]
                new_p50 = [float(v) for v in (await latency.nth(1).get_attribute("data-values")).split(" ") if v]
                assert legacy_p50 and all(20 <= v <= 24 for v in legacy_p50) and all(12 <= v <= 15 for v in new_p50)
                assert await page.locator('figure[data-plot="latency"] polyline').count() == 4
                sql = page.locator('figure[data-plot="sql"] g.series')
                assert {v for v in (await sql.nth(0).get_attribute("data-values")).split(" ") if v} == {"10"}
                await page.screenshot(path=str(ARTIFACTS / f"ramp-create-{scheme}.png"), full_page=True)

                await page.goto(f"{base}/?token={TOKEN}")
                spark = page.locator('tr[data-path="create.memcached.parity"] svg.spark')
                assert await spark.count() == 1
                assert any(float(v) < 1 for v in (await spark.get_attribute("data-values")).split(" ") if v)
                assert await page.locator('tr[data-path="increment.response"] svg.spark').count() == 0  # no data
                await page.screenshot(path=str(ARTIFACTS / f"overview-trends-{scheme}.png"), full_page=True)

                await page.goto(f"{base}/ramp?token={TOKEN}")
                assert await page.locator("section.advice").count() == 6
                await page.screenshot(path=str(ARTIFACTS / f"ramp-all-{scheme}.png"), full_page=True)
            finally:
                await context.close()
        # the same advice as JSON for scripts
        context = await browser.new_context()
        try:
            response = await context.request.get(f"{base}/api/ramp/advice/create?token={TOKEN}")
            assert response.status == 200
            body = orjson.loads(await response.body())
            assert [a["endpoint"] for a in body["advice"]] == ["create"]
            assert body["advice"][0]["step"]["pct"] == 25
            assert (await context.request.get(f"{base}/api/ramp/advice/nope?token={TOKEN}")).status == 404
        finally:
            await context.close()
