"""`tapcompare ramp advise` through the real CLI (a subprocess), against the real ramp Redis (the
step set with `tapcompare ramp set`, so the audit trail says when) and a real results database
whose verdicts went through the real batching writer."""

from __future__ import annotations

import json
import time

import redis.asyncio as aioredis

from diff_reports.types import Difference, VerdictKind, VerdictRecord
from results.advice.endpoints import endpoint_paths
from results.store.store import ResultsStore
from results.store.writer import ResultsWriter
from shadow_proxy.audit import RampKeys, recent_audit
from tests.ramp.conftest import REPO

ARTIFACTS = REPO / "test-artifacts" / "ramp"


async def write(store: ResultsStore, records: list[VerdictRecord]) -> None:
    writer = ResultsWriter(store, version="2.0.0", batch_size=2000, max_pending=100_000)
    writer.start()
    for r in records:
        assert writer.submit(r)
    await writer.close()
    assert writer.stats.written == len(records) and writer.stats.failed == 0


def verdicts(endpoint: str, n: int, at: float, *, mismatches: int = 0, latency: tuple[float, float] = (12.0, 11.0)
             ) -> list[VerdictRecord]:
    """n verdicts on each of the endpoint's paths, the first `mismatches` of each store path mismatching."""
    out = []
    for path in endpoint_paths(endpoint):
        for i in range(n):
            timings = {}
            if path.endswith(".response"):
                # the same spread on both sides, shifted by `latency`: p50 and p99 follow it
                timings = {"legacy_ms": latency[0] + i % 10, "new_ms": latency[1] + (i * 7) % 10,
                           "legacy_sql": 10, "new_sql": 6}
            bad = i < mismatches and not path.endswith(".response")
            out.append(VerdictRecord(
                path=path, verdict=VerdictKind.MISMATCH if bad else VerdictKind.MATCH, entity=f"t1_{i:x}",
                request_id=f"{endpoint}-{i}", timings=timings, created_at=at + i * 0.001,
                differences=(Difference("ttl", "changed", 43200, 3600),) if bad else ()))
    return out


async def test_advise_reads_the_step_from_the_audit_trail_and_the_verdicts_since(cli, results_store: ResultsStore,
                                                                                stores) -> None:
    before = time.time() - 600
    # 10 minutes ago, at another percentage: mismatches that the current step must not count
    await write(results_store, verdicts("create", 200, before, mismatches=50))
    for endpoint, pct in (("create", "5"), ("update", "25"), ("info", "1")):
        done = cli("ramp", "set", endpoint, pct, "--why", "next step")
        assert done.returncode == 0, done.stderr
    redis = aioredis.from_url(stores.sister.redis)
    try:
        audit = {a.endpoint: a for a in await recent_audit(redis, RampKeys(), 10)}
    finally:
        await redis.aclose()
    step_start = audit["create"].at
    now = time.time()
    assert step_start > before
    # at this step: create clean (4,000 per path: 0 of 4,000 is 0.075% < 0.1%), update 10 of 1,000 mismatching
    await write(results_store, verdicts("create", 4000, now) + verdicts("update", 1000, now, mismatches=10))

    done = cli("ramp", "advise", "--json")
    assert done.returncode == 0, done.stderr
    advice = {a["endpoint"]: a for a in json.loads(done.stdout)["advice"]}
    create = advice["create"]
    assert create["decision"] == "go", create["reasons"]
    assert create["reasons"] == ["go: 0 mismatches in 28,000 samples, upper bound at most 0.075% < 0.1% on all 7 paths"]
    assert create["step"] == {"pct": 5.0, "since": step_start}
    assert [p["samples"] for p in create["paths"]] == [4000] * 7  # the 200 from before the step are left out
    assert create["legacy_sql"] == 10 and create["new_sql"] == 6
    assert create["latency"]["test"]["n1"] == 4000 and not create["latency"]["regression"]

    update = advice["update"]
    assert update["decision"] == "roll back"
    assert update["reasons"][0] == ("roll back: update.postgres.parity has 10 mismatches in 1,000 samples, so its "
                                    "failure rate is above 0.1% with 95% confidence (lower bound 0.54%)")
    # the mismatches form one open group per store path, which holds as well
    assert any(r.startswith("hold: 6 open groups seen at this step need review") for r in update["reasons"])

    info = advice["info"]
    assert info["decision"] == "hold"
    assert info["reasons"] == ["hold: 1 of 1 paths not yet exercised at this step: read.info.response"]
    # never set: no audit entry, and at 0% nothing is judged
    assert advice["comments"]["step"] == {"pct": 0.0, "since": None}
    assert advice["comments"]["decision"] == "hold" and "is at 0%" in advice["comments"]["reasons"][0]

    # the text a person reads: one table per endpoint and the decision lines
    done = cli("ramp", "advise")
    assert done.returncode == 0, done.stderr
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "advise.txt").write_text(done.stdout, encoding="utf-8")
    assert "create at 5% for" in done.stdout
    assert "go: 0 mismatches in 28,000 samples" in done.stdout
    assert "create.redis_cdc.legacy_read" in done.stdout and "SQL statements per request: rewrite 6.0 vs legacy 10.0" in done.stdout
    assert cli("ramp", "advise", "create", "--fail-unless-go").returncode == 0
    assert cli("ramp", "advise", "update", "--fail-unless-go").returncode == 1

    # the ramp pages as one self-contained HTML file: plots inline, no external URL
    out = ARTIFACTS / "ramp-export.html"
    done = cli("ramp", "export", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "create go" in done.stdout and "update roll back" in done.stdout
    html = out.read_text(encoding="utf-8")
    assert html.count('<figure class="plot" data-plot="pct">') == 6
    assert 'data-endpoint="update" data-decision="roll back"' in html
    assert "http://" not in html and "https://" not in html and "src=" not in html


async def test_advise_says_what_is_missing(cli, stores, results_dsn: str) -> None:
    # the results database exists (fixture) but was never migrated: no tables
    done = cli("ramp", "advise", "info")
    assert done.returncode == 1
    assert "run `tapcompare stores prepare`" in done.stderr
    done = cli("ramp", "advise", "nope")
    assert done.returncode == 2 and "nope" in done.stderr
