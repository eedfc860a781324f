"""Replay fixtures: a small dataset from one real thread, and a replay on the session's store servers."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from config import NewServiceSettings, Settings
from datasets.build import BuildOptions, build_dataset
from datasets.format import write_dataset
from replay.run import ReplayOptions, ReplayResult, run_replay
from replay.stores import ReplayStores
from sister_stores.databases import drop_database
from tests.support.paths import reddit_threads_dir
from tests.support.stores import READONLY_ROLE

# One real thread whose first 10 comments give every write (creates, a reply, an edit of a create,
# votes on seeded and created comments) and every read; small enough for a replay in seconds.
THREAD = "t3_hbo4a7"
OPTIONS = BuildOptions(seed=7, max_comments_per_thread=10, max_votes=2, read_every=10)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    threads = tmp_path_factory.mktemp("threads")
    for f in reddit_threads_dir().glob(f"{THREAD}.*"):
        shutil.copy(f, threads)
    path = tmp_path_factory.mktemp("dataset") / "small.jsonl"
    write_dataset(path, build_dataset(threads, OPTIONS))
    return path


@pytest.fixture(scope="session")
def real_only_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same thread without the probe set (real requests only)."""
    threads = tmp_path_factory.mktemp("threads_real")
    for f in reddit_threads_dir().glob(f"{THREAD}.*"):
        shutil.copy(f, threads)
    path = tmp_path_factory.mktemp("dataset_real") / "real.jsonl"
    write_dataset(path, build_dataset(threads, replace(OPTIONS, probes=False)))
    return path


@pytest.fixture
def replay_settings() -> Settings:
    return Settings(new_service=NewServiceSettings(mode="tap", readonly_role=READONLY_ROLE, memcached_pool_threads=4))


@pytest.fixture
async def replay_stores(stores):
    """The test's fresh databases (schema, role, mirror from the template) plus a results database."""
    results = stores.sister.with_database(f"r_{uuid.uuid4().hex[:12]}").postgres
    yield ReplayStores(stores.production, stores.sister, results, local=None)
    await drop_database(results)


async def replay(settings: Settings, stores: ReplayStores, dataset: Path, out: Path, **options) -> ReplayResult:
    """A replay on the fixture's databases (already fresh: `fresh=False` only seeds)."""
    opts = ReplayOptions(dataset, out=out, fresh=False, progress=False, **options)
    return await run_replay(settings, stores, opts)
