"""Faithful forwarding to the legacy: what the client sent in, what the legacy said back out.

Requests: method, raw path and query (never re-quoted), headers minus hop-by-hop, the body as
bytes up to `max_body_bytes`; a larger body is streamed on to the legacy unbuffered (and the
request is not shadowed). Responses: status, reason, headers minus hop-by-hop and the body exactly
as the legacy sent it (`auto_decompress=False`, so compressed bytes stay compressed).

aiohttp decodes header bytes as UTF-8 with surrogateescape and can only send valid UTF-8, so a
header value carrying invalid UTF-8 is re-encoded byte-for-character (latin-1) rather than
dropped; every valid header is forwarded unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

HOP_BY_HOP = frozenset(h.lower() for h in (
    "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
    "TE", "Trailer", "Trailers", "Transfer-Encoding", "Upgrade", "Expect",
))
# aiohttp would add these to an upstream request if absent; the legacy must see only the client's.
SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
STREAM_CHUNK = 64 * 1024


def _clean(value: str) -> str:
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("latin-1")


Headers = CIMultiDictProxy[str] | CIMultiDict[str]


def end_to_end(headers: Headers, *, drop: tuple[str, ...] = ()) -> CIMultiDict[str]:
    """A copy without hop-by-hop headers (including any the Connection header names)."""
    out: CIMultiDict[str] = CIMultiDict()
    add_end_to_end(headers, out, drop=drop)
    return out


def add_end_to_end(headers: Headers, out: CIMultiDict[str], *, drop: tuple[str, ...] = ()) -> None:
    """`headers` without hop-by-hop ones added to `out` in their order (no copy in between)."""
    named = {t.strip().lower() for v in headers.getall("Connection", ()) for t in v.split(",")}
    skip = HOP_BY_HOP | named | {d.lower() for d in drop} if named or drop else HOP_BY_HOP
    for name, value in headers.items():
        if name.lower() not in skip:
            out.add(_clean(name), _clean(value))


@dataclass
class RequestBody:
    """`data` holds the whole body when it fits; otherwise `stream` continues after `prefix`.

    `empty`: the client sent no body at all (so none is sent on, not even `Content-Length: 0`)."""

    data: bytes | None
    empty: bool = False
    prefix: bytes = b""
    stream: AsyncIterator[bytes] | None = None


async def read_body(request: web.Request, limit: int) -> RequestBody:
    """Buffer up to `limit` bytes; past it, hand back a stream that replays the prefix first."""
    if not request.body_exists:
        return RequestBody(b"", empty=True)
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = await request.content.read(limit + 1 - total)
        if not chunk:
            return RequestBody(b"".join(chunks))
        chunks.append(chunk)
        total += len(chunk)
    prefix = b"".join(chunks)

    async def rest() -> AsyncIterator[bytes]:
        yield prefix
        async for piece in request.content.iter_chunked(STREAM_CHUNK):
            yield piece

    return RequestBody(None, prefix=prefix, stream=rest())


def upstream_url(base: str, request: web.Request) -> URL:
    """Base URL plus the raw path and query exactly as received."""
    return URL(base.rstrip("/") + request.raw_path, encoded=True)


def upstream_body(body: RequestBody) -> bytes | AsyncIterator[bytes] | None:
    if body.empty:
        return None
    return body.data if body.data is not None else body.stream


def upstream_headers(request: web.Request, request_id: str, body: RequestBody) -> CIMultiDict[str]:
    """End-to-end headers, the client's Host, and the request id (the client's, or the minted one)."""
    # The client's Content-Length stays (in place) when it is the body's; otherwise aiohttp sets it.
    keep_length = body.data is None or request.headers.get("Content-Length") == str(len(body.data))
    headers = end_to_end(request.headers, drop=("Host",) if keep_length else ("Host", "Content-Length"))
    if headers.get("X-Request-Id") != request_id:
        headers.popall("X-Request-Id", None)
        headers["X-Request-Id"] = request_id
    if "Host" in request.headers:
        headers["Host"] = _clean(request.headers["Host"])
    return headers


class _LegacyResponse(web.StreamResponse):
    """aiohttp adds Content-Type, Date and Server when absent; the legacy's absence is kept."""

    _absent: tuple[str, ...] = ()

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        for name in self._absent:
            self.headers.popall(name, None)


async def send_response(request: web.Request, status: int, reason: str | None,
                        headers: Headers, body: bytes) -> web.StreamResponse:
    """Write the legacy's response to the client and finish it (before any shadow work)."""
    response = _LegacyResponse(status=status, reason=reason)
    response._absent = tuple(h for h in ("Content-Type", "Date", "Server") if h not in headers)
    # Headers keep the legacy's order; Content-Length stays where it was when it is the body's.
    add_end_to_end(headers, response.headers)
    bodiless = request.method == "HEAD" or status in (204, 304) or 100 <= status < 200
    if not bodiless and response.headers.get("Content-Length") != str(len(body)):
        response.headers.popall("Content-Length", None)
        response.content_length = len(body)
    try:
        await response.prepare(request)
        if body and request.method != "HEAD":
            await response.write(body)
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away; the legacy already acted, so the shadow still runs
    return response
