"""`tapcompare report ...` end to end on a real results database; the app owning its store with
retention; Prometheus series and the Grafana dashboard that reads them."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import click
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from prometheus_client import CollectorRegistry, generate_latest

from config import settings_from_mapping
from diff_reports.grouping import signature
from diff_reports.metrics import ALL_PATHS, VerdictMetrics, track_writer
from results.store.store import ResultsStore
from results.store.writer import ResultsWriter
from diff_reports.types import VerdictKind
from results.ui.app import create_app
from sister_stores.databases import drop_database
from tapcompare.commands.report import report, results_dsn
from tests.reports.factories import body_mismatch, simple, ttl_mismatch
from tests.reports.seed import TOKEN, seed_results
from tests.support.stores import run

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "tapcompare.json"


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    ctx.ensure_object(dict)["config_path"] = None


cli.add_command(report)


def _seed(dsn: str) -> None:
    async def go() -> None:
        store = await ResultsStore.open(dsn)
        try:
            await seed_results(store)
        finally:
            await store.close()
    run(go())


def test_cli_groups_accept_fix_export(results_dsn: str, tmp_path: Path) -> None:
    _seed(results_dsn)
    env = {"TAPCOMPARE_REPORTS__RESULTS_DSN": results_dsn}
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(cli, ["report", *args], env=env, catch_exceptions=False)
        return result

    listed = invoke("groups", "--json", "--verdict", "mismatch")
    assert listed.exit_code == 0, listed.output
    ids = {g["id"] for g in json.loads(listed.output)["groups"]}
    body, ttl = signature(body_mismatch("x")).fingerprint, signature(ttl_mismatch("x")).fingerprint
    assert ids == {body, ttl}

    assert invoke("accept", body, "--reason", "legacy quirk", "--by", "ana").exit_code == 0
    bad = invoke("fix", ttl, "--version", "0.9")
    assert bad.exit_code == 1 and "seen on version 1.0.0" in bad.output
    assert invoke("fix", ttl, "--version", "1.1").exit_code == 0
    rules = json.loads(invoke("rules").output)
    assert [r["applies_to"] for r in rules] == [["update.postgres.parity"]]
    assert "accepted" in invoke("groups", "--status", "accepted").output

    out = tmp_path / "report.xml"
    failing = invoke("export", "--format", "junit", "--out", str(out), "--fail-on-unresolved")
    assert failing.exit_code == 1 and out.exists()  # create.response still has open shadow errors
    assert "1 failing path(s)" in failing.output
    md = invoke("export", "--format", "md", "--out", str(tmp_path / "r.md"), "--path", "create.memcached.parity")
    assert md.exit_code == 0 and "| `create.memcached.parity` | ✅ pass |" in (tmp_path / "r.md").read_text()


def test_results_dsn_defaults_to_the_sister_server(stores) -> None:
    def addrs(a):
        return {"local": False, "postgres": a.postgres, "memcached": a.memcached, "redis": a.redis}

    name = f"results_{uuid.uuid4().hex[:8]}"
    settings = settings_from_mapping({"stores": {"production": addrs(stores.production), "sister": addrs(stores.sister)},
                                      "reports": {"results_database": name}})
    dsn = results_dsn(settings)
    assert dsn == stores.sister.with_database(name).postgres
    explicit = settings_from_mapping({"reports": {"results_dsn": "postgresql://x@db:5432/r"}})
    assert results_dsn(explicit) == "postgresql://x@db:5432/r"

    async def go() -> None:
        from results.store.store import ensure_database
        assert await ensure_database(dsn) is True
        assert await ensure_database(dsn) is False
    try:
        run(go())
    finally:
        run(drop_database(dsn))


async def test_app_owns_its_store_and_purges_past_retention(results_dsn: str) -> None:
    seeded = await ResultsStore.open(results_dsn)
    await seeded.write_batch([(simple("info", VerdictKind.MATCH, "old", at=time.time() - 90 * 86400), None),
                              (simple("info", VerdictKind.MATCH, "new"), None)])
    app = create_app(None, TOKEN, dsn=results_dsn, retention_days=30)
    async with TestClient(TestServer(app)) as client:
        deadline = time.monotonic() + 10
        while await seeded.pool.fetchval("SELECT count(*) FROM results") != 1:
            assert time.monotonic() < deadline, "retention purge did not run"
            await asyncio.sleep(0.05)
        resp = await client.get("/api/overview", headers={"Authorization": f"Bearer {TOKEN}"})
        assert (await resp.json())["total"] == 1
    await seeded.close()


async def test_prometheus_series_and_dashboard(results_store: ResultsStore) -> None:
    registry = CollectorRegistry()
    metrics = VerdictMetrics(registry)
    writer = ResultsWriter(results_store, batch_size=5, max_pending=5, observe=metrics.observe)
    track_writer(registry, writer)
    for r in (body_mismatch("a", timings={"legacy_s": 0.01, "new_s": 0.02}), simple("read.info.response", VerdictKind.MATCH, "b")):
        await writer.record(r)
    await writer.close()
    text = generate_latest(registry).decode()
    assert 'tapcompare_verdicts_total{endpoint="update",path="update.postgres.parity",verdict="mismatch"} 1.0' in text
    assert 'tapcompare_verdicts_total{endpoint="create",path="create.redis_cdc.legacy_read",verdict="match"} 0.0' in text
    assert 'tapcompare_differences_total{kind="removed",path="update.postgres.parity"} 1.0' in text
    assert 'tapcompare_side_latency_seconds_count{endpoint="update",side="new"} 1.0' in text
    assert "tapcompare_results_written_total 2.0" in text and "tapcompare_results_pending 0.0" in text
    assert len(ALL_PATHS) == 24

    # the module pulls in no network client
    probe = subprocess.run([sys.executable, "-c", "import sys, diff_reports.metrics; "
                            "print([m for m in ('aiohttp', 'asyncpg', 'redis', 'pymemcache') if m in sys.modules])"],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "[]"

    # every series the dashboard queries exists, with the labels it groups by
    dash = json.loads(DASHBOARD.read_text())
    exposed = set(re.findall(r"^(tapcompare_[a-z_]+?)(?:_bucket|_count|_sum)?[{ ]", text, re.M))
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"tapcompare_[a-z_]+", e)}
    assert used and used <= exposed | {n + "_bucket" for n in exposed}, used - exposed
    for e in exprs:
        for labels in re.findall(r"by \(([^)]*)\)", e):
            assert set(map(str.strip, labels.split(","))) <= {"path", "endpoint", "verdict", "kind", "side", "le"}
    assert {p["gridPos"]["y"] for p in dash["panels"]} and all(p["datasource"] for p in dash["panels"])
