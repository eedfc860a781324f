"""The request paths the API answers: each endpoint's path as written, or with a trailing slash, a
`.json` suffix, and for threads `/r/<subreddit>` before and `/<slug>[/<comment36>]` after."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FIXED = {
    "/api/info": "info",
    "/api/morechildren": "morechildren",
    "/api/comment": "comment",
    "/api/editusertext": "editusertext",
    "/api/vote": "vote",
}
ALLOWED_METHODS = {
    "info": ("GET",), "comments": ("GET",), "morechildren": ("GET", "POST"),
    "comment": ("POST",), "editusertext": ("POST",), "vote": ("POST",),
}
WRITE_ENDPOINTS = frozenset({"comment", "editusertext", "vote"})
_THREAD = re.compile(r"^(?:/r/(?P<sr>[^/]+))?/comments/(?P<link>[^/]+)(?:/(?P<slug>[^/]+)(?:/(?P<comment>[^/]+))?)?$")


@dataclass(frozen=True)
class ApiPath:
    endpoint: str
    link36: str = ""
    comment36: str = ""
    subreddit: str = ""


def _strip(path: str) -> str:
    trimmed = path.rstrip("/")
    if trimmed.endswith(".json"):
        trimmed = trimmed[:-5].rstrip("/")
    return trimmed


def api_path(path: str) -> ApiPath | None:
    """What `path` asks for, or None when it is not an API path."""
    path = _strip(path)
    if path in _FIXED:
        return ApiPath(_FIXED[path])
    m = _THREAD.match(path)
    if m is None:
        return None
    return ApiPath("comments", m["link"], m["comment"] or "", m["sr"] or "")
