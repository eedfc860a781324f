"""One primary exchange (request + legacy response) as handed to the shadow, and body decoding."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

import orjson
from multidict import CIMultiDict


@dataclass(frozen=True)
class Exchange:
    endpoint: str
    request_id: str
    method: str
    raw_path: str                  # path and query exactly as received
    path: str
    raw_query: str
    headers: CIMultiDict[str]      # end-to-end request headers as sent to the legacy
    body: bytes | None             # None: over max_body_bytes (streamed, never shadowed)
    status: int
    legacy_headers: CIMultiDict[str]
    legacy_body: bytes
    legacy_duration_s: float
    received_at: float = 0.0       # wall time the legacy's answer reached the proxy (its write time, near enough)


def _decompress(headers: CIMultiDict[str], body: bytes) -> bytes:
    encoding = headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    return body


def parse_body(headers: CIMultiDict[str], body: bytes) -> Any:
    """The comparable form of a response body: parsed JSON, else text (invalid UTF-8 replaced)."""
    try:
        raw = _decompress(headers, body)
    except zlib.error:
        raw = body
    if not raw:
        return ""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)  # lone surrogate escapes, which orjson refuses
    except ValueError:
        return text


def created_fullname(body: Any) -> str | None:
    """The `t1_` fullname a create's parsed answer carries (`json.data.things[0].data.name`), if any."""
    try:
        name = body["json"]["data"]["things"][0]["data"]["name"]
    except (KeyError, IndexError, TypeError):
        return None
    return name if isinstance(name, str) and name.startswith("t1_") and len(name) > 3 else None
