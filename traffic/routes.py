"""Which endpoint a request is, and everything the shadow needs parsed out of it.

`endpoint_for` is cheap (method + path) and runs on the request path; `parse_request` runs in the
shadow worker and either returns a ParsedRequest or the reason the request cannot be shadowed.
Anything unparseable is never shadowed: it is counted as skipped with that reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from diff_reports.types import READ_ENDPOINTS

WRITE_PATHS = {"/api/comment": "create", "/api/editusertext": "update", "/api/vote": "increment"}
READ_PATHS = {"/api/info": "info", "/api/morechildren": "morechildren"}
POST_READS = {"/api/morechildren": "morechildren"}  # r2 takes morechildren by POST too
# The field of each write that names the thing it acts on (create: the parent).
WRITE_TARGET = {"create": "thing_id", "update": "thing_id", "increment": "id"}
# Thread paths as r2 routed them: an optional /r/<sub> before, an optional /<slug>[/<comment>] after.
COMMENTS_RE = re.compile(r"(?:/r/[^/]+)?/comments/([^/]+)(?:/[^/]+(?:/[^/]+)?)?")
FULLNAME_RE = re.compile(r"(t[1-5])_([0-9a-z]+)")
ID_SPLIT_RE = re.compile(r"[ ,]+")
ID36_RE = re.compile(r"[0-9a-z]+")
MAX_ID = 2**63 - 1
FORM_TYPE = "application/x-www-form-urlencoded"


def canonical_path(path: str) -> str:
    """What the legacy routes by: the path without a trailing slash and a `.json` suffix."""
    path = path.rstrip("/")
    if path.endswith(".json"):
        path = path[: -len(".json")].rstrip("/")
    return path or "/"


def endpoint_for(method: str, path: str) -> str | None:
    """The shadowable endpoint of a request, or None for pass-through only."""
    path = canonical_path(path)
    if method == "GET":
        if path in READ_PATHS:
            return READ_PATHS[path]
        if COMMENTS_RE.fullmatch(path):
            return "comments"
    elif method == "POST":
        return WRITE_PATHS.get(path) or POST_READS.get(path)
    return None


def is_read(endpoint: str) -> bool:
    return endpoint in READ_ENDPOINTS


def valid_id36(text: str) -> bool:
    return bool(ID36_RE.fullmatch(text)) and 0 < int(text, 36) <= MAX_ID


def parse_fullname(text: str) -> tuple[str, str] | None:
    """(prefix, id36) of a well-formed fullname, else None."""
    m = FULLNAME_RE.fullmatch(text)
    if not m or not valid_id36(m.group(2)):
        return None
    return m.group(1), m.group(2)


def link_fullname(text: str) -> str | None:
    """`t3_abc` or bare `abc` (morechildren's link_id accepts both) -> `t3_abc`."""
    parsed = parse_fullname(text)
    if parsed:
        return text if parsed[0] == "t3" else None
    return f"t3_{text}" if valid_id36(text) else None


@dataclass(frozen=True)
class ParsedRequest:
    endpoint: str
    params: dict[str, str]            # query (reads) or form (writes) fields, first value of each
    target: str | None = None         # reads: the first requested fullname; writes: the thing acted on
    link: str | None = None           # the thread's t3_ fullname when the request alone says it
    all_targets: tuple[str, ...] = field(default_factory=tuple)


class Unshadowable(Exception):
    """Raised with the skip reason (a short snake_case label used in metrics)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _fields(text: str, *, strict: bool) -> dict[str, str]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=strict and bool(text),
                          encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise Unshadowable("invalid_utf8") from None
    except ValueError:
        raise Unshadowable("malformed_form") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            raise Unshadowable("nul_byte")
        out.setdefault(key, value)
    return out


def parse_request(endpoint: str, path: str, raw_query: str, content_type: str | None,
                  body: bytes | None) -> ParsedRequest:
    """Parse what the shadow needs; raise Unshadowable(reason) when it cannot be shadowed safely."""
    try:
        raw_query.encode("ascii")
    except UnicodeEncodeError:
        raise Unshadowable("invalid_query") from None
    query = _fields(raw_query, strict=False)
    if is_read(endpoint):
        if body:  # a POSTed read (morechildren): its form fields, which the legacy reads first
            query = {**query, **_form(content_type, body)}
        elif body is None and content_type:  # a POSTed read too large to buffer
            raise Unshadowable("body_too_large")
        return _parse_read(endpoint, path, query)
    if body is None:
        raise Unshadowable("body_too_large")
    form = _form(content_type, body)
    target = form.get(WRITE_TARGET[endpoint], "")
    parsed = parse_fullname(target)
    if not parsed or parsed[0] not in (("t1", "t3") if endpoint == "create" else ("t1",)):
        raise Unshadowable("malformed_thing_id")
    return ParsedRequest(endpoint, form, target, target if parsed[0] == "t3" else None, (target,))


def _form(content_type: str | None, body: bytes) -> dict[str, str]:
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime != FORM_TYPE:
        raise Unshadowable("not_form_encoded")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Unshadowable("invalid_utf8") from None
    return _fields(text, strict=True)


def _parse_read(endpoint: str, path: str, query: dict[str, str]) -> ParsedRequest:
    link: str | None
    if endpoint == "comments":
        m = COMMENTS_RE.fullmatch(canonical_path(path))
        if not m or not valid_id36(m.group(1)):
            raise Unshadowable("malformed_link")
        link = f"t3_{m.group(1)}"
        return ParsedRequest(endpoint, query, link, link, (link,))
    if endpoint == "morechildren":
        link = link_fullname(query.get("link_id", ""))
        if not link:
            raise Unshadowable("malformed_link")
        return ParsedRequest(endpoint, query, link, link, (link,))
    # The legacy drops malformed names (r2's VByName), so the rest is still worth comparing.
    ids = tuple(i for i in ID_SPLIT_RE.split(query.get("id", "")) if parse_fullname(i))
    first = ids[0] if ids else None
    return ParsedRequest(endpoint, query, first, first if first and first.startswith("t3_") else None, ids)
