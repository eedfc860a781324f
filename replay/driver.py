"""Send a dataset's request log through the proxy: per-thread order, a global rate and concurrency.

Each thread's requests go one after another, in log order; threads run concurrently (at most
`concurrency` requests in flight, at most `rate` per second overall). A create's `ref` is mapped
to the fullname the legacy returned, and later requests that name it are rewritten to it.

`lockstep` (the default) also waits, before a thread's next write, until the proxy recorded every
verdict of the requests before it (1 for a read or a write the legacy failed, 7 for a write it
accepted or refused), and before a read until every verdict of the writes before it. A run of
reads between two writes changes nothing on either side, so its reads are in flight together
(within `concurrency`); a write starts once all of them are judged. The shadowed read or write
then sees exactly the state its primary saw, so a verdict is never `raced` by the replay's own
next request. Without it (`--overlap`), only the primaries are ordered, and the harness's race
classification is exercised instead.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
import orjson

from datasets.format import RequestRecord
from replay.coverage import BehaviourCoverage, coverage_for
from replay.dataset import READ_OPS, WRITE_OPS, ReplayDataset
from replay.sink import CountingSink
from traffic.exchange import created_fullname

STORE_VERDICTS_PER_WRITE = 6


class UnresolvedRef(Exception):
    """A request names a create whose comment the legacy never returned."""


@dataclass
class DriveStats:
    sent: int = 0
    expected_verdicts: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)  # (op, legacy status)
    unresolved: Counter[str] = field(default_factory=Counter)            # op -> requests not sent
    transport_errors: Counter[str] = field(default_factory=Counter)
    verdict_timeouts: list[str] = field(default_factory=list)            # request ids
    refs: dict[str, str] = field(default_factory=dict)                   # dataset fullname -> replayed one
    seconds: float = 0.0
    coverage: BehaviourCoverage = field(default_factory=BehaviourCoverage)  # legacy branches its answers show


class RateLimiter:
    """At most `rate` starts per second (None: unlimited), spaced evenly."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if not self._interval:
            return
        async with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + self._interval
        if wait > 0:
            await asyncio.sleep(wait)  # pacing to the requested rate, not waiting for a state


