"""Exports validated by real validators: JSON against docs/report.schema.json, JUnit against a
JUnit XSD (xmlschema), Markdown by content, HTML in Chromium with every network request refused."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import xmlschema

from results.export.formats import SCHEMA_FILE
from results.export.write import FORMATS
from results.store.report import export_report
from diff_reports.grouping import signature
from results.store.lifecycle import accept_group, fix_group
from results.store.store import ResultsStore
from tests.reports.factories import body_mismatch, ttl_mismatch
from tests.reports.seed import seed_results

XSD = Path(__file__).with_name("junit.xsd")


async def _seeded(store: ResultsStore) -> None:
    await seed_results(store, version="1.0.0")
    # one accepted, one fixed-then-regressed
    await accept_group(store.pool, signature(body_mismatch("x")).fingerprint, reason="known quirk", by="ana")
    gid = signature(ttl_mismatch("x")).fingerprint
    await fix_group(store.pool, gid, version="1.1.0", by="bo")
    await store.write_batch([(ttl_mismatch("late"), "1.1.0")])


async def test_every_format_validates(results_store: ResultsStore, tmp_path: Path, artifacts: Path) -> None:
    await _seeded(results_store)
    outs = {}
    for fmt in FORMATS:
        out = artifacts / f"report.{ 'xml' if fmt == 'junit' else fmt}"
        report = await export_report(results_store.pool, fmt, out)
        outs[fmt] = out

    data = json.loads(outs["json"].read_text())
    checker = jsonschema.FormatChecker()
    checker.checks("date-time", raises=ValueError)(lambda v: not isinstance(v, str) or bool(
        dt.datetime.fromisoformat(v.replace("Z", "+00:00")).tzinfo))
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()), format_checker=checker).validate(data)
    assert data["total"] == report["total"] == 136
    assert len(data["paths"]) == 24 and data["totals"]["mismatch"] == 11
    regressed = [g for g in data["groups"] if g["status"] == "regressed"]
    assert len(regressed) == 1 and regressed[0]["regressed_version"] == "1.1.0"
    assert data["rules"][0]["applies_to"] == ["update.postgres.parity"]

    xmlschema.XMLSchema(str(XSD)).validate(str(outs["junit"]))
    junit = xmlschema.XMLSchema(str(XSD)).to_dict(str(outs["junit"]))
    cases = {c["@name"]: c for c in junit["testsuite"][0]["testcase"]}
    assert len(cases) == 24
    assert "failure" in cases["create.memcached.parity"]          # regressed group
    assert "failure" in cases["create.response"]                  # open shadow_error group
    assert "failure" not in cases["update.postgres.parity"]       # its only group was accepted
    # only raced verdicts: inconclusive, which is not a pass
    assert cases["increment.redis_cdc.parity"]["failure"]["@type"] == "Inconclusive"
    assert data["inconclusive_paths"] == ["increment.redis_cdc.parity"]
    assert {p["path"]: p["status"] for p in data["paths"]}["increment.redis_cdc.parity"] == "inconclusive"
    assert cases["update.memcached.parity"]["skipped"]["@message"].endswith("never exercised")
    assert "skipped" not in cases["create.postgres.parity"] and "failure" not in cases["create.postgres.parity"]

    md = outs["md"].read_text()
    assert "| `create.memcached.parity` | ❌ fail |" in md and "## Unresolved groups" in md
    assert "⚪ not exercised" in md
    assert "| `increment.redis_cdc.parity` | ⚠️ inconclusive |" in md and "## Inconclusive paths" in md


async def test_html_export_is_self_contained(results_store: ResultsStore, browser, artifacts: Path) -> None:
    await _seeded(results_store)
    out = artifacts / "report.html"
    await export_report(results_store.pool, "html", out)
    text = out.read_text()
    assert "http://" not in text and "https://" not in text and "<link" not in text and " src=" not in text

    context = await browser.new_context(offline=True, viewport={"width": 1440, "height": 1000})
    requests: list[str] = []

    async def only_files(route) -> None:
        requests.append(route.request.url)
        await (route.continue_() if route.request.url.startswith("file:") else route.abort())

    await context.route("**/*", only_files)
    page = await context.new_page()
    page.on("request", lambda req: requests.append(req.url))
    try:
        await page.goto(out.as_uri())
        await page.wait_for_selector("table.overview")
        assert await page.locator("table.overview tbody tr").count() == 24
        assert await page.locator("section.example").count() >= 3
        await page.click('tr[data-path="create.memcached.parity"] a')
        assert page.url.endswith("#path-create-memcached-parity")
        await page.screenshot(path=str(artifacts / "report-html.png"), full_page=False)
    finally:
        await context.close()
    assert requests and all(url.startswith("file:") for url in requests), requests
