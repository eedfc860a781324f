"""The reviewer UI in a real headless Chromium: sign in, filter, open a group, accept it, and see
the counts change; a fixed-then-regressed group shows as regressed. Screenshots land in
test-artifacts/reports/."""

from __future__ import annotations

from pathlib import Path

from diff_reports.grouping import signature
from results.store.lifecycle import fix_group
from results.store.store import ResultsStore
from tests.reports.factories import body_mismatch, ttl_mismatch
from tests.reports.seed import TOKEN, running_ui, seed_results


def card(page, label: str):
    return page.locator(f'.card[data-card="{label}"] .n')


async def test_review_flow_in_chromium(results_store: ResultsStore, browser, artifacts: Path) -> None:
    await seed_results(results_store)
    gid = signature(body_mismatch("x")).fingerprint
    async with running_ui(results_store) as base:
        context = await browser.new_context(viewport={"width": 1440, "height": 1000})
        page = await context.new_page()
        try:
            response = await page.goto(base + "/")
            assert response.status == 401
            await page.fill('input[name="token"]', TOKEN)
            await page.click('button[type="submit"]')
            await page.wait_for_selector("table.overview")
            assert await page.locator("table.overview tbody tr").count() == 24
            row = page.locator('tr[data-path="update.postgres.parity"]')
            assert "6" in await row.locator("td.v-mismatch").inner_text()
            assert await card(page, "needing review").inner_text() == "12"
            # only raced verdicts on this path: inconclusive, marked as not a pass
            assert await page.locator('tr[data-path="increment.redis_cdc.parity"] .badge.inconclusive').count() == 1
            assert await page.locator("tr.inconclusive").count() == 1
            assert await card(page, "inconclusive paths").inner_text() == "1"
            assert await page.locator("table.latency tbody tr").count() == 2  # create, read.info: response paths only
            await page.screenshot(path=str(artifacts / "overview.png"), full_page=True)

            # filter by path (the select submits itself)
            await page.select_option('form.filters select[name="path"]', "update.postgres.parity")
            await page.wait_for_url("**path=update.postgres.parity**")
            assert await page.locator("table.overview tbody tr").count() == 1

            # to the groups of that path, then the group
            await page.click('tr[data-path="update.postgres.parity"] a')
            await page.wait_for_selector(f'tr[data-group="{gid}"]')
            await page.screenshot(path=str(artifacts / "groups.png"), full_page=True)
            # widen to every path, filter by verdict, sort by occurrences ascending
            await page.select_option('form.filters select[name="path"]', "")
            await page.wait_for_url(lambda url: "path=update" not in url)
            await page.select_option('form.filters select[name="verdict"]', "mismatch")
            await page.wait_for_url("**verdict=mismatch**")
            assert await page.locator("table.groups tbody tr").count() == 2
            await page.click('a[data-sort="occurrences"]')
            await page.wait_for_url("**dir=asc**")
            ordered = await page.locator("table.groups tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.group)")
            assert ordered[-1] == gid  # 6 occurrences after the ttl group's 4
            await page.click(f'tr[data-group="{gid}"] a')
            await page.wait_for_selector(f'h1[data-group="{gid}"]')
            assert await page.locator('.legacy .hl[data-path="data.editted"]').count() >= 1
            assert await page.locator('.new .hl[data-path^="data.children["]').count() >= 1
            await page.screenshot(path=str(artifacts / "group.png"), full_page=True)

            # accept as noise
            await page.fill('#accept-form input[name="reason"]', "score rounding is a known legacy quirk")
            await page.fill('#accept-form input[name="by"]', "ana")
            await page.click('#accept-form button[type="submit"]')
            await page.wait_for_selector(".flash")
            assert await page.locator(".facts .badge").inner_text() == "accepted"

            await page.goto(base + "/")
            assert await card(page, "needing review").inner_text() == "6"
            assert await card(page, "accepted groups").inner_text() == "1"
            await page.screenshot(path=str(artifacts / "overview-after-accept.png"), full_page=True)
        finally:
            await context.close()


async def test_fixed_then_regressed_group_shows_regressed(results_store: ResultsStore, browser, artifacts: Path) -> None:
    await results_store.write_batch([(ttl_mismatch("m1"), "2.0.0")])
    gid = signature(ttl_mismatch("x")).fingerprint
    await fix_group(results_store.pool, gid, version="2.1.0", by="ana")
    await results_store.write_batch([(ttl_mismatch("m2"), "2.1.0")])
    async with running_ui(results_store) as base:
        context = await browser.new_context(viewport={"width": 1440, "height": 900})
        page = await context.new_page()
        try:
            await page.goto(f"{base}/groups?token={TOKEN}&status=regressed")
            row = page.locator(f'tr[data-group="{gid}"]')
            assert await row.locator(".badge").inner_text() == "regressed"
            await row.locator("a").click()
            await page.wait_for_selector(f'h1[data-group="{gid}"]')
            assert await page.locator(".facts .badge").inner_text() == "regressed"
            assert "2.1.0" in await page.locator("ul.events").inner_text()
            await page.screenshot(path=str(artifacts / "regressed.png"), full_page=True)
        finally:
            await context.close()
