"""Hostile content is inert: bodies, authors, field names and request paths carrying markup and
script payloads (kept unredacted, as with `redact_bodies = false`) are shown as text in the
reviewer UI and the HTML export; no dialog opens, no script error or CSP report is logged. A
form posted from another origin is refused."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from diff_reports.grouping import signature
from results.store import queries
from results.store.report import export_report
from results.store.store import ResultsStore
from diff_reports.types import Difference, VerdictKind, VerdictRecord
from results.ui.app import create_app
from results.ui.auth import csrf_value
from tests.reports.seed import TOKEN, running_ui

SCRIPT = "<script>alert('body')</script>"
IMG = '"><img src=x onerror=alert("author")>'
JS_URL = "javascript:alert('path')"
KEY = "</span><svg onload=alert('key')>"


def hostile_record(request_id: str = "req-1") -> VerdictRecord:
    legacy = {"data": {"body": f"hello {SCRIPT}", "author": IMG, "permalink": JS_URL, KEY: 1},
              "request": {"path": f"/comments/abc?sort={JS_URL}&x={SCRIPT}"}}
    new = {"data": {"body": f"hello {SCRIPT}!", "author": IMG + "x", "permalink": JS_URL, KEY: 2},
           "request": {"path": f"/comments/abc?sort={JS_URL}&x={SCRIPT}"}}
    diffs = (Difference("data.body", "changed", legacy["data"]["body"], new["data"]["body"]),
             Difference("data.author", "changed", IMG, IMG + "x"),
             Difference(f'data["{KEY}"]', "changed", 1, 2))
    return VerdictRecord(path="read.comments.response", verdict=VerdictKind.MISMATCH, entity=JS_URL,
                         request_id=f"{request_id}{IMG}", legacy_value=legacy, new_value=new, differences=diffs,
                         reason=f"differs: {SCRIPT}")


def _watch(page) -> list[str]:
    seen: list[str] = []
    page.on("dialog", lambda d: (seen.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("console", lambda m: seen.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: seen.append(f"pageerror: {e}"))
    return seen


async def _assert_inert(page) -> None:
    text = await page.locator("main").inner_text()
    assert SCRIPT in text and "onerror=alert" in text  # shown as text, whole
    assert await page.locator("main img, main svg, main script").count() == 0
    hrefs = await page.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert not [h for h in hrefs if h and h.strip().lower().startswith("javascript:")], hrefs


async def test_hostile_content_in_the_ui_runs_no_script(results_store: ResultsStore, browser, artifacts: Path) -> None:
    record = hostile_record()
    await results_store.write_batch([(record, f"1.0{IMG}")])
    gid = signature(record).fingerprint
    async with running_ui(results_store) as base:
        context = await browser.new_context()
        page = await context.new_page()
        seen = _watch(page)
        try:
            await page.goto(f"{base}/?token={TOKEN}")
            await page.wait_for_selector("table.overview")
            await page.goto(f"{base}/groups")
            await page.wait_for_selector(f'tr[data-group="{gid}"]')
            await page.click(f'tr[data-group="{gid}"] a')
            await page.wait_for_selector(f'h1[data-group="{gid}"]')
            await _assert_inert(page)
            assert await page.locator('.legacy .hl[data-path="data.body"]').count() == 1
            await page.screenshot(path=str(artifacts / "hostile-group.png"), full_page=True)
        finally:
            await context.close()
    assert not seen, seen


async def test_hostile_content_in_the_html_export_runs_no_script(results_store: ResultsStore, browser,
                                                                 tmp_path: Path) -> None:
    await results_store.write_batch([(hostile_record(), "1.0")])
    out = tmp_path / "report.html"
    await export_report(results_store.pool, "html", out)
    assert SCRIPT not in out.read_text()  # escaped in the file itself
    context = await browser.new_context(offline=True)
    page = await context.new_page()
    seen = _watch(page)
    try:
        await page.goto(out.as_uri())
        await page.wait_for_selector("section.example")
        await _assert_inert(page)
    finally:
        await context.close()
    assert not seen, seen


async def test_a_cross_site_form_post_is_refused(results_store: ResultsStore, browser) -> None:
    record = hostile_record()
    await results_store.write_batch([(record, "1.0")])
    gid = signature(record).fingerprint
    async with running_ui(results_store) as base:
        # Another origin (same host, another port) serving a form that posts to the UI, with a
        # valid CSRF value even: the Origin and Sec-Fetch-Site headers give it away.
        evil = web.Application()
        form = (f'<form id="f" method="post" action="{base}/groups/{gid}/accept">'
                f'<input name="reason" value="pwned"><input name="by" value="evil">'
                f'<input name="csrf" value="{csrf_value(TOKEN)}"></form>')

        async def evil_page(_: web.Request) -> web.Response:
            return web.Response(text=f"<html><body>{form}</body></html>", content_type="text/html")

        evil.router.add_get("/", evil_page)
        async with TestClient(TestServer(evil, host="127.0.0.1")) as evil_client:
            context = await browser.new_context()
            page = await context.new_page()
            try:
                await page.goto(f"{base}/?token={TOKEN}")  # signed in: the cookie is set
                await page.wait_for_selector("table.overview")
                await page.goto(str(evil_client.make_url("/")))
                async with page.expect_response(lambda r: "/accept" in r.url) as answer:
                    await page.evaluate("document.getElementById('f').submit()")
                assert (await answer.value).status == 403
            finally:
                await context.close()
    group = await queries.get_group(results_store.pool, gid)
    assert group["status"] == "open"


async def test_sec_fetch_site_cross_site_is_refused_even_with_csrf(results_store: ResultsStore) -> None:
    record = hostile_record()
    await results_store.write_batch([(record, "1.0")])
    gid = signature(record).fingerprint
    async with TestClient(TestServer(create_app(results_store.pool, TOKEN))) as client:
        await client.get(f"/?token={TOKEN}")  # cookie
        refused = await client.post(f"/groups/{gid}/accept", headers={"Sec-Fetch-Site": "cross-site"},
                                    data={"reason": "x", "by": "y", "csrf": csrf_value(TOKEN)}, allow_redirects=False)
        assert refused.status == 403
        login = await client.post("/login", headers={"Origin": "http://evil.example"},
                                  data={"token": TOKEN, "next": "/"}, allow_redirects=False)
        assert login.status == 403
        same = await client.post(f"/groups/{gid}/accept", headers={"Sec-Fetch-Site": "same-origin"},
                                 data={"reason": "x", "by": "y", "csrf": csrf_value(TOKEN)}, allow_redirects=False)
        assert same.status == 303


async def test_non_ascii_tokens_are_refused_not_crashed(results_store: ResultsStore) -> None:
    """compare_digest refuses non-ASCII str; the checks compare bytes, so a hostile token is a 401."""
    async with TestClient(TestServer(create_app(results_store.pool, TOKEN))) as client:
        bearer = await client.get("/api/overview", headers={"Authorization": "Bearer tökén-ünicode"})
        assert bearer.status == 401
        query = await client.get("/groups", params={"token": "\u202etoken\u202c"}, allow_redirects=False)
        assert query.status == 401
        login = await client.post("/login", data={"token": "jeton-é", "next": "/"}, allow_redirects=False)
        assert login.status == 401
