"""Capture fixtures: the real legacy, seeded from real threads, behind the real proxy.

Two identical legacies (one over the production set, one over the sister set, same seed, same
fixed clock) let a test send the same requests through a proxy with capture and one without and
compare the primary responses byte for byte.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from config import ProxySettings, Settings
from legacy_adapter.seeding import _live_version, anonymise, creation_order, load_thread
from shadow_proxy.app import PROXY, ProxyRuntime, create_app
from shadow_proxy.capture.recorder import CaptureRecorder
from tests.contract.seed import CONTRACT_THREADS, T0, THREADS_DIR, seed_store_set
from tests.proxy.conftest import ADMIN_TOKEN, EqualityComparator, serve

UNUSED_NEW_SERVICE = "http://127.0.0.1:9"  # the ramp stays at 0%: the new service is never called


@dataclass
class Legacies:
    production: str   # legacy over the stores fixture's production set
    twin: str         # the same legacy, seed and clock over the sister set


@pytest.fixture
async def legacies(stores) -> AsyncIterator[Legacies]:
    from legacy_adapter.app import create_app as legacy_app

    settings = Settings()
    await seed_store_set(stores.production, settings)
    await seed_store_set(stores.sister, settings)
    runners = []
    urls = []
    for addresses in (stores.production, stores.sister):
        runner, url = await serve(legacy_app(addresses, settings, clock=lambda: T0 + 3600))
        runners.append(runner)
        urls.append(url)
    try:
        yield Legacies(*urls)
    finally:
        for runner in runners:
            await runner.cleanup()


@pytest.fixture
def proxy_with(stores):
    """`async with proxy_with(legacy_url, recorder=..., prefix=...) as (url, runtime)`."""

    @contextlib.asynccontextmanager
    async def start(legacy_url: str, *, recorder: CaptureRecorder | None = None,
                    prefix: str = "tapcompare") -> AsyncIterator[tuple[str, ProxyRuntime]]:
        settings = ProxySettings(admin_token=ADMIN_TOKEN, guard_enabled=False, ramp_key_prefix=prefix)
        app: web.Application = create_app(settings, legacy_url=legacy_url, new_url=UNUSED_NEW_SERVICE,
                                          tap_secret="capture-test-secret", ramp_redis_url=stores.sister.redis,
                                          comparator=EqualityComparator(), recorder=recorder)
        runner, url = await serve(app)
        try:
            yield url, app[PROXY]
        finally:
            await runner.cleanup()

    return start


def seed_snapshot() -> list[dict[str, Any]]:
    """The seed records of what `seed_store_set` put into the legacy (authors as it anonymised them)."""
    accounts: list[str] = []
    subreddits: list[str] = []
    links: list[dict[str, Any]] = []
    comments: list[dict[str, Any]] = []

    def account(name: str) -> str:
        if name != "[deleted]" and name not in accounts:
            accounts.append(name)
        return name

    for link in CONTRACT_THREADS:
        rows, post = load_thread(Path(THREADS_DIR, f"{link}.ndjson"))
        first = rows[0] if rows else {}
        subreddit = (post or first).get("subreddit", "unknown")
        if subreddit not in subreddits:
            subreddits.append(subreddit)
        author = account(anonymise((post or {}).get("author") or "[deleted]"))
        links.append({"kind": "link", "fullname": link, "subreddit": subreddit, "author": author,
                      "title": (post or {}).get("title", ""), "url": (post or {}).get("url") or "",
                      "selftext": (post or {}).get("selftext") or "",
                      "created_utc": float((post or first).get("created_utc", 0)), "score": int((post or {}).get("score", 1))})
        ordered, _ = creation_order(rows, link)
        for r in ordered:
            _, name = _live_version(r)
            comments.append({"kind": "comment", "fullname": f"t1_{r['id']}", "link": link, "parent": r["parent_id"],
                             "author": account(anonymise(name)), "body": r["body"], "created_utc": float(r["created_utc"]),
                             "score": int(r.get("score") or 0), "deleted": r["body"] in ("[deleted]", "[removed]"),
                             "distinguished": r.get("distinguished"), "stickied": bool(r.get("stickied")),
                             "gilded": int(r.get("gilded") or 0)})
    return [*({"kind": "account", "name": a} for a in accounts), *({"kind": "subreddit", "name": s} for s in subreddits),
            *links, *comments]
