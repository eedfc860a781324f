"""A client for the legacy HTTP API (also usable against the rewrite: same endpoints).

Every call returns a `Reply` with the status, the headers and the raw body bytes, untouched, so
callers compare exactly what the service sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp
from multidict import CIMultiDictProxy


@dataclass(frozen=True)
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        import json
        return json.loads(self.body)


class LegacyClient:
    def __init__(self, base_url: str, timeout_s: float = 10.0, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._own = session is None
        self._session = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s))

    async def __aenter__(self) -> "LegacyClient":
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own:
            await self._session.close()

    async def request(self, method: str, path: str, query: Mapping[str, str] | None = None,
                      form: Mapping[str, str] | bytes | None = None, user: str | None = None,
                      headers: Mapping[str, str] | None = None) -> Reply:
        """`query` and `form` are url-encoded as UTF-8; a `bytes` form is sent as is."""
        hdrs = dict(headers or {})
        if user is not None:
            hdrs["X-Auth-User"] = user
        url = self.base_url + path + ("?" + urlencode(query) if query else "")
        data: bytes | None = None
        if form is not None:
            data = form if isinstance(form, bytes) else urlencode(form).encode("ascii")
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        async with self._session.request(method, url, data=data, headers=hdrs) as resp:
            return Reply(resp.status, resp.headers, await resp.read())

    # --- the six endpoints ---------------------------------------------------------------------

    async def info(self, fullnames: list[str] | str, **kw: Any) -> Reply:
        ids = fullnames if isinstance(fullnames, str) else ",".join(fullnames)
        return await self.request("GET", "/api/info", {"id": ids}, **kw)

    async def comments(self, link36: str, sort: str | None = None, limit: int | None = None,
                       depth: int | None = None, **kw: Any) -> Reply:
        query = {k: str(v) for k, v in (("sort", sort), ("limit", limit), ("depth", depth)) if v is not None}
        return await self.request("GET", f"/comments/{link36}", query or None, **kw)

    async def morechildren(self, link_id: str, children: list[str] | str, sort: str | None = None, **kw: Any) -> Reply:
        query = {"link_id": link_id, "children": children if isinstance(children, str) else ",".join(children)}
        if sort is not None:
            query["sort"] = sort
        return await self.request("GET", "/api/morechildren", query, **kw)

    async def comment(self, thing_id: str, text: str, user: str | None, **kw: Any) -> Reply:
        return await self.request("POST", "/api/comment", form={"thing_id": thing_id, "text": text}, user=user, **kw)

    async def edit(self, thing_id: str, text: str, user: str | None, **kw: Any) -> Reply:
        return await self.request("POST", "/api/editusertext", form={"thing_id": thing_id, "text": text},
                                  user=user, **kw)

    async def vote(self, thing_id: str, direction: int | str, user: str | None, **kw: Any) -> Reply:
        return await self.request("POST", "/api/vote", form={"id": thing_id, "dir": str(direction)}, user=user, **kw)
