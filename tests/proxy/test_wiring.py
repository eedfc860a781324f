"""The composition root: the proxy `tapcompare proxy serve` runs, built from Settings alone.

Inline mode judges in the proxy: the 18-path validator and the results pipeline start with the app,
every verdict lands in the results database and in the dashboard's series. Stream mode judges
nothing in the proxy: no validator, no results store.
"""

from __future__ import annotations

import uuid

import asyncpg
from yarl import URL

from config import Settings, settings_from_mapping
from shadow_proxy.app import PROXY
from judge.protocols import NoWriteValidation
from judge.recording import ResultsSink
from write_validation.store_validator import StoreValidator
from wiring.parts import Parts
from sister_stores.databases import drop_database
from tests.proxy.conftest import ADMIN_TOKEN, ProxyHandle, serve, set_ramp, settle
from tests.support.stores import READONLY_ROLE


def _settings(stores, legacy, new, results_dsn: str, mode: str) -> Settings:
    def store_set(addrs) -> dict:
        return {"local": False, "postgres": addrs.postgres, "memcached": addrs.memcached, "redis": addrs.redis}

    return settings_from_mapping({
        "stores": {"production": store_set(stores.production), "sister": store_set(stores.sister)},
        "legacy": {"port": URL(legacy.url).port},
        "new_service": {"port": URL(new.url).port, "tap_secret": "test-tap-secret", "readonly_role": READONLY_ROLE},
        "proxy": {"admin_token": ADMIN_TOKEN, "compare_mode": mode},
        "reports": {"results_dsn": results_dsn},
    })


async def test_inline_proxy_from_settings_stores_every_verdict(stores, legacy, new, client) -> None:
    results_dsn = stores.sister.with_database(f"r_{uuid.uuid4().hex[:10]}").postgres
    parts = Parts(_settings(stores, legacy, new, results_dsn, "inline"))
    app = parts.proxy_app()
    runtime = app[PROXY]
    assert isinstance(runtime.validator, StoreValidator) and isinstance(runtime.sink, ResultsSink)
    runner, url = await serve(app)
    try:
        handle = ProxyHandle(url, runtime, runtime.sink)
        await set_ramp(handle, info=100)
        async with client.get(url + "/api/info?id=t1_1") as resp:
            assert resp.status == 200
        await settle(handle, 1)
        await parts.results.drain(10)
        conn = await asyncpg.connect(results_dsn)
        try:
            rows = await conn.fetch("SELECT path, verdict FROM results")
        finally:
            await conn.close()
        assert [(r["path"], r["verdict"]) for r in rows] == [("read.info.response", "match")]
        async with client.get(url + "/metrics") as resp:
            text = await resp.text()
        for line in ('tapcompare_verdicts_total{endpoint="read.info",path="read.info.response",verdict="match"} 1.0',
                     'tapcompare_proxy_verdicts_total{path="read.info.response",verdict="match"} 1.0',
                     "tapcompare_results_written_total 1.0",
                     'tapcompare_verdicts_total{endpoint="create",path="create.postgres.parity",verdict="match"} 0.0'):
            assert line in text, line
    finally:
        await runner.cleanup()
        await drop_database(results_dsn)
    assert parts.results.store is None  # closed with the app


async def test_stream_proxy_judges_nothing_itself(stores, legacy, new) -> None:
    parts = Parts(_settings(stores, legacy, new, "postgresql://nobody@127.0.0.1:1/never", "stream"))
    app = parts.proxy_app()
    runtime = app[PROXY]
    assert isinstance(runtime.validator, NoWriteValidation)
    runner, _ = await serve(app)  # starts although the results database is unreachable: it is not its part
    try:
        assert runtime.jobs is not None
    finally:
        await runner.cleanup()


def test_responses_only_is_asked_for_explicitly(stores, legacy, new) -> None:
    settings = _settings(stores, legacy, new, "postgresql://nobody@127.0.0.1:1/never", "inline")
    assert isinstance(Parts(settings).validator, StoreValidator)
    assert isinstance(Parts(settings, responses_only=True).validator, NoWriteValidation)
