"""Sticky capture sampling: whole threads are captured or not, independently of the shadow ramp.

The key is the thread's `t3_` fullname (as for the ramp); the bucket is `shadow_proxy.ramp.bucket`
of `capture:<salt>:<thread>`, so the captured threads are not the shadowed ones (a 5% capture and
a 5% ramp pick unrelated threads) and every proxy instance decides the same. The thread of a bare
`t1_` (votes) comes from the request, the legacy's response, a local map learned from every
response the recorder sees, or the proxy's shared link index; failing all, the comment itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from cachetools import LRUCache

from shadow_proxy.links import links_in
from shadow_proxy.ramp import BUCKETS, bucket

LinkResolver = Callable[[str], Awaitable[str | None]]


class CaptureSampler:
    def __init__(self, pct: float, salt: str = "capture", link_cache_size: int = 100_000) -> None:
        self.pct = pct
        self._salt = salt
        self._links: LRUCache[str, str] = LRUCache(maxsize=max(1, link_cache_size))
        self.resolver: LinkResolver | None = None

    @property
    def everything(self) -> bool:
        return self.pct >= 100

    def sampled(self, thread: str) -> bool:
        return bucket(f"capture:{self._salt}:{thread}") < round(self.pct * BUCKETS / 100)

    def learn(self, body: Any) -> None:
        for comment, link in links_in(body).items():
            self._links[comment] = link

    async def thread_of(self, target: str | None, link: str | None) -> str | None:
        """The sticky key: the request's link, else the target comment's thread, else the target."""
        if link or not target:
            return link
        known = self._links.get(target)
        if known is None and self.resolver is not None:
            known = await self.resolver(target)
        return known or target
