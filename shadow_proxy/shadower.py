"""The shadow side of one exchange: sample it, call the rewrite, hand the shadowed request on.

Runs in a queue worker after the client already has the legacy response. The request is parsed
(traffic.routes), keyed to its thread and sampled (ramp), ordered behind the thread's earlier
writes (thread_order), sent to the rewrite (shadow_calls) and handed, as one frozen
`ComparisonJob`, to the executor the proxy was built with: the judge's runner (inline mode: it
compares, validates and records) or the jobs publisher (stream mode: a `tapcompare worker` does).
Nothing comes back here. Failures of the rewrite are data (the Observation's `error`); failures of
our own parts go to the `raised` hook; none of them can reach the primary path.

Writes the legacy refused (4xx) are shadowed too: the rewrite must refuse them alike and change
nothing, which the judge checks on the response and all six store paths. A refused create gets an
id from a range production never assigns (traffic.identity); a refused write whose target is not
a well-formed fullname has no thread, so it is sampled by its own request id. A write the legacy
failed (5xx) has no reference answer and stays `skipped` (`legacy_failed`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDict

from diff_reports.types import TOO_LARGE, Observation, VerdictKind, VerdictRecord, read_response_path, write_response_path
from judge.breaker import CIRCUIT_OPEN, Breaker
from judge.codec import job_id_for
from judge.protocols import ComparisonExecutor, RaisedHook
from legacy_adapter.codec import to36
from shadow_proxy.links import LinkIndex, links_in
from shadow_proxy.metrics import ProxyMetrics
from shadow_proxy.passthrough import end_to_end
from shadow_proxy.ramp import RampState
from shadow_proxy.shadow_calls import DEFAULT_MAX_RESPONSE_BYTES, call_side
from shadow_proxy.thread_order import ThreadOrder
from traffic.exchange import Exchange, created_fullname, parse_body
from traffic.identity import refused_create_id
from traffic.routes import ParsedRequest, Unshadowable, is_read, parse_request

from traffic.shadowed import CapturedRequest, ComparisonJob, JobKind

MALFORMED_TARGET = "malformed_thing_id"
FAILED_CALLS = ("timeout", "error")  # call_side outcomes the rewrite's breaker counts as failures


def legacy_refused(status: int) -> bool:
    """The legacy answered the write with a refusal (its own failures, 5xx, are not refusals)."""
    return 400 <= status < 500


@dataclass(frozen=True)
class ShadowTarget:
    base_url: str
    tap_secret: str
    timeout_s: float
    # proxy.max_shadow_response_bytes: bodies are read whole up to this, else `skipped` (too_large)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


class Shadower:
    def __init__(self, session: aiohttp.ClientSession, target: ShadowTarget, ramp: RampState, links: LinkIndex,
                 executor: ComparisonExecutor, metrics: ProxyMetrics, raised: RaisedHook,
                 breaker: Breaker | None = None) -> None:
        self._session = session
        # The rewrite's breaker: while open it is not called, and the job says `circuit_open`.
        self.breaker = breaker
        self._target = target
        self._ramp = ramp
        self._links = links
        self.executor = executor
        self._metrics = metrics
        self._raised = raised
        # One shadow write per thread at a time, in the order the legacy answered them, and reads
        # after the writes before them; (inline) each validation sees the sister right after its write.
        self._order = ThreadOrder()

    async def handle(self, ex: Exchange) -> None:
        try:
            parsed = parse_request(ex.endpoint, ex.path, ex.raw_query, ex.headers.get("Content-Type"), ex.body)
        except Unshadowable as skip:
            if not (skip.reason == MALFORMED_TARGET and legacy_refused(ex.status)):
                await self._skip(ex, skip.reason)
                return
            # A refused write naming no well-formed thing: the rewrite must refuse it too. It has
            # no thread, so it is sampled and ordered by its own request id.
            parsed = ParsedRequest(ex.endpoint, {}, None, f"unthreaded:{ex.request_id}")
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

    def _job(self, ex: Exchange, kind: JobKind, path: str, entity: str, key: str, legacy: Observation, *,
             new: Observation | None = None, request_time: str | None = None,
             records: tuple[VerdictRecord, ...] = ()) -> ComparisonJob:
        headers = tuple(end_to_end(ex.headers, drop=("Host", "Content-Length")).items())
        req = CapturedRequest(ex.method, ex.raw_path, headers, ex.body)
        return ComparisonJob(job_id=job_id_for(ex.request_id, ex.endpoint, req, legacy), kind=kind,
                             endpoint=ex.endpoint, request_id=ex.request_id, path=path, entity=entity, link=key,
                             request=req, legacy=legacy, new=new, request_time=request_time,
                             auth_user=ex.headers.get("X-Auth-User"), records=records, legacy_status=ex.status,
                             legacy_at=ex.received_at)

    async def _read(self, ex: Exchange, parsed: ParsedRequest, key: str, legacy: Observation) -> None:
        if len(ex.legacy_body) > self._target.max_response_bytes:
            # The legacy's own answer is over the limit: it is not compared (cut or otherwise).
            await self._skip(ex, TOO_LARGE, record=True)
            return
        tap: CIMultiDict[str] = CIMultiDict()
        read_time = ex.legacy_headers.get("X-Request-Time")
        if read_time:
            # The legacy's time of the read: both render time-dependent fields (score_hidden) alike.
            tap.update({"X-Tap-Secret": self._target.tap_secret, "X-Tap-Request-Time": read_time})
        new = await self._call_new(ex, tap)
        await self.executor.submit(self._job(ex, "read", read_response_path(ex.endpoint), parsed.target or key,
                                             key, legacy, new=new))

    async def _write_serialised(self, ex: Exchange, parsed: ParsedRequest, key: str, legacy: Observation) -> None:
        refused = legacy_refused(ex.status)
        if not refused and not 200 <= ex.status < 300:
            # The legacy itself failed (5xx): there is no reference answer, and what the rewrite
            # would store could not be told right from wrong.
            await self._skip(ex, "legacy_failed", record=True)
            return
        request_time = ex.legacy_headers.get("X-Request-Time")
        if not request_time and not refused:
            await self._skip(ex, "no_request_time", record=True)
            return
        tap = CIMultiDict({"X-Tap-Secret": self._target.tap_secret})
        if request_time:
            tap["X-Tap-Request-Time"] = request_time
        entity = parsed.target or key
        if ex.endpoint == "create":
            thing_id = refused_create_id(ex.request_id) if refused else _created_id(legacy.value["body"])
            if thing_id is None:
                await self._skip(ex, "no_assigned_id", record=True)
                return
            tap["X-Tap-Thing-Id"] = str(thing_id)
            entity = f"t1_{to36(thing_id)}"
        new = await self._call_new(ex, tap)
        await self.executor.submit(self._job(
            ex, "write", write_response_path(ex.endpoint), entity, key, legacy, new=new, request_time=request_time))

    async def _call_new(self, ex: Exchange, tap: CIMultiDict[str]) -> Observation:
        breaker = self.breaker
        if breaker is not None and not breaker.allow():
            self._metrics.shadow.labels(ex.endpoint, CIRCUIT_OPEN).observe(0.0)
            return Observation("new", error=CIRCUIT_OPEN)
        obs, outcome = await self._call(ex, self._target.base_url, tap, ex.endpoint)
        if breaker is not None:
            # Only unreachable and silent count: an answer, even a 5xx, came back fast.
            breaker.report(outcome not in FAILED_CALLS)
        return obs

    async def _call(self, ex: Exchange, base_url: str, tap: CIMultiDict[str], label: str) -> tuple[Observation, str]:
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
        return obs, outcome

    async def _skip(self, ex: Exchange, reason: str, *, record: bool = False) -> None:
        """Counted always; handed on as a `skipped` verdict for requests that were sampled."""
        self._metrics.skipped.labels(ex.endpoint, reason).inc()
        if record:
            path = read_response_path(ex.endpoint) if is_read(ex.endpoint) else write_response_path(ex.endpoint)
            skipped = VerdictRecord(path, VerdictKind.SKIPPED, request_id=ex.request_id, reason=reason)
            legacy = Observation("legacy", {"status": ex.status, "body": parse_body(ex.legacy_headers, ex.legacy_body)})
            await self._guard("submit", self.executor.submit(self._job(ex, "record", path, "", "", legacy,
                                                                        records=(skipped,))))

    async def _guard(self, operation: str, awaitable: Awaitable[None]) -> None:
        try:
            await awaitable
        except Exception as exc:
            self._raised(operation, exc)


def _created_id(body: object) -> int | None:
    """The decimal id of the comment a create's answer carries (its base36 fullname, checked)."""
    name = created_fullname(body)
    try:
        value = int(name[3:], 36) if name else 0
    except ValueError:
        return None
    return value if 0 < value <= 2**63 - 1 and name == f"t1_{to36(value)}" else None
