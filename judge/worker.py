"""A comparison worker: one consumer of the jobs stream's consumer group.

Loop: XREADGROUP a batch -> judge every job (JobRunner: compare, recheck reads, validate writes)
-> store all their verdicts in ONE results transaction that also records the job ids
(ResultsStore.write_jobs, idempotent) -> XACK. A worker that dies holds its entries pending; every
`claim_idle_ms` the others XAUTOCLAIM entries idle that long and process them. Because storing is
idempotent by job id, a job judged twice (died after commit, before XACK) is counted once.

A job delivered more than `max_deliveries` times (it keeps killing workers) is stored as one
`skipped` verdict and acknowledged, so it cannot circle forever.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import asyncpg
import redis.asyncio as aioredis

from diff_reports.types import VerdictKind, VerdictRecord
from judge.codec import decode
from judge.metrics import WorkerMetrics
from judge.publisher import JOB_FIELD
from judge.recording import VerdictRecorder, Watcher
from judge.runner import JobRunner
from telemetry.logs import get_logger
from traffic.shadowed import ComparisonJob

log = get_logger("judge.worker")
Entry = tuple[Any, dict[bytes, bytes] | None]
# XREADGROUP's reply on this RESP2 bytes client: [[stream, [(id, fields), ...]], ...] (each pair a
# 2-item list, typed as a tuple for its positions). redis-py types it as a union with RESP3's dicts.
ReadGroupReply = list[tuple[bytes, list[Entry]]]
RETRY_S = 1.0


class JobStore(Protocol):
    """results.store.store.ResultsStore."""

    async def write_jobs(self, jobs: list[tuple[str, list[tuple[VerdictRecord, str | None]]]]) -> set[str]: ...


@dataclass(frozen=True)
class WorkerConfig:
    stream: str
    group: str
    consumer: str
    batch: int = 32
    block_ms: int = 500
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    version: str | None = None      # the new service's version, stored with every verdict


def _id(entry_id: Any) -> str:
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


class JobWorker:
    def __init__(self, redis: aioredis.Redis, config: WorkerConfig, runner: JobRunner, store: JobStore,
                 metrics: WorkerMetrics, *, guardrail: Watcher | None = None) -> None:
        self._redis = redis
        self.config = config
        self._runner = runner
        self._store = store
        self._metrics = metrics
        # What a worker stored is counted and watched by the kill switch (it stores its batch itself).
        self._recorder = VerdictRecorder(None, guardrail, lambda op, e: self.raised(op, e), self._count)
        self._stop = asyncio.Event()
        self.stored = 0
        self.duplicates = 0

    def raised(self, operation: str, error: BaseException) -> None:
        self._metrics.raised.labels(operation).inc()
        log.warning("worker_raised", operation=operation, error=f"{type(error).__name__}: {error}")

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self.config.stream, self.config.group, id="0", mkstream=True)
        except aioredis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _guarded_ensure_group(self) -> None:
        try:
            await self.ensure_group()
        except (aioredis.RedisError, OSError) as exc:
            self.raised("ensure_group", exc)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        c = self.config
        await self.ensure_group()
        # Entries this consumer name held in a previous life come first ("0" = our own pending).
        own = cast(ReadGroupReply, await self._redis.xreadgroup(c.group, c.consumer, {c.stream: "0"}, count=10_000))
        if own and own[0][1]:
            await self.process(own[0][1])
        next_claim = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_claim:
                    await self.claim()
                    next_claim = time.monotonic() + c.claim_idle_ms / 2000
                got = cast(ReadGroupReply, await self._redis.xreadgroup(c.group, c.consumer, {c.stream: ">"},
                                                                        count=c.batch, block=c.block_ms))
                if got and got[0][1]:
                    await self.process(got[0][1])
            except (aioredis.RedisError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # Redis or the results database away: nothing was acknowledged; what this worker holds
                # is reclaimed (by it or another) after claim_idle_ms. Back off, then carry on.
                self.raised("loop", exc)
                await asyncio.sleep(RETRY_S)
                if "NOGROUP" in str(exc):  # the stream or group was deleted: make them again
                    await self._guarded_ensure_group()

    async def claim(self) -> int:
        """XAUTOCLAIM every entry idle longer than claim_idle_ms (a dead or stuck consumer's) and process it."""
        c = self.config
        cursor: Any = "0-0"
        total = 0
        while True:
            cursor, claimed, *rest = await self._redis.xautoclaim(c.stream, c.group, c.consumer, c.claim_idle_ms,
                                                                  start_id=cursor, count=c.batch)
            deleted = rest[0] if rest else []
            if deleted:  # trimmed (MAXLEN) before anyone processed them; Redis already dropped them from the PEL
                self._metrics.lost.inc(len(deleted))
                log.warning("jobs_lost_to_trimming", count=len(deleted))
            if claimed:
                total += len(claimed)
                self._metrics.claimed.inc(len(claimed))
                log.info("jobs_claimed", count=len(claimed), consumer=c.consumer)
                await self.process(claimed, deliveries=await self._deliveries(claimed))
            if _id(cursor) == "0-0":
                return total

    async def _deliveries(self, entries: Iterable[Entry]) -> dict[str, int]:
        out: dict[str, int] = {}
        for entry_id, _ in entries:
            rows = await self._redis.xpending_range(self.config.stream, self.config.group, min=entry_id,
                                                   max=entry_id, count=1)
            if rows:
                out[_id(entry_id)] = int(rows[0]["times_delivered"])
        return out

    async def process(self, entries: list[Entry], deliveries: dict[str, int] | None = None) -> None:
        """Judge, store (one transaction, idempotent), acknowledge. Raises (nothing acked) if storing fails."""
        ids = [entry_id for entry_id, _ in entries]
        jobs: list[ComparisonJob] = []
        judged: list[Any] = []
        for entry_id, fields in entries:
            raw = (fields or {}).get(JOB_FIELD)
            if raw is None:
                self._metrics.jobs.labels("undecodable").inc()
                continue
            try:
                job = decode(raw)
            except Exception as exc:
                self._metrics.jobs.labels("undecodable").inc()
                self.raised("decode", exc)
                continue
            jobs.append(job)
            times = (deliveries or {}).get(_id(entry_id), 1)
            judged.append(self._given_up(job, times) if times > self.config.max_deliveries else self._judge(job))
        results: list[list[VerdictRecord]] = list(await asyncio.gather(*judged))
        version = self.config.version
        fresh = await self._store.write_jobs([(job.job_id, [(r, version) for r in records])
                                              for job, records in zip(jobs, results)])
        if ids:
            await self._ack(ids)
        for job, records in zip(jobs, results):
            if job.job_id not in fresh:
                self.duplicates += 1
                self._metrics.jobs.labels("duplicate").inc()
                continue
            self.stored += 1
            self._metrics.jobs.labels("stored").inc()
            for record in records:
                await self._recorder.record(job.endpoint, record)

    def _count(self, record: VerdictRecord) -> None:
        self._metrics.verdicts.labels(record.path, VerdictKind(record.verdict).value).inc()

    async def _ack(self, ids: list[Any]) -> None:
        await self._redis.xack(self.config.stream, self.config.group, *ids)

    async def _judge(self, job: ComparisonJob) -> list[VerdictRecord]:
        records: list[VerdictRecord] = []

        async def emit(endpoint: str, record: VerdictRecord) -> None:
            records.append(record)

        started = time.perf_counter()
        try:
            await self._runner.run(job, emit)
        except Exception as exc:  # a bug in our own parts: the job still gets its (unavailable) verdict
            self.raised("job", exc)
            self._metrics.jobs.labels("failed").inc()
            records.append(VerdictRecord(job.path, VerdictKind.UNAVAILABLE, job.entity, job.request_id,
                                         reason=f"worker failed: {type(exc).__name__}: {exc}"[:500]))
        self._metrics.seconds.observe(time.perf_counter() - started)
        return records

    async def _given_up(self, job: ComparisonJob, times: int) -> list[VerdictRecord]:
        log.warning("job_given_up", job_id=job.job_id, deliveries=times)
        self._metrics.jobs.labels("given_up").inc()
        return [VerdictRecord(job.path, VerdictKind.SKIPPED, job.entity, job.request_id,
                              reason=f"given up after {times} deliveries (the job kept failing its worker)")]
