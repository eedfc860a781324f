"""Which endpoint a request path is, accepting what r2 accepted: a trailing slash, a `.json`
suffix, and thread paths `[/r/<sub>]/comments/<link36>[/<slug>[/<comment36>]]`."""

from __future__ import annotations

import re
from dataclasses import dataclass

SIMPLE = {"/api/info": "info", "/api/morechildren": "morechildren", "/api/comment": "create",
          "/api/editusertext": "update", "/api/vote": "increment"}
METHODS = {"info": ("GET",), "comments": ("GET",), "morechildren": ("GET", "POST"), "create": ("POST",),
           "update": ("POST",), "increment": ("POST",)}
WRITES = frozenset({"create", "update", "increment"})
_THREAD = re.compile(r"(?:/r/([^/]+))?/comments/([^/]+)(?:/([^/]+)(?:/([^/]+))?)?")


@dataclass(frozen=True)
class Route:
    endpoint: str
    link36: str | None = None      # /comments: the link's base36 id as written in the path
    comment36: str | None = None   # /comments permalink: the focused comment's base36 id
    subreddit: str | None = None   # /r/<sub>/comments/...: the subreddit named in the path


def canonical(path: str) -> str:
    """The path without one trailing slash and one `.json` suffix (in either order)."""
    path = path.rstrip("/")
    if path.endswith(".json"):
        path = path[: -len(".json")].rstrip("/")
    return path or "/"


def resolve(path: str) -> Route | None:
    path = canonical(path)
    if path in SIMPLE:
        return Route(SIMPLE[path])
    m = _THREAD.fullmatch(path)
    if m:
        return Route("comments", link36=m.group(2), comment36=m.group(4), subreddit=m.group(1))
    return None
