"""Fixtures for the results store, reviewer UI and exports: a fresh results database on the
sister PostgreSQL server of the `stores` fixture, and one headless Chromium per session."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from results.store.store import ResultsStore
from sister_stores.databases import drop_database, recreate_database
from tests.support.stores import run

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def results_dsn(stores) -> str:
    dsn = stores.sister.with_database(f"results_{uuid.uuid4().hex[:12]}").postgres
    run(recreate_database(dsn))
    yield dsn
    run(drop_database(dsn))


@pytest.fixture
async def results_store(results_dsn: str) -> ResultsStore:
    store = await ResultsStore.open(results_dsn, examples_per_group=3)
    yield store
    await store.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
async def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium (make test installs it)")
    from playwright.async_api import async_playwright

    pw = await async_playwright().start()
    browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    await browser.close()
    await pw.stop()
