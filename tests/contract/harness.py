"""The golden-contract machinery: a controllable clock, and a Session that sends requests,
records (request, response) steps and compares them with a checked-in golden file.

Set TAPCOMPARE_UPDATE_GOLDEN=1 to (re)record the golden files from the service under test
(only ever from the legacy); review the diff before committing.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE = os.environ.get("TAPCOMPARE_UPDATE_GOLDEN") == "1"
COMPARED_HEADERS = ("Content-Type", "X-Request-Time")


class Clock:
    """The server's time, set and advanced by the test (no sleeping through the edit window)."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def set(self, t: float) -> None:
        self.now = t

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


class Session:
    """Runs one scenario's steps against a base URL; `check()` compares with the golden file."""

    def __init__(self, base_url: str, scenario: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.scenario = scenario
        self.steps: list[dict[str, Any]] = []
        self.http = aiohttp.ClientSession()

    async def close(self) -> None:
        await self.http.close()

    async def send(self, method: str, path: str, query: dict[str, str] | str | None = None,
                   form: dict[str, str] | bytes | None = None, user: str | None = None,
                   request_id: str | None = None) -> Reply:
        headers = {}
        if user is not None:
            headers["X-Auth-User"] = user
        if request_id is not None:
            headers["X-Request-Id"] = request_id
        qs = query if isinstance(query, str) else urlencode(query or {})
        url = self.base_url + path + ("?" + qs if qs else "")
        data = None
        if form is not None:
            data = form if isinstance(form, bytes) else urlencode(form).encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        async with self.http.request(method, URL(url, encoded=True), data=data,
                                     headers=headers) as resp:
            return Reply(resp.status, dict(resp.headers), await resp.read())

    async def step(self, name: str, method: str, path: str, query: dict[str, str] | str | None = None,
                   form: dict[str, str] | bytes | None = None, user: str | None = None,
                   request_id: str | None = None) -> Reply:
        """Send and record a golden step."""
        reply = await self.send(method, path, query, form, user, request_id)
        self.steps.append({
            "name": name,
            "request": {"method": method, "path": path, "query": query,
                        "form": form.decode("latin-1") if isinstance(form, bytes) else form,
                        "user": user, "request_id": request_id},
            "status": reply.status,
            "headers": {h: reply.headers.get(h) for h in COMPARED_HEADERS},
            "body": reply.body.decode("utf-8", "replace"),
        })
        return reply

    async def wait_listed(self, link36: str, id36: str, timeout: float = 5.0) -> None:
        """Projections are eventually consistent: wait until a new comment shows in its thread."""
        needle = f'"id": "{id36}"'.encode()
        deadline = time.monotonic() + timeout
        while True:
            reply = await self.send("GET", f"/comments/{link36}", {"sort": "new", "limit": "500"})
            if needle in reply.body:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{id36} not listed in /comments/{link36} within {timeout}s")
            await asyncio.sleep(0.01)  # polling interval of a condition wait, not a race cover

    def check(self) -> None:
        path = GOLDEN_DIR / f"{self.scenario}.json"
        if UPDATE:
            GOLDEN_DIR.mkdir(exist_ok=True)
            path.write_text(json.dumps(self.steps, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            return
        assert path.exists(), f"no golden file {path}; record it with TAPCOMPARE_UPDATE_GOLDEN=1"
        golden = json.loads(path.read_text(encoding="utf-8"))
        assert [s["name"] for s in self.steps] == [s["name"] for s in golden], "the scenario's steps changed"
        for got, want in zip(self.steps, golden):
            assert got["request"] == want["request"], f"{got['name']}: request differs from the golden one"
            for key in ("status", "headers", "body"):
                assert got[key] == want[key], f"step {got['name']!r}: {key} differs:\n got  {got[key]!r}\n want {want[key]!r}"
