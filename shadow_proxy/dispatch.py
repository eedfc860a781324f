"""The shadow side of one exchange: decide, call the new service, then hand a comparison job on.

Runs in a queue worker after the client already has the legacy response. Bodies are read whole
(up to `max_response_bytes`; larger ones are `skipped`, reason `too_large`). Failures of the new
service (errors, timeouts, 5xx the legacy did not also return) are data: an Observation with
`error`, which the comparator turns into `shadow_error`. Failures of our own parts (comparator,
sink, validator, guardrail, publisher) go to the `raised` hook and are counted; none of them can
reach the primary path.

Where the comparison runs is the `ComparisonExecutor`: `InlineExecutor` (default) judges the job
here (shadow_proxy.jobs.runner) and records the verdicts; `StreamExecutor` publishes it to a
Redis Stream for `tapcompare worker` processes (proxy.compare_mode = "stream").
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from multidict import CIMultiDict

from diff_reports.types import TOO_LARGE, Observation, VerdictKind, VerdictRecord, read_response_path, write_response_path
from legacy_adapter.codec import to36
from shadow_proxy.exchange import Exchange, parse_body
from shadow_proxy.guardrails import Guardrail
from shadow_proxy.jobs.codec import CapturedRequest, ComparisonJob, JobKind, job_id_for
from shadow_proxy.jobs.publisher import JobPublisher
from shadow_proxy.jobs.recheck import RecheckReads
from shadow_proxy.jobs.runner import DEFAULT_MAX_RESPONSE_BYTES, JobRunner, call_side, recheck_headers
from shadow_proxy.links import LinkIndex, links_in
from shadow_proxy.metrics import ProxyMetrics
from shadow_proxy.passthrough import end_to_end
from shadow_proxy.protocols import Comparator, RaisedHook, VerdictSink, WriteValidator
from shadow_proxy.ramp import RampState
from shadow_proxy.routes import ParsedRequest, Unshadowable, is_read, parse_request
from shadow_proxy.thread_order import ThreadOrder


@dataclass(frozen=True)
class ShadowTarget:
    base_url: str
    tap_secret: str
    timeout_s: float
    legacy_url: str = ""           # for the read-mismatch recheck (through the shadow's own pool)
    recheck_reads: bool = True
    validate_timeout_s: float = 30.0
    # proxy.max_shadow_response_bytes: bodies are read whole up to this, else `skipped` (too_large)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


class ComparisonExecutor(Protocol):
    """Takes a job once the new service answered (writes: still under the thread's write lock)."""

    async def submit(self, job: ComparisonJob) -> None: ...


class InlineExecutor:
    """Judge here, record through the Shadower's emit (metrics, sink, guardrail)."""

    def __init__(self, shadower: "Shadower") -> None:
        self._shadower = shadower

    async def submit(self, job: ComparisonJob) -> None:
        await self._shadower.runner.run(job, self._shadower.emit)


class StreamExecutor:
    """Publish to the jobs stream; the verdicts are recorded by a worker."""

    def __init__(self, publisher: JobPublisher) -> None:
        self._publisher = publisher

    async def submit(self, job: ComparisonJob) -> None:
        await self._publisher.publish(job)


class Shadower:
    def __init__(self, session: aiohttp.ClientSession, target: ShadowTarget, ramp: RampState,
                 links: LinkIndex, comparator: Comparator, sink: VerdictSink, validator: WriteValidator,
                 guardrail: Guardrail | None, metrics: ProxyMetrics, raised: RaisedHook,
                 publisher: JobPublisher | None = None) -> None:
        self._session = session
        self._target = target
        self._ramp = ramp
        self._links = links
        self._sink = sink
        self._guardrail = guardrail
        self._metrics = metrics
        self._raised = raised
        recheck = self._recheck if target.recheck_reads and target.legacy_url else None
        self.runner = JobRunner(comparator, validator, raised, recheck=recheck,
                                validate_timeout_s=target.validate_timeout_s)
        self.executor: ComparisonExecutor = StreamExecutor(publisher) if publisher else InlineExecutor(self)
        # One shadow write per thread at a time, in the order the legacy answered them, and reads
        # after the writes before them; (inline) each validation sees the sister right after its write.
        self._order = ThreadOrder()

    # The comparator and validator live in the runner; tests swap them here.
    @property
    def _comparator(self) -> Comparator:
        return self.runner.comparator

    @_comparator.setter
    def _comparator(self, value: Comparator) -> None:
        self.runner.comparator = value

    @property
    def _validator(self) -> WriteValidator:
        return self.runner.validator

    @_validator.setter
    def _validator(self, value: WriteValidator) -> None:
        self.runner.validator = value

    def close(self) -> None:
        self.runner.close()

    async def handle(self, ex: Exchange) -> None:
        try:
            parsed = parse_request(ex.endpoint, ex.path, ex.raw_query, ex.headers.get("Content-Type"), ex.body)
        except Unshadowable as skip:
            await self._skip(ex, skip.reason)
            return
        legacy_body = parse_body(ex.legacy_headers, ex.legacy_body)
        # One exchange at a time, in queue order, until it has its thread key and its place in the
        # thread's order (thread_order.py): the key of a vote on a comment just created is learned
        # from the create's exchange, which must therefore come first.
        async with self._order.intake:
            if 200 <= ex.status < 300:
                await self._guard("learn_links", self._links.learn(legacy_body))
            key = await self._sticky_key(parsed, legacy_body)
            if not self._ramp.sampled(ex.endpoint, key):
                self._metrics.sampled.labels(ex.endpoint, "out").inc()
                return
            self._metrics.sampled.labels(ex.endpoint, "in").inc()
            read = is_read(ex.endpoint)
            place = self._order.reserve_read(key) if read else self._order.admit_write(key)
        legacy = Observation("legacy", {"status": ex.status, "body": legacy_body}, duration_s=ex.legacy_duration_s)
        if read:
            # the writes the legacy answered before this read are in the rewrite first
            await self._order.read_barrier(key, place)
            await self._read(ex, parsed, key, legacy)
        else:
            async with self._order.turn(key, place):
                await self._write_serialised(ex, parsed, key, legacy)

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

    def _job(self, ex: Exchange, kind: JobKind, path: str, entity: str, key: str, legacy: Observation,
             **extra: Any) -> ComparisonJob:
        headers = tuple(end_to_end(ex.headers, drop=("Host", "Content-Length")).items())
        req = CapturedRequest(ex.method, ex.raw_path, headers, ex.body)
        return ComparisonJob(job_id=job_id_for(ex.request_id, ex.endpoint, req, legacy), kind=kind,
                             endpoint=ex.endpoint, request_id=ex.request_id, path=path, entity=entity, link=key,
                             request=req, legacy=legacy, legacy_status=ex.status, legacy_at=ex.received_at,
                             **extra)

    async def _read(self, ex: Exchange, parsed: ParsedRequest, key: str, legacy: Observation) -> None:
        if len(ex.legacy_body) > self._target.max_response_bytes:
            # The legacy's own answer is over the limit: it is not compared (cut or otherwise).
            await self._skip(ex, TOO_LARGE, record=True)
            return
        new = await self._call_new(ex, CIMultiDict())
        await self.executor.submit(self._job(ex, "read", read_response_path(ex.endpoint), parsed.target or key,
                                             key, legacy, new=new))

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
            entity = f"t1_{to36(thing_id)}"
        new = await self._call_new(ex, tap)
        await self.executor.submit(self._job(
            ex, "write", write_response_path(ex.endpoint), entity, key, legacy, new=new, request_time=request_time,
            thing_id=thing_id, form=dict(parsed.params), auth_user=ex.headers.get("X-Auth-User")))

    async def _call_new(self, ex: Exchange, tap: CIMultiDict[str]) -> Observation:
        return await self._call(ex, self._target.base_url, tap, ex.endpoint)

    async def _recheck(self, job: ComparisonJob) -> RecheckReads:
        """The read again at the rewrite, then at the legacy, through the shadow's pool (inline mode)."""
        headers = recheck_headers(job.request, job.request_id)
        t = self._target
        new, outcome = await call_side(self._session, t.base_url, job.request, headers, t.timeout_s,
                                       job.legacy_status, max_bytes=t.max_response_bytes)
        self._metrics.shadow.labels("new_recheck", outcome).observe(new.duration_s)
        legacy, outcome = await call_side(self._session, t.legacy_url, job.request, headers, t.timeout_s,
                                          job.legacy_status, side="legacy", max_bytes=t.max_response_bytes)
        self._metrics.shadow.labels("legacy_recheck", outcome).observe(legacy.duration_s)
        return RecheckReads(legacy, new)

    async def _call(self, ex: Exchange, base_url: str, tap: CIMultiDict[str], label: str) -> Observation:
        """The same request to `base_url`; failures become the Observation's error."""
        headers = end_to_end(ex.headers, drop=("Host", "Content-Length"))
        for name in [n for n in headers if n.lower().startswith("x-tap-")]:
            headers.popall(name)  # only the proxy may assert an identity
        headers.extend(tap)
        headers["X-Request-Id"] = ex.request_id
        started = time.perf_counter()
        obs, outcome = await call_side(self._session, base_url, CapturedRequest(ex.method, ex.raw_path, (), ex.body),
                                       headers, self._target.timeout_s, ex.status,
                                       max_bytes=self._target.max_response_bytes)
        self._metrics.shadow.labels(label, outcome).observe(time.perf_counter() - started)
        return obs

    async def _skip(self, ex: Exchange, reason: str, *, record: bool = False) -> None:
        """Counted always; recorded as a `skipped` verdict for requests that were sampled."""
        self._metrics.skipped.labels(ex.endpoint, reason).inc()
        if record:
            path = read_response_path(ex.endpoint) if is_read(ex.endpoint) else write_response_path(ex.endpoint)
            skipped = VerdictRecord(path, VerdictKind.SKIPPED, request_id=ex.request_id, reason=reason)
            if isinstance(self.executor, InlineExecutor):
                await self.emit(ex.endpoint, skipped, guard=False)
            else:
                body = parse_body(ex.legacy_headers, ex.legacy_body)
                legacy = Observation("legacy", {"status": ex.status, "body": body})
                await self.executor.submit(self._job(ex, "record", path, "", "", legacy, records=(skipped,)))

    async def emit(self, endpoint: str, record: VerdictRecord, guard: bool = True) -> None:
        self._metrics.verdicts.labels(record.path, VerdictKind(record.verdict).value).inc()
        await self._guard("sink", self._sink.record(record))
        if guard and self._guardrail is not None:
            await self._guard("guardrail", self._guardrail.observe(endpoint, VerdictKind(record.verdict)))

    async def _guard(self, operation: str, awaitable) -> None:
        try:
            await awaitable
        except Exception as exc:
            self._raised(operation, exc)


def _created_id(body: object) -> int | None:
    """`json.data.things[0].data.id` (base36) of a create response, as the decimal id."""
    try:
        id36 = body["json"]["data"]["things"][0]["data"]["id"]  # type: ignore[index]
        value = int(id36, 36)
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return value if 0 < value <= 2**63 - 1 and id36 == to36(value) else None
