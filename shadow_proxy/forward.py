"""The request handler: forward to the legacy, answer the client, then offer the shadow.

Order is the guarantee: the legacy response is fully written to the client before anything
shadow-related happens, and what happens then is one non-blocking `offer` (and only when the
endpoint is ramped above 0). Legacy failures are answered by the proxy with a JSON 502/504 that
says so; the shadow is never consulted for a primary response.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import aiohttp
import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from traffic.exchange import Exchange
from shadow_proxy.metrics import PASSTHROUGH, ProxyMetrics
from shadow_proxy.passthrough import (
    SKIP_AUTO_HEADERS, read_body, send_response, upstream_body, upstream_headers, upstream_url,
)
from judge.protocols import RaisedHook
from shadow_proxy.queue import ShadowQueue
from shadow_proxy.ramp import RampState
from traffic.routes import endpoint_for
from telemetry.http import REQUEST_ID_KEY
from telemetry.logs import get_logger, new_request_id

if TYPE_CHECKING:
    from shadow_proxy.capture.recorder import CaptureRecorder

log = get_logger("shadow_proxy.forward")


def proxy_error(status: int, error: str, detail: str, request_id: str) -> web.Response:
    body = {"error": error, "detail": detail, "request_id": request_id, "source": "tapcompare-proxy"}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json",
                        headers={"X-Tapcompare-Proxy-Error": error, "X-Request-Id": request_id})


class Forwarder:
    def __init__(self, session: aiohttp.ClientSession, legacy_url: str, legacy_timeout_s: float,
                 max_body_bytes: int, ramp: RampState, queue: ShadowQueue[Exchange],
                 metrics: ProxyMetrics, raised: RaisedHook, recorder: CaptureRecorder | None = None) -> None:
        self._session = session
        self._legacy_url = legacy_url
        self._timeout = aiohttp.ClientTimeout(total=legacy_timeout_s)
        self._max_body = max_body_bytes
        self._ramp = ramp
        self._queue = queue
        self._metrics = metrics
        self._raised = raised
        self._recorder = recorder
        self.completed = 0  # requests handled, however each ended (answered, failed, client gone): settle waits on it
        self._completed_changed = asyncio.Condition()

    async def wait_completed(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            async with self._completed_changed:
                await self._completed_changed.wait_for(lambda: self.completed >= count)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._forward(request)
        finally:
            # counted however the exchange ended (a client gone while its answer was sent, too):
            # a replay's settle waits for this count
            await self._done()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = request.get(REQUEST_ID_KEY) or request.headers.get("X-Request-Id") or new_request_id()
        endpoint = endpoint_for(request.method, request.path)
        label = endpoint or PASSTHROUGH
        body = await read_body(request, self._max_body)
        headers = upstream_headers(request, request_id, body)
        legacy_started = time.perf_counter()
        try:
            async with self._session.request(
                request.method, upstream_url(self._legacy_url, request), headers=headers,
                data=upstream_body(body),
                skip_auto_headers=SKIP_AUTO_HEADERS, allow_redirects=False, timeout=self._timeout,
                compress=None, chunked=None,
            ) as upstream:
                status, reason = upstream.status, upstream.reason
                legacy_headers = upstream.headers  # copied only when the exchange is handed off
                legacy_body = await upstream.read()
        except (asyncio.TimeoutError, TimeoutError):
            self._metrics.legacy_errors.labels("timeout").inc()
            log.warning("legacy_timeout", path=request.path, timeout_s=self._timeout.total)
            return proxy_error(504, "legacy_timeout", f"the legacy backend did not answer within "
                                                      f"{self._timeout.total}s", request_id)
        except (aiohttp.ClientError, OSError) as exc:
            self._metrics.legacy_errors.labels("unreachable").inc()
            log.warning("legacy_unreachable", path=request.path, error=repr(exc))
            return proxy_error(502, "legacy_unreachable", f"the legacy backend could not be reached: "
                                                          f"{type(exc).__name__}", request_id)
        except ValueError as exc:  # e.g. a header aiohttp refuses to serialise
            self._metrics.legacy_errors.labels("unforwardable").inc()
            log.warning("request_unforwardable", path=request.path, error=repr(exc))
            return proxy_error(400, "unforwardable_request", f"the proxy could not forward this request: "
                                                             f"{exc}", request_id)
        legacy_s = time.perf_counter() - legacy_started
        response = await send_response(request, status, reason, legacy_headers, legacy_body)
        total = time.perf_counter() - started
        self._metrics.primary.labels(label).observe(total)
        self._metrics.legacy.labels(label).observe(legacy_s)
        self._metrics.overhead.labels(label).observe(max(total - legacy_s, 0.0))
        if endpoint is not None:
            self._hand_off(request, endpoint, request_id, headers, body.data, status, legacy_headers,
                           legacy_body, legacy_s)
        return response

    async def _done(self) -> None:
        self.completed += 1
        async with self._completed_changed:
            self._completed_changed.notify_all()

    def _hand_off(self, request: web.Request, endpoint: str, request_id: str, headers: CIMultiDict[str],
                  body: bytes | None, status: int, legacy_headers: CIMultiDictProxy[str], legacy_body: bytes,
                  legacy_s: float) -> None:
        """After the client has its answer: one non-blocking offer to the shadow queue (when the
        endpoint is ramped) and one to the live capture (when on). Neither may fail the request."""
        try:
            shadow = self._ramp.pct(endpoint) > 0
            if not shadow and self._recorder is None:
                return
            exchange = Exchange(
                endpoint=endpoint, request_id=request_id, method=request.method, raw_path=request.raw_path,
                path=request.path, raw_query=request.rel_url.raw_query_string, headers=headers, body=body,
                status=status, legacy_headers=CIMultiDict(legacy_headers), legacy_body=legacy_body,
                legacy_duration_s=legacy_s,
                received_at=time.time(),
            )
        except Exception as exc:
            self._raised("offer", exc)
            return
        if shadow:
            try:
                self._queue.offer(exchange)
            except Exception as exc:  # nothing shadow-side may fail a primary request
                self._raised("offer", exc)
        if self._recorder is not None:
            try:
                self._recorder.offer(exchange)
            except Exception as exc:  # capture may never fail a primary request
                self._raised("capture_offer", exc)
