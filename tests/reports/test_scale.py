"""100,000 results (bulk COPY): the overview, the group list and the JSON export stay fast.
The times are printed; the bound asserted is generous so a slow CI box does not flake."""

from __future__ import annotations

import datetime as dt
import random
import time

from aiohttp.test_utils import TestClient, TestServer

from results.store.report import build_report
from diff_reports.grouping import endpoint_of
from results.store.queries import known_paths
from results.store.store import ResultsStore
from diff_reports.types import Difference, VerdictKind, VerdictRecord
from results.ui.app import create_app
from tests.reports.seed import TOKEN

N = 100_000


async def test_overview_on_100k_results(results_store: ResultsStore, capsys) -> None:
    rng = random.Random(7)
    paths = known_paths()
    # 60 real groups through the normal write path, then 100k lean results referencing them
    seeds = [VerdictRecord(path=paths[i % len(paths)], verdict=VerdictKind.MISMATCH, request_id=f"g{i}",
                           differences=(Difference(f"data.field_{i}", "changed", 1, 2),)) for i in range(60)]
    await results_store.write_batch([(r, "1.0.0") for r in seeds])
    async with results_store.pool.acquire() as conn:
        groups = [(r["id"], r["path"]) for r in await conn.fetch("SELECT id, path FROM mismatch_groups")]
    now = dt.datetime.now(dt.timezone.utc)
    verdicts = ["match"] * 90 + ["mismatch"] * 4 + ["ignored"] * 2 + ["raced"] * 2 + ["shadow_error", "skipped"]
    rows = []
    for i in range(N):
        verdict = rng.choice(verdicts)
        gid, path = rng.choice(groups) if verdict == "mismatch" else (None, rng.choice(paths))
        legacy = rng.lognormvariate(2.3, 0.5)
        rows.append((now - dt.timedelta(seconds=rng.randrange(7 * 86400)), path, endpoint_of(path), verdict, gid,
                     f"req{i}", None, "1.0.0", legacy, legacy * rng.uniform(0.6, 1.3), 4, rng.choice((2, 3))))
    t0 = time.perf_counter()
    async with results_store.pool.acquire() as conn:
        await conn.copy_records_to_table("results", records=rows, columns=(
            "at", "path", "endpoint", "verdict", "group_id", "request_id", "entity", "version",
            "legacy_ms", "new_ms", "legacy_sql", "new_sql"))
        await conn.execute("ANALYZE results")
    load_s = time.perf_counter() - t0

    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with TestClient(TestServer(create_app(results_store.pool, TOKEN))) as client:
        timings = {}
        for name, url in (("overview", "/"), ("overview 24h", "/?window=24h"),
                          ("groups", "/groups?sort=last_seen"), ("groups 24h mismatch", "/groups?window=24h&verdict=mismatch"),
                          ("overview one path", f"/?path={paths[0]}")):
            t0 = time.perf_counter()
            resp = await client.get(url, headers=headers)
            body = await resp.text()
            timings[name] = time.perf_counter() - t0
            assert resp.status == 200, body[:500]
        assert 'data-card="results"' in body
    t0 = time.perf_counter()
    report = await build_report(results_store.pool)
    timings["json report"] = time.perf_counter() - t0
    assert report["total"] == N + 60

    with capsys.disabled():
        print(f"\n100k results: COPY {load_s:.2f}s; " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()))
    assert max(timings.values()) < 10.0  # generous: typically well under a second
