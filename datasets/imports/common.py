"""One recorded HTTP request (+ its response when known) -> one dataset request record.

Shared by the live capture (shadow_proxy.capture) and the file importers. The endpoint and the
fields are parsed with the proxy's own rules (`traffic.routes`), so what the proxy would
refuse to shadow is refused here with the same reason. PII is scrubbed with a `Scrubber`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from multidict import CIMultiDict

from datasets.scrub import Scrubber
from datasets.format import SORTS
from traffic.exchange import created_fullname, parse_body
from traffic.routes import Unshadowable, endpoint_for, parse_request

DEFAULT_LIMIT, DEFAULT_DEPTH = 200, 10
WRITES = frozenset({"create", "update", "increment"})
_REFUSED_REFS = itertools.count(1)  # placeholder refs of refused creates (capture gives no fallback)


class Skip(Exception):
    """A request that is not imported; `reason` is a short snake_case label that is counted."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ImportFormatError(ValueError):
    """A malformed record of an input file; names the record (or entry) index and the reason."""

    def __init__(self, source: str, index: int, reason: str, what: str = "record") -> None:
        super().__init__(f"{source}: {reason}" if what == "file" else f"{source}: {what} {index}: {reason}")
        self.source, self.index, self.reason, self.what = source, index, reason, what


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str                               # request target: "/path?query" or an absolute URL
    headers: CIMultiDict[str]
    body: bytes | None                        # None: over the proxy's max_body_bytes
    status: int | None = None                 # the recorded response's status, when there is one
    response_headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    response_body: bytes | None = None


@dataclass
class ImportResult:
    records: list[dict[str, Any]] = field(default_factory=list)   # request records, seq from 1
    skipped: Counter[str] = field(default_factory=Counter)
    source_records: int = 0
    malformed: list[str] = field(default_factory=list)  # messages of malformed records skipped (not strict)


def split_target(target: str) -> tuple[str, str]:
    """(path, raw query) of a request target or absolute URL."""
    parts = urlsplit(target)
    return parts.path or "/", parts.query


def assigned_fullname(headers: Mapping[str, str], body: bytes) -> str | None:
    """The `t1_` fullname a recorded create response carries."""
    return created_fullname(parse_body(CIMultiDict(headers), body))


def _int(params: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = params.get(key, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Skip("invalid_option") from None
    if not low <= value <= high:
        raise Skip("invalid_option")
    return value


def _sort(params: Mapping[str, str]) -> str:
    sort = params.get("sort") or "confidence"
    if sort not in SORTS:
        raise Skip("invalid_option")
    return sort


def to_record(req: HttpRequest, scrubber: Scrubber, *, fallback_ref: str | None = None) -> dict[str, Any]:
    """The dataset request record (without `seq`) of one request, or raise Skip(reason).

    Writes need the user (`X-Auth-User`). A write the legacy refused (4xx) is kept: replayed, the
    legacy refuses it again and the rewrite is judged on refusing it alike; a refused create has no
    assigned id, so it stands for a fresh placeholder ref nothing else names. Any other non-2xx
    status (a read's 4xx, any 5xx) skips the request (`legacy_status_<code>`). An accepted create
    takes the legacy-assigned fullname from its response as `ref`; without a response it gets
    `fallback_ref` (later requests naming the real id then do not resolve).
    """
    path, raw_query = split_target(req.target)
    endpoint = endpoint_for(req.method.upper(), path)
    if endpoint is None:
        raise Skip("unknown_path")
    refused = req.status is not None and 400 <= req.status < 500
    if req.status is not None and not 200 <= req.status < 300 and not (refused and endpoint in WRITES):
        raise Skip(f"legacy_status_{req.status}")
    try:
        parsed = parse_request(endpoint, path, raw_query, req.headers.get("Content-Type"), req.body)
    except Unshadowable as exc:
        raise Skip(exc.reason) from None
    p = parsed.params
    if endpoint == "comments":
        return {"op": "read_comments", "link": parsed.link, "sort": _sort(p),
                "limit": _int(p, "limit", DEFAULT_LIMIT, 1, 500), "depth": _int(p, "depth", DEFAULT_DEPTH, 1, 10)}
    if endpoint == "info":
        return {"op": "read_info", "ids": list(parsed.all_targets)}
    if endpoint == "morechildren":
        children = [c for c in p.get("children", "").split(",") if c]
        return {"op": "read_morechildren", "link": parsed.link, "children": children, "sort": _sort(p)}
    header = req.headers.get("X-Auth-User")
    name = (header or "").strip()
    if not name and not refused:
        raise Skip("no_user")
    # A write refused for want of a user is replayed as it came (`invalid: user`, as a probe says it):
    # with no header (user null) or an empty one ("").
    user: str | None = scrubber.user(name) if name else (None if header is None else "")
    no_user = {"invalid": "user"} if not name else {}
    record = _write_record(endpoint, parsed, p, user, scrubber, req, refused, fallback_ref)
    return {**record, **no_user}


def _write_record(endpoint: str, parsed: Any, p: Mapping[str, str], user: str | None, scrubber: Scrubber, req: HttpRequest,
                  refused: bool, fallback_ref: str | None) -> dict[str, Any]:
    if endpoint == "increment":
        if p.get("dir") not in ("-1", "0", "1"):
            raise Skip("invalid_option")
        return {"op": "increment", "user": user, "thing": parsed.target, "dir": int(p["dir"])}
    text = p.get("text", "")
    if not text:
        raise Skip("no_text")
    if endpoint == "update":
        return {"op": "update", "user": user, "thing": parsed.target, "text": scrubber.text(text)}
    if refused:
        return {"op": "create", "user": user, "parent": parsed.target, "text": scrubber.text(text),
                "ref": fallback_ref or f"ref_refused_{next(_REFUSED_REFS)}"}
    ref = assigned_fullname(req.response_headers, req.response_body) if req.response_body is not None else None
    if ref is None:
        if req.status is not None or fallback_ref is None:
            raise Skip("no_assigned_id")
        ref = fallback_ref
    return {"op": "create", "user": user, "parent": parsed.target, "text": scrubber.text(text), "ref": ref}


def convert(requests: Iterable[HttpRequest], scrubber: Scrubber, result: ImportResult | None = None) -> ImportResult:
    """Records for every importable request in order; the rest counted by reason."""
    result = result or ImportResult()
    for req in requests:
        result.source_records += 1
        try:
            record = to_record(req, scrubber, fallback_ref=f"ref_{result.source_records}")
        except Skip as exc:
            result.skipped[exc.reason] += 1
            continue
        result.records.append({"kind": "request", "seq": len(result.records) + 1, **record})
    return result
