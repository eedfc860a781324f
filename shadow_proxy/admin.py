"""The admin API on the proxy: read and change the ramp, kill switch. Bearer-token protected.

GET  /admin/ramp                     current percentages, this proxy's view, recent audit entries
PUT  /admin/ramp/{endpoint}          {"pct": 0-100, "why": "..."}
POST /admin/kill                     {"why": "..."}: every endpoint to 0
Tokens: `admin_token` (name "admin") and `admin_tokens` (name -> token); the audit records
`api:<name>`. Missing or wrong token: 401 with a JSON error.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping

import orjson
import redis.asyncio as aioredis
from aiohttp import web

from shadow_proxy.audit import RampKeys, recent_audit
from shadow_proxy.ramp import ENDPOINTS, RampControl, RampError, RampState

ADMIN_TOKEN_NAME = "admin"


def _json(status: int, payload: object) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")


def _error(status: int, error: str, detail: str, **headers: str) -> web.Response:
    response = _json(status, {"error": error, "detail": detail})
    response.headers.update(headers)
    return response


def _redis_errors(handler: Callable[[web.Request], Awaitable[web.Response]]):
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except (aioredis.RedisError, OSError) as exc:
            return _error(503, "ramp_store_unavailable", f"the ramp Redis did not answer: {type(exc).__name__}")
    return wrapped


class AdminApi:
    def __init__(self, tokens: Mapping[str, str], keys: RampKeys) -> None:
        self._tokens = {name: token for name, token in tokens.items() if token}
        self._keys = keys
        self._control: RampControl
        self._state: RampState
        self._redis: aioredis.Redis

    def bind(self, control: RampControl, state: RampState, redis: aioredis.Redis) -> None:
        """Attach the running ramp (routes are mounted before the app starts)."""
        self._control, self._state, self._redis = control, state, redis

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/admin/ramp", _redis_errors(self.show))
        app.router.add_put("/admin/ramp/{endpoint}", _redis_errors(self.set))
        app.router.add_post("/admin/kill", _redis_errors(self.kill))
        # Anything else under /admin is ours too, never the legacy's.
        app.router.add_route("*", "/admin/{tail:.*}", self.unknown)
        app.router.add_route("*", "/admin", self.unknown)

    def _who(self, request: web.Request) -> str | web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="tapcompare-admin"'}
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "unauthorized", "missing bearer token: send 'Authorization: Bearer <admin token>'",
                          **challenge)
        token = token.strip()
        for name, expected in self._tokens.items():
            # surrogateescape: a header of non-UTF-8 bytes compares as those bytes (a 401, not a 500)
            if hmac.compare_digest(token.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")):
                return f"api:{name}"
        return _error(401, "unauthorized", "invalid admin token", **challenge)

    async def _body(self, request: web.Request) -> dict | web.Response:
        raw = await request.read()
        if not raw:
            return {}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(400, "bad_request", "the body must be a JSON object")
        if not isinstance(body, dict):
            return _error(400, "bad_request", "the body must be a JSON object")
        return body

    async def show(self, request: web.Request) -> web.Response:
        who = self._who(request)
        if isinstance(who, web.Response):
            return who
        stored = await self._control.read()
        count = request.query.get("audit", "20")
        if not count.isdigit() or not 0 < int(count) <= 1000:
            return _error(400, "bad_request", "audit must be a count from 1 to 1000")
        audit = await recent_audit(self._redis, self._keys, int(count))
        return _json(200, {"ramp": stored, "this_proxy": self._state.pcts,
                           "audit": [a.to_dict() for a in audit]})

    async def set(self, request: web.Request) -> web.Response:
        who = self._who(request)
        if isinstance(who, web.Response):
            return who
        endpoint = request.match_info["endpoint"]
        if endpoint not in ENDPOINTS:
            return _error(404, "unknown_endpoint", f"expected one of {', '.join(ENDPOINTS)}")
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        why = body.get("why", "")
        if "pct" not in body:
            return _error(400, "bad_request", 'expected {"pct": <0-100>, "why": "..."}')
        try:
            change = await self._control.set(endpoint, body["pct"], who=who, why=str(why))
        except RampError as exc:
            return _error(400, "bad_request", str(exc))
        assert change is not None
        return _json(200, {"endpoint": endpoint, "from": change.from_pct, "to": change.to_pct, "who": who})

    async def kill(self, request: web.Request) -> web.Response:
        who = self._who(request)
        if isinstance(who, web.Response):
            return who
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        changes = await self._control.kill(who=who, why=str(body.get("why", "kill switch (admin API)")))
        return _json(200, {"killed": [{"endpoint": c.endpoint, "from": c.from_pct} for c in changes], "who": who})

    async def unknown(self, request: web.Request) -> web.Response:
        who = self._who(request)
        if isinstance(who, web.Response):
            return who
        return _error(404, "not_found", "admin routes: GET /admin/ramp, PUT /admin/ramp/{endpoint}, POST /admin/kill")