class Driver:
    def __init__(self, dataset: ReplayDataset, proxy_url: str, sink: CountingSink, *, rate: float | None = None,
                 concurrency: int = 8, lockstep: bool = True, verdict_timeout_s: float = 60.0,
                 run_id: str | None = None, on_sent: Callable[[], None] | None = None) -> None:
        self.dataset = dataset
        self.proxy_url = proxy_url.rstrip("/")
        self.sink = sink
        self.lockstep = lockstep
        self.verdict_timeout_s = verdict_timeout_s
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.stats = DriveStats(coverage=coverage_for(dataset.seed))
        self._limiter = RateLimiter(rate)
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._on_sent = on_sent or (lambda: None)
        self._pending_refs = {r["ref"] for r in dataset.requests if r["op"] == "create"}

    # -- names ---------------------------------------------------------------------------------
    def _map(self, fullname: str) -> str:
        """The replayed fullname of a dataset fullname (links and seeded comments map to themselves)."""
        if fullname in self.stats.refs:
            return self.stats.refs[fullname]
        if fullname in self._pending_refs:
            raise UnresolvedRef(fullname)
        return fullname

    def _map36(self, id36: str) -> str:
        return self._map(f"t1_{id36}").split("_", 1)[1]

    def request_for(self, req: RequestRecord) -> tuple[str, str, dict[str, str] | None, dict[str, str]]:
        """(method, path with query, form or None, headers) for one dataset request."""
        op = req["op"]
        headers = {"X-Request-Id": f"replay-{self.run_id}-{req['seq']}"}
        raw = {"raw_json": "1"} if req.get("raw_json") else {}
        if op == "read_comments":
            query = urlencode({"sort": req["sort"], "limit": req.get("limit", 200), "depth": req.get("depth", 10), **raw})
            return "GET", f"/comments/{req['link'].split('_', 1)[1]}?{query}", None, headers
        if op == "read_info":
            query = urlencode({"id": ",".join(self._map(i) for i in req["ids"]), **raw})
            return "GET", f"/api/info?{query}", None, headers
        if op == "read_morechildren":
            query = urlencode({"link_id": req["link"], "children": ",".join(self._map36(c) for c in req["children"]),
                               "sort": req["sort"], **raw})
            return "GET", f"/api/morechildren?{query}", None, headers
        if req["user"] is not None:  # null: a refusal probe sent with no auth header at all
            headers["X-Auth-User"] = req["user"]
        if op == "create":
            return "POST", "/api/comment", {"thing_id": self._map(req["parent"]), "text": req["text"]}, headers
        if op == "update":
            return "POST", "/api/editusertext", {"thing_id": self._map(req["thing"]), "text": req["text"]}, headers
        return "POST", "/api/vote", {"id": self._map(req["thing"]), "dir": str(req["dir"])}, headers

    # -- running -------------------------------------------------------------------------------
    async def run(self) -> DriveStats:
        started = time.perf_counter()
        connector = aiohttp.TCPConnector(limit=0)
        # A deadline on every request: a proxy that never answers is a transport error naming it, not a hung run.
        timeout = aiohttp.ClientTimeout(total=self.verdict_timeout_s)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                         timeout=timeout) as session:
            await asyncio.gather(*(self._thread(session, reqs) for reqs in self.dataset.by_thread().values()))
        self.stats.seconds = time.perf_counter() - started
        return self.stats

    async def _thread(self, session: aiohttp.ClientSession, requests: list[RequestRecord]) -> None:
        if not self.lockstep:
            for req in requests:
                await self._one(session, req)
            return
        reads: list[asyncio.Task[None]] = []  # the run of reads since the thread's last write, in flight
        try:
            for req in requests:
                if req["op"] in READ_OPS:
                    reads.append(asyncio.create_task(self._one(session, req)))
                    continue
                if reads:
                    await asyncio.gather(*reads)
                    reads.clear()
                await self._one(session, req)
            if reads:
                await asyncio.gather(*reads)
        finally:
            for task in reads:
                task.cancel()

    async def _one(self, session: aiohttp.ClientSession, req: RequestRecord) -> None:
        op = req["op"]
        try:
            method, path, form, headers = self.request_for(req)
        except UnresolvedRef:
            self.stats.unresolved[op] += 1
            self._on_sent()
            return
        await self._limiter.acquire()
        async with self._slots:
            try:
                async with session.request(method, self.proxy_url + path, data=form, headers=headers) as resp:
                    status = resp.status
                    raw = await resp.read()
                try:
                    body = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    body = None  # not JSON (an error page): still counted by status
            except (aiohttp.ClientError, OSError, ValueError, TimeoutError) as exc:
                self.stats.transport_errors[type(exc).__name__] += 1
                self._on_sent()
                return
        self.stats.sent += 1
        self.stats.statuses[(op, status)] += 1
        # A write the legacy answered, accepting or refusing it, is judged on its six store paths
        # too; one the legacy failed (5xx) only gets its `skipped` response verdict.
        judged_write = op in WRITE_OPS and (200 <= status < 300 or 400 <= status < 500)
        expected = 1 + (STORE_VERDICTS_PER_WRITE if judged_write else 0)
        self.stats.expected_verdicts += expected
        names: dict[str, str] = {}
        if op == "create" and status == 200 and body is not None:
            created = created_fullname(body)
            if created:
                self.stats.refs[req["ref"]] = created
                self._pending_refs.discard(req["ref"])
                names["created"] = created
        for key in ("thing", "parent"):
            if key in req and req["op"] in WRITE_OPS:
                names[key] = form.get("id" if op == "increment" else "thing_id", "") if form else ""
        self.stats.coverage.observe(req, names, status, body)
        self._on_sent()
        if self.lockstep and not await self.sink.wait_request(headers["X-Request-Id"], expected, self.verdict_timeout_s):
            self.stats.verdict_timeouts.append(headers["X-Request-Id"])


__all__ = ["Driver", "DriveStats", "UnresolvedRef"]
