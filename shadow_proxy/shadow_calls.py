"""The shadow's own HTTP calls: the request to the rewrite, and the read again at both sides for a
read-mismatch recheck. Separate pools and timeouts from the primary path; every failure becomes
the Observation's error (Scientist: a candidate's exception is data).

Bodies are read whole up to `max_bytes` (proxy.max_shadow_response_bytes); a larger one is an
error starting `ResponseTooLarge:`, which the judge records as `skipped` (`too_large`), never
compared cut.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from diff_reports.types import Observation
from judge.breaker import Breaker
from traffic.shadowed import RecheckReads
from traffic.shadowed import TOO_LARGE_ERROR
from shadow_proxy.passthrough import SKIP_AUTO_HEADERS
from traffic.exchange import parse_body
from traffic.shadowed import CapturedRequest, ComparisonJob

DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # ProxySettings.max_shadow_response_bytes


class ResponseTooLarge(Exception):
    def __init__(self, size: int, limit: int, declared: bool) -> None:
        what = "declares" if declared else "sent at least"
        super().__init__(f"the body {what} {size} bytes, over the limit of {limit} (proxy.max_shadow_response_bytes)")
        self.size, self.limit = size, limit


async def read_whole(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The complete body, or ResponseTooLarge: checked against Content-Length first, then against the
    bytes actually read (decompressed, chunked or lying about its length)."""
    declared = resp.content_length
    if declared is not None and declared > limit:
        raise ResponseTooLarge(declared, limit, True)
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_any():
        total += len(chunk)
        if total > limit:
            raise ResponseTooLarge(total, limit, False)
        chunks.append(chunk)
    return b"".join(chunks)


async def call_side(session: aiohttp.ClientSession, base_url: str, req: CapturedRequest, headers: CIMultiDict[str],
                    timeout_s: float, primary_status: int, *, side: str = "new",
                    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> tuple[Observation, str]:
    """The captured request sent to `base_url`: (observation, outcome ok|5xx|timeout|error|too_large).
    A 5xx on a request the legacy answered below 500 is the new side's error, not a value."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            async with session.request(
                req.method, URL(base_url.rstrip("/") + req.raw_path, encoded=True), headers=headers,
                data=req.body or None, skip_auto_headers=SKIP_AUTO_HEADERS, allow_redirects=False,
            ) as resp:
                body = await read_whole(resp, max_bytes)
                status = resp.status
                value = {"status": status, "body": parse_body(CIMultiDict(), body)}
        if status >= 500 and primary_status < 500:
            return Observation(side, error=f"HTTPStatusError: {status} {str(value['body'])[:200]}",
                               duration_s=time.perf_counter() - started), "5xx"
        return Observation(side, value, duration_s=time.perf_counter() - started), "ok"
    except ResponseTooLarge as exc:
        return Observation(side, error=f"{TOO_LARGE_ERROR}: {exc}", duration_s=time.perf_counter() - started), \
            "too_large"
    except TimeoutError:
        return Observation(side, error=f"TimeoutError: no answer within {timeout_s}s",
                           duration_s=time.perf_counter() - started), "timeout"
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return Observation(side, error=f"{type(exc).__name__}: {exc}", duration_s=time.perf_counter() - started), "error"


def recheck_headers(req: CapturedRequest, request_id: str) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict(req.headers)
    for name in [n for n in headers if n.lower().startswith("x-tap-")]:
        headers.popall(name)
    headers["X-Request-Id"] = request_id
    return headers




async def reread(session: aiohttp.ClientSession, job: ComparisonJob, *, new_url: str | None, legacy_url: str,
                 timeout_s: float, max_bytes: int,
                 observe: Callable[[str, str, float], None] = lambda side, outcome, seconds: None,
                 breaker: Breaker | None = None) -> RecheckReads:
    """The read again at the rewrite (when its address is known and its `breaker` lets it), then at
    the legacy: one recheck round (judge.recheck). `observe(side, outcome, seconds)` times each call."""
    headers = recheck_headers(job.request, job.request_id)
    new = None
    if new_url and (breaker is None or breaker.allow()):
        new, outcome = await call_side(session, new_url, job.request, headers, timeout_s, job.legacy_status,
                                       max_bytes=max_bytes)
        observe("new_recheck", outcome, new.duration_s)
        if breaker is not None:
            breaker.report(outcome not in ("timeout", "error"))
    legacy, outcome = await call_side(session, legacy_url, job.request, headers, timeout_s, job.legacy_status,
                                      side="legacy", max_bytes=max_bytes)
    observe("legacy_recheck", outcome, legacy.duration_s)
    return RecheckReads(legacy, new)
