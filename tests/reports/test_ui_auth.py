"""The token gate and CSRF rules of the reviewer UI (HTTP level)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from diff_reports.grouping import signature
from results.store.store import ResultsStore
from results.ui.app import create_app
from results.ui.auth import COOKIE, csrf_value
from tests.reports.factories import ttl_mismatch
from tests.reports.seed import TOKEN, seed_results


async def test_token_gate_cookie_bearer_and_csrf(results_store: ResultsStore) -> None:
    await seed_results(results_store)
    gid = signature(ttl_mismatch("x")).fingerprint
    async with TestClient(TestServer(create_app(results_store.pool, TOKEN))) as client:
        anon = await client.get("/")
        assert anon.status == 401 and 'name="token"' in await anon.text()
        assert (await client.get("/api/overview")).status == 401
        wrong = await client.post("/login", data={"token": "nope", "next": "/"}, allow_redirects=False)
        assert wrong.status == 401

        bearer = await client.get("/api/overview", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status == 200 and (await bearer.json())["totals"]["mismatch"] == 10

        via_query = await client.get(f"/groups?token={TOKEN}&verdict=mismatch", allow_redirects=False)
        assert via_query.status == 303 and via_query.headers["Location"] == "/groups?verdict=mismatch"
        assert COOKIE in via_query.cookies and via_query.cookies[COOKIE].value != TOKEN
        page = await client.get("/groups?verdict=mismatch")
        assert page.status == 200 and gid in await page.text()

        # a POST with the cookie but without the CSRF field, or from another origin, is refused
        bad = await client.post(f"/groups/{gid}/accept", data={"reason": "x", "by": "y"}, allow_redirects=False)
        assert bad.status == 403
        foreign = await client.post(f"/groups/{gid}/accept", headers={"Origin": "http://evil.example"},
                                    data={"reason": "x", "by": "y", "csrf": csrf_value(TOKEN)}, allow_redirects=False)
        assert foreign.status == 403
        ok = await client.post(f"/groups/{gid}/accept", data={"reason": "ttl differs", "by": "ana",
                                                             "csrf": csrf_value(TOKEN)}, allow_redirects=False)
        assert ok.status == 303 and ok.headers["Location"].endswith("done=accepted")
        rules = await (await client.get("/api/rules")).json()
        assert rules["rules"][0]["applies_to"] == ["create.memcached.parity"]
