"""The shadow side of one exchange: decide, call the new service, compare, record, validate.

Runs in a queue worker after the client already has the legacy response. Failures of the new
service (errors, timeouts, 5xx the legacy did not also return) are data: an Observation with
`error`, which the comparator turns into `shadow_error`. Failures of our own parts (comparator,
sink, validator, guardrail) go to the `raised` hook and are counted; none of them can reach the
primary path.
"""

from __future__ import annotations

import asyncio
import weakref
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from diff_reports.types import (
    ALL_WRITE_PATHS, Observation, VerdictKind, VerdictRecord, read_response_path, write_response_path,
)
from shadow_proxy.exchange import Exchange, parse_body
from shadow_proxy.guardrails import Guardrail
from shadow_proxy.links import LinkIndex, links_in
from shadow_proxy.metrics import ProxyMetrics
from shadow_proxy.passthrough import SKIP_AUTO_HEADERS, end_to_end
from shadow_proxy.protocols import Comparator, RaisedHook, ShadowedWrite, VerdictSink, WriteValidator
from shadow_proxy.ramp import RampState
from shadow_proxy.routes import ParsedRequest, Unshadowable, is_read, parse_request

MAX_SHADOW_RESPONSE = 32 * 1024 * 1024


@dataclass(frozen=True)
class ShadowTarget:
    base_url: str
    tap_secret: str
    timeout_s: float
    legacy_url: str = ""           # for the read-mismatch recheck (through the shadow's own pool)
    recheck_reads: bool = True
    validate_timeout_s: float = 30.0

RACED_READ = "the legacy's own answer changed between the primary read and the shadow read (a write landed)"


