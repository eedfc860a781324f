"""Judging one comparison job: the same code in the proxy (inline) and in `tapcompare worker`.

Reads: compare the response; a mismatch is rechecked against the legacy (if its own answer
changed, a write landed in between: `raced`). Writes: compare the response, then hand the write
to the WriteValidator (the 18 store paths); a validation that fails or runs past its timeout
records `unavailable` for each of the endpoint's store paths, so no verdict goes missing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from diff_reports.types import ALL_WRITE_PATHS, Observation, VerdictKind, VerdictRecord
from shadow_proxy.exchange import parse_body
from shadow_proxy.jobs.codec import CapturedRequest, ComparisonJob
from shadow_proxy.passthrough import SKIP_AUTO_HEADERS
from shadow_proxy.protocols import Comparator, RaisedHook, ShadowedWrite, WriteValidator

MAX_SHADOW_RESPONSE = 32 * 1024 * 1024
RACED_READ = "the legacy's own answer changed between the primary read and the shadow read (a write landed)"

Emit = Callable[[str, VerdictRecord], Awaitable[None]]          # (endpoint, record)
Recheck = Callable[[ComparisonJob], Awaitable[Observation]]


async def call_side(session: aiohttp.ClientSession, base_url: str, req: CapturedRequest, headers: CIMultiDict[str],
                    timeout_s: float, primary_status: int) -> tuple[Observation, str]:
    """The captured request sent to `base_url`: (observation, outcome ok|5xx|timeout|error).
    A 5xx on a request the legacy answered below 500 is the new side's error, not a value."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            async with session.request(
                req.method, URL(base_url.rstrip("/") + req.raw_path, encoded=True), headers=headers,
                data=req.body or None, skip_auto_headers=SKIP_AUTO_HEADERS, allow_redirects=False,
            ) as resp:
                body = await _read_upto(resp, MAX_SHADOW_RESPONSE)
                status = resp.status
                value = {"status": status, "body": parse_body(CIMultiDict(), body)}
        if status >= 500 and primary_status < 500:
            return Observation("new", error=f"HTTPStatusError: {status} {str(value['body'])[:200]}",
                               duration_s=time.perf_counter() - started), "5xx"
        return Observation("new", value, duration_s=time.perf_counter() - started), "ok"
    except TimeoutError:
        return Observation("new", error=f"TimeoutError: no answer within {timeout_s}s",
                           duration_s=time.perf_counter() - started), "timeout"
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return Observation("new", error=f"{type(exc).__name__}: {exc}", duration_s=time.perf_counter() - started), "error"


async def _read_upto(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body up to `limit` bytes: one `read(n)` returns only what has arrived so far, which
    cut large bodies (a 500-comment thread) at a chunk boundary into invalid JSON."""
    body = bytearray()
    while len(body) < limit:
        chunk = await resp.content.read(limit - len(body))
        if not chunk:
            break
        body += chunk
    return bytes(body)


def recheck_headers(req: CapturedRequest, request_id: str) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict(req.headers)
    for name in [n for n in headers if n.lower().startswith("x-tap-")]:
        headers.popall(name)
    headers["X-Request-Id"] = request_id
    return headers


class JobRunner:
    def __init__(self, comparator: Comparator, validator: WriteValidator, raised: RaisedHook, *,
                 recheck: Recheck | None, validate_timeout_s: float, compare_threads: int = 2) -> None:
        self.comparator = comparator
        self.validator = validator
        self._raised = raised
        self._recheck = recheck
        self._validate_timeout_s = validate_timeout_s
        # Comparison (deepdiff on big bodies) is CPU work: keep it off the event loop.
        self._pool = ThreadPoolExecutor(max_workers=compare_threads, thread_name_prefix="compare")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, job: ComparisonJob, emit: Emit) -> None:
        if job.kind == "record":
            for record in job.records:
                await emit(job.endpoint, record)
        elif job.kind == "read":
            await self._read(job, emit)
        else:
            await self._write(job, emit)

    async def _read(self, job: ComparisonJob, emit: Emit) -> None:
        assert job.new is not None
        if job.legacy_status >= 500:
            # The legacy itself failed (its own store down): there is no reference answer to judge by.
            await emit(job.endpoint, VerdictRecord(job.path, VerdictKind.SKIPPED, job.entity, job.request_id,
                                                   reason=f"the legacy itself failed ({job.legacy_status})"))
            return
        record = await self.compare(job.path, job.legacy, job.new, entity=job.entity, request_id=job.request_id)
        if record is None:
            return
        if record.verdict is VerdictKind.MISMATCH and self._recheck is not None:
            again = await self._recheck(job)
            if not again.raised and again.value != job.legacy.value:
                record = replace(record, verdict=VerdictKind.RACED, reason=RACED_READ)
        await emit(job.endpoint, record)

    async def _write(self, job: ComparisonJob, emit: Emit) -> None:
        assert job.new is not None and job.request_time is not None
        record = await self.compare(job.path, job.legacy, job.new, entity=job.entity, request_id=job.request_id)
        if record is None:
            return
        await emit(job.endpoint, record)
        write = ShadowedWrite(
            endpoint=job.endpoint, request_id=job.request_id, entity=job.entity, link=job.link, form=dict(job.form),
            auth_user=job.auth_user, request_time=job.request_time, thing_id=job.thing_id,
            legacy=job.legacy, new=job.new, response_verdict=record, extra={"legacy_at": job.legacy_at},
        )
        try:
            async with asyncio.timeout(self._validate_timeout_s):
                records = await self.validator.validate(write)
        except Exception as exc:  # timeout or validator bug: the paths are `unavailable`, never lost
            self._raised("validate", exc)
            reason = f"write validation failed: {type(exc).__name__}: {exc}"[:500]
            records = [VerdictRecord(p.name, VerdictKind.UNAVAILABLE, job.entity, job.request_id, reason=reason)
                       for p in ALL_WRITE_PATHS if p.endpoint == job.endpoint]
        for extra in records:
            await emit(job.endpoint, extra)

    async def compare(self, path: str, legacy: Observation, new: Observation, *, entity: str,
                      request_id: str) -> VerdictRecord | None:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._pool, lambda: self.comparator.compare(path, legacy, new, entity=entity, request_id=request_id))
        except Exception as exc:
            self._raised("compare", exc)
            return None
