"""Scale-out fixtures: the proxy fixtures (stand-in legacy/new services on real loopback servers,
ramp state in the sister Redis of `stores`), a fresh results database, and in-process workers."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from config import ProxySettings
from diff_reports.types import ALL_WRITE_PATHS, Observation, VerdictKind, VerdictRecord
from wiring.worker import WorkerAddresses, WorkerService
from traffic.shadowed import ComparisonJob
from tests.proxy.conftest import (  # noqa: F401 (fixtures)
    EqualityComparator, client, legacy, legacy_app, new, new_app, proxy_factory,
)
from tests.reports.conftest import results_dsn  # noqa: F401 (fixture)
from tests.support.waiting import eventually

ALL = dict(info=100, comments=100, morechildren=100, create=100, update=100, increment=100)


class SixPaths:
    """A WriteValidator standing in for the store validator: the endpoint's 6 store paths, all match."""

    async def validate(self, write: ComparisonJob) -> list[VerdictRecord]:
        return [VerdictRecord(p.name, VerdictKind.MATCH, write.entity, write.request_id)
                for p in ALL_WRITE_PATHS if p.endpoint == write.endpoint]


class GatedComparator(EqualityComparator):
    """Blocks every comparison until `release` is set; `entered` tells that a job is in hand."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def compare(self, path: str, legacy: Observation, new: Observation, **kw) -> VerdictRecord:
        self.entered.set()
        self.release.wait(30)
        return super().compare(path, legacy, new, **kw)


@dataclass
class Jobs:
    stream: str
    group: str
    redis_url: str
    results_dsn: str
    legacy_url: str

    def settings(self, **overrides) -> ProxySettings:
        return ProxySettings(**{"admin_token": "test-admin-token", "guard_enabled": False, "compare_mode": "stream",
                                "jobs_stream": self.stream, "jobs_group": self.group, "jobs_claim_idle_s": 0.5,
                                **overrides})

    def proxy_overrides(self, **more) -> dict:
        return {"compare_mode": "stream", "jobs_stream": self.stream, "jobs_group": self.group,
                "jobs_claim_idle_s": 0.5, **more}


@pytest.fixture
def jobs(stores, results_dsn, legacy) -> Jobs:  # noqa: F811
    tag = uuid.uuid4().hex[:8]
    return Jobs(f"jobs:{tag}", f"workers:{tag}", stores.sister.redis, results_dsn, legacy.url)


@dataclass
class RunningWorker:
    service: WorkerService
    task: asyncio.Task

    async def kill(self) -> None:
        """What a SIGKILL leaves behind: nothing acknowledged, nothing closed gracefully."""
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture
async def worker_factory(jobs: Jobs) -> AsyncIterator:
    started: list[RunningWorker] = []

    async def start(consumer: str, comparator=None, batch: int = 8, **overrides) -> RunningWorker:
        service = WorkerService(jobs.settings(**overrides),
                                WorkerAddresses(jobs.redis_url, jobs.results_dsn, jobs.redis_url, jobs.legacy_url),
                                comparator or EqualityComparator(), SixPaths(), consumer=consumer, batch=batch)
        await service.start()
        running = RunningWorker(service, asyncio.create_task(service.run(), name=f"worker-{consumer}"))
        started.append(running)
        return running

    yield start
    for running in started:
        await running.kill()
        await running.service.close()


async def stored_counts(dsn: str) -> dict[str, tuple[int, int]]:
    """job id -> (records the job declared, result rows stored for it)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("""
            SELECT p.job_id, p.records, count(r.id) AS n
            FROM processed_jobs p LEFT JOIN results r ON r.job_id = p.job_id
            GROUP BY p.job_id, p.records""")
        return {r["job_id"]: (r["records"], r["n"]) for r in rows}
    finally:
        await conn.close()


async def wait_for(predicate, timeout: float = 20.0, every: float = 0.05):
    """Poll an async condition until it holds; its value."""
    return await eventually(predicate, timeout=timeout, every=every)
