"""A small, realistic mix of results, and a live UI server for browser tests."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from typing import AsyncIterator

from aiohttp import web

from results.store.store import ResultsStore
from diff_reports.types import VerdictKind
from results.ui.app import create_app
from tests.reports.factories import body_mismatch, simple, ttl_mismatch

TOKEN = "test-report-token"


async def seed_results(store: ResultsStore, version: str = "1.0.0") -> None:
    now = time.time() - 60
    items = []
    for i in range(40):
        t = {"legacy_s": 0.010 + i * 0.0005, "new_s": 0.008 + i * 0.0004, "legacy_sql": 4, "new_sql": 2}
        items.append(simple("create.postgres.parity", VerdictKind.MATCH, f"c{i}", at=now + i, timings=t))
        items.append(simple("create.response", VerdictKind.MATCH, f"c{i}", at=now + i, timings=t))
        items.append(simple("read.info.response", VerdictKind.MATCH, f"r{i}", at=now + i,
                            timings={"legacy_ms": 3 + i % 5, "new_ms": 2 + i % 7}))
    items += [body_mismatch(f"u{i}", index=i % 3, at=now + i,
                            timings={"legacy_s": 0.02, "new_s": 0.03, "legacy_sql": 6, "new_sql": 3}) for i in range(6)]
    items += [ttl_mismatch(f"m{i}", at=now + i) for i in range(4)]
    items += [simple("create.response", VerdictKind.SHADOW_ERROR, f"e{i}", at=now + i,
                     reason=f"TimeoutError: no answer after {2 + i}.0s") for i in range(2)]
    items += [simple("increment.redis_cdc.parity", VerdictKind.RACED, f"v{i}", at=now + i,
                     reason="another vote landed in between") for i in range(3)]
    await store.write_batch([(r, version) for r in items])


@asynccontextmanager
async def running_ui(store: ResultsStore, token: str = TOKEN) -> AsyncIterator[str]:
    """Serve the UI on a free loopback port; yields its base URL."""
    runner = web.AppRunner(create_app(store.pool, token))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