class Shadower:
    def __init__(self, session: aiohttp.ClientSession, target: ShadowTarget, ramp: RampState,
                 links: LinkIndex, comparator: Comparator, sink: VerdictSink, validator: WriteValidator,
                 guardrail: Guardrail | None, metrics: ProxyMetrics, raised: RaisedHook) -> None:
        self._session = session
        self._target = target
        self._ramp = ramp
        self._links = links
        self._comparator = comparator
        self._sink = sink
        self._validator = validator
        self._guardrail = guardrail
        self._metrics = metrics
        self._raised = raised
        # Comparison (deepdiff on big bodies) is CPU work: keep it off the event loop.
        self._compare_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="compare")
        # One shadow write per thread at a time: the rewrite then applies a thread's writes in the
        # order the legacy answered them, and each validation sees the sister right after its write.
        self._thread_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def close(self) -> None:
        self._compare_pool.shutdown(wait=False, cancel_futures=True)

    async def handle(self, ex: Exchange) -> None:
        try:
            parsed = parse_request(ex.endpoint, ex.path, ex.raw_query, ex.headers.get("Content-Type"), ex.body)
        except Unshadowable as skip:
            await self._skip(ex, skip.reason)
            return
        legacy_body = parse_body(ex.legacy_headers, ex.legacy_body)
        if 200 <= ex.status < 300:
            await self._guard("learn_links", self._links.learn(legacy_body))
        key = await self._sticky_key(parsed, legacy_body)
        if not self._ramp.sampled(ex.endpoint, key):
            self._metrics.sampled.labels(ex.endpoint, "out").inc()
            return
        self._metrics.sampled.labels(ex.endpoint, "in").inc()
        legacy = Observation("legacy", {"status": ex.status, "body": legacy_body}, duration_s=ex.legacy_duration_s)
        if is_read(ex.endpoint):
            await self._read(ex, parsed, key, legacy)
        else:
            await self._write(ex, parsed, key, legacy)

    async def _sticky_key(self, parsed: ParsedRequest, legacy_body: object) -> str:
        """The thread's t3_ fullname when known (request, legacy response, link index), else the thing."""
        if parsed.link:
            return parsed.link
        target = parsed.target or ""
        if parsed.endpoint in ("create", "update", "info"):
            # The legacy rendered the thing (the new comment for a create: same thread as its parent).
            found = links_in(legacy_body)
            if parsed.endpoint == "create" and found:
                return next(iter(found.values()))
            if target in found:
                return found[target]
        try:
            return await self._links.link_of(target) or target
        except Exception as exc:  # Redis unreachable: fall back to the thing itself
            self._raised("link_lookup", exc)
            return target

    async def _read(self, ex: Exchange, parsed: ParsedRequest, key: str, legacy: Observation) -> None:
        new = await self._call_new(ex, CIMultiDict())
        path = read_response_path(ex.endpoint)
        record = await self._compare(path, legacy, new, entity=parsed.target or key, request_id=ex.request_id)
        if record is None:
            return
        if record.verdict is VerdictKind.MISMATCH and self._target.recheck_reads and self._target.legacy_url:
            again = await self._call(ex, self._target.legacy_url, CIMultiDict(), "legacy_recheck")
            if not again.raised and again.value != legacy.value:
                record = replace(record, verdict=VerdictKind.RACED, reason=RACED_READ)
        await self._emit(ex.endpoint, record)

    async def _write(self, ex: Exchange, parsed: ParsedRequest, key: str, legacy: Observation) -> None:
        lock = self._thread_locks.get(key)
        if lock is None:
            lock = self._thread_locks[key] = asyncio.Lock()
        async with lock:
            await self._write_serialised(ex, parsed, key, legacy)

    async def _write_serialised(self, ex: Exchange, parsed: ParsedRequest, key: str, legacy: Observation) -> None:
        if not 200 <= ex.status < 300:
            # The new service must reject alike; the contract suite checks that offline. Sending it
            # a write the legacy refused could only create state production does not have.
            await self._skip(ex, "legacy_rejected", record=True)
            return
        request_time = ex.legacy_headers.get("X-Request-Time")
        if not request_time:
            await self._skip(ex, "no_request_time", record=True)
            return
        tap = CIMultiDict({"X-Tap-Secret": self._target.tap_secret, "X-Tap-Request-Time": request_time})
        thing_id = None
        entity = parsed.target or key
        if ex.endpoint == "create":
            thing_id = _created_id(legacy.value["body"])
            if thing_id is None:
                await self._skip(ex, "no_assigned_id", record=True)
                return
            tap["X-Tap-Thing-Id"] = str(thing_id)
            entity = f"t1_{_base36(thing_id)}"
        new = await self._call_new(ex, tap)
        record = await self._compare(write_response_path(ex.endpoint), legacy, new,
                                     entity=entity, request_id=ex.request_id)
        if record is None:
            return
        await self._emit(ex.endpoint, record)
        write = ShadowedWrite(
            endpoint=ex.endpoint, request_id=ex.request_id, entity=entity, link=key, form=dict(parsed.params),
            auth_user=ex.headers.get("X-Auth-User"), request_time=request_time, thing_id=thing_id,
            legacy=legacy, new=new, response_verdict=record,
        )
        try:
            async with asyncio.timeout(self._target.validate_timeout_s):
                records = await self._validator.validate(write)
        except Exception as exc:  # timeout or validator bug: the paths are `unavailable`, never lost
            self._raised("validate", exc)
            reason = f"write validation failed: {type(exc).__name__}: {exc}"[:500]
            records = [VerdictRecord(p.name, VerdictKind.UNAVAILABLE, entity, ex.request_id, reason=reason)
                       for p in ALL_WRITE_PATHS if p.endpoint == ex.endpoint]
        for extra in records:
            await self._emit(ex.endpoint, extra)

    async def _call_new(self, ex: Exchange, tap: CIMultiDict[str]) -> Observation:
        return await self._call(ex, self._target.base_url, tap, ex.endpoint)

    async def _call(self, ex: Exchange, base_url: str, tap: CIMultiDict[str], label: str) -> Observation:
        """The same request to `base_url`; failures become the Observation's error."""
        headers = end_to_end(ex.headers, drop=("Host", "Content-Length"))
        for name in [n for n in headers if n.lower().startswith("x-tap-")]:
            headers.popall(name)  # only the proxy may assert an identity
        headers.extend(tap)
        headers["X-Request-Id"] = ex.request_id
        started = time.perf_counter()
        outcome = "ok"
        try:
            async with asyncio.timeout(self._target.timeout_s):
                async with self._session.request(
                    ex.method, URL(base_url.rstrip("/") + ex.raw_path, encoded=True), headers=headers,
                    data=ex.body or None, skip_auto_headers=SKIP_AUTO_HEADERS, allow_redirects=False,
                ) as resp:
                    body = await resp.content.read(MAX_SHADOW_RESPONSE)
                    status = resp.status
                    value = {"status": status, "body": parse_body(CIMultiDict(), body)}
            if status >= 500 and ex.status < 500:
                outcome = "5xx"
                return Observation("new", error=f"HTTPStatusError: {status} {str(value['body'])[:200]}",
                                   duration_s=time.perf_counter() - started)
            return Observation("new", value, duration_s=time.perf_counter() - started)
        except TimeoutError:
            outcome = "timeout"
            return Observation("new", error=f"TimeoutError: no answer within {self._target.timeout_s}s",
                               duration_s=time.perf_counter() - started)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            outcome = "error"
            return Observation("new", error=f"{type(exc).__name__}: {exc}", duration_s=time.perf_counter() - started)
        finally:
            self._metrics.shadow.labels(label, outcome).observe(time.perf_counter() - started)

    async def _compare(self, path: str, legacy: Observation, new: Observation, *, entity: str,
                       request_id: str) -> VerdictRecord | None:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._compare_pool, lambda: self._comparator.compare(path, legacy, new, entity=entity,
                                                                     request_id=request_id))
        except Exception as exc:
            self._raised("compare", exc)
            return None

    async def _skip(self, ex: Exchange, reason: str, *, record: bool = False) -> None:
        """Counted always; recorded as a `skipped` verdict for requests that were sampled."""
        self._metrics.skipped.labels(ex.endpoint, reason).inc()
        if record:
            path = read_response_path(ex.endpoint) if is_read(ex.endpoint) else write_response_path(ex.endpoint)
            await self._emit(ex.endpoint, VerdictRecord(path, VerdictKind.SKIPPED, request_id=ex.request_id,
                                                        reason=reason), guard=False)

    async def _emit(self, endpoint: str, record: VerdictRecord, guard: bool = True) -> None:
        self._metrics.verdicts.labels(record.path, VerdictKind(record.verdict).value).inc()
        await self._guard("sink", self._sink.record(record))
        if guard and self._guardrail is not None:
            await self._guard("guardrail", self._guardrail.observe(endpoint, VerdictKind(record.verdict)))

    async def _guard(self, operation: str, awaitable) -> None:
        try:
            await awaitable
        except Exception as exc:
            self._raised(operation, exc)


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _created_id(body: object) -> int | None:
    """`json.data.things[0].data.id` (base36) of a create response, as the decimal id."""
    try:
        id36 = body["json"]["data"]["things"][0]["data"]["id"]  # type: ignore[index]
        value = int(id36, 36)
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return value if 0 < value <= 2**63 - 1 and id36 == _base36(value) else None
