"""Small aiohttp stand-ins for the legacy and the new service (until the real apps land).

Both speak the documented shapes closely enough for the proxy: r2-style listings, write
responses with `X-Request-Time`, errors as `{"json": {"errors": [...]}}`. The new stand-in honours
the tap headers and can be switched to misbehave (`mode`). Swap in the real apps by changing the
`legacy_app` / `new_app` fixtures in conftest.py.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from dataclasses import dataclass, field

from aiohttp import web
from multidict import CIMultiDict

from legacy_adapter.codec import to36

LINKS = {"t1_1": "t3_a", "t1_2": "t3_a", "t1_3": "t3_b", "t1_4": "t3_c"}
FIXED = {"Date": "Sat, 21 Nov 2026 00:00:00 GMT", "Server": "legacy-standin"}
TAP_SECRET = "test-tap-secret"


def r2_json(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=True, separators=(", ", ": ")).encode()


base36 = to36  # the legacy's own codec


def comment(name: str, body: str = "hello", score: int = 1) -> dict:
    link = LINKS.get(name, "t3_z")
    return {"kind": "t1", "data": {"link_id": link, "id": name[3:], "name": name, "body": body,
                                   "score": score, "parent_id": link, "replies": ""}}


@dataclass
class BackendState:
    role: str                                  # "legacy" | "new"
    mode: str = "same"                         # new only: same | stall | stall_reads | 500 | garbage | different
    release: asyncio.Event = field(default_factory=asyncio.Event)
    seen: list[dict] = field(default_factory=list)
    next_id: int = 100
    drift: bool = False                        # legacy only: every answer differs (writes landing)
    # new only: answer what the legacy will answer next (a write landed between the two reads)
    ahead_of: "BackendState | None" = None
    big: int = 0                               # /comments carries this many 10,000-character bodies
    flip_deep: bool = False                    # new only: one character deep in one big body differs


ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
NON_BMP = ("\U0001F600", "\U0001D518", "\U0001F3F3\uFE0F\u200D\U0001F308", "\U00020BB7")


def big_body(i: int, length: int = 10_000) -> str:
    """Exactly `length` code points: text, zero-width characters, non-BMP emoji and CJK, combining marks."""
    parts: list[str] = []
    n = k = 0
    while n < length:
        piece = (f"c{i} w{k} ", ZERO_WIDTH[(i + k) % len(ZERO_WIDTH)], NON_BMP[(i * 7 + k) % len(NON_BMP)],
                 "e\u0301 ")[k % 4]
        parts.append(piece)
        n += len(piece)
        k += 1
    return "".join(parts)[:length]


def make_backend(state: BackendState) -> web.Application:
    def reply(payload: object, status: int = 200, **headers: str) -> web.Response:
        if state.role == "new" and state.mode == "different" and status == 200:
            payload = json.loads(json.dumps(payload).replace('"hello"', '"HELLO"').replace('"score": 1', '"score": 2'))
        return web.Response(status=status, body=r2_json(payload), headers={
            "Content-Type": "application/json; charset=UTF-8", **FIXED, **headers})

    def error(status: int, code: str, message: str, fld: str = "") -> web.Response:
        return reply({"json": {"errors": [[code, message, fld]]}}, status)

    @web.middleware
    async def misbehave(request: web.Request, handler):
        state.seen.append({"method": request.method, "path": request.raw_path,
                           "headers": CIMultiDict(request.headers), "body": await request.read(),
                           "peer": request.transport.get_extra_info("peername") if request.transport else None})
        if state.role == "new":
            tap = {k: v for k, v in request.headers.items() if k.lower().startswith("x-tap-")}
            if tap and tap.get("X-Tap-Secret") != TAP_SECRET:
                return error(403, "TAP_REFUSED", "tap headers refused")
            if state.mode == "stall" or (state.mode == "stall_reads" and request.method == "GET"):
                await state.release.wait()
            elif state.mode == "500":
                return web.Response(status=500, text="Internal Server Error")
            elif state.mode == "garbage":
                return web.Response(status=200, body=b"\xff\xfe<<not json>>", content_type="text/html")
        return await handler(request)

    async def info(request: web.Request) -> web.Response:
        ids = request.query.get("id", "").split(",")
        if not all(i[:3] in ("t1_", "t3_") and i[3:].isalnum() for i in ids):
            return error(400, "NO_THING_ID", "malformed id", "id")
        children = [comment(i) for i in ids if i in LINKS]
        return reply({"kind": "Listing", "data": {"modhash": "", "children": children, "after": None, "before": None}})

    async def comments(request: web.Request) -> web.Response:
        link = request.match_info["link"]
        kids = [comment(c) for c, lnk in LINKS.items() if lnk == f"t3_{link}"]
        if state.drift:
            state.next_id += 1
            kids.append(comment(f"t1_{base36(state.next_id)}"))
        if state.ahead_of is not None and state.ahead_of.drift:
            kids.append(comment(f"t1_{base36(state.ahead_of.next_id + 1)}"))
        if state.big:
            bodies = [big_body(i) for i in range(state.big)]
            if state.flip_deep:
                deep = bodies[state.big * 2 // 3]
                bodies[state.big * 2 // 3] = deep[:7777] + ("X" if deep[7777] != "X" else "Y") + deep[7778:]
            kids += [comment(f"t1_{base36(5000 + i)}", body) for i, body in enumerate(bodies)]
        listing = {"kind": "Listing", "data": {"modhash": "", "children": kids, "after": None, "before": None}}
        return reply([{"kind": "Listing", "data": {"children": [{"kind": "t3", "data": {"name": f"t3_{link}"}}]}},
                      listing])

    async def morechildren(request: web.Request) -> web.Response:
        return reply({"json": {"errors": [], "data": {"things": [comment("t1_1")]}}})

    async def write(request: web.Request) -> web.Response:
        try:
            form = await request.post()
        except Exception:
            return error(400, "BAD_ENCODING", "body not valid")
        if not request.headers.get("X-Auth-User"):
            return error(403, "USER_REQUIRED", "please log in")
        if request.path == "/api/vote":
            if form.get("dir") not in ("-1", "0", "1"):
                return error(400, "INVALID_OPTION", "bad dir", "dir")
            return reply({}, **{"X-Request-Time": "1763683200.000000"})
        thing = str(form.get("thing_id", ""))
        if not thing.startswith(("t1_", "t3_")):
            return error(400, "NO_THING_ID", "bad thing_id", "thing_id")
        if request.path == "/api/comment":
            tap_id = request.headers.get("X-Tap-Thing-Id")
            if tap_id:
                new_id = int(tap_id)
            else:
                state.next_id += 1
                new_id = state.next_id
            name = f"t1_{base36(new_id)}"
            LINKS.setdefault(name, LINKS.get(thing, thing))
        else:
            name = thing
        return reply({"json": {"errors": [], "data": {"things": [comment(name, str(form.get("text", "")))]}}},
                     **{"X-Request-Time": "1763683200.000000"})

    async def raw_error(request: web.Request) -> web.Response:
        resp = web.Response(status=503, reason="Legacy Is Sad", body=b"<html>down for maintenance</html>\n",
                            headers={"Content-Type": "text/html", **FIXED, "X-Custom": "one"})
        resp.headers.add("Set-Cookie", "a=1; Path=/")
        resp.headers.add("Set-Cookie", "b=2; Path=/")
        return resp

    async def raw_gzip(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(b'{"compressed": true}', mtime=0),
                            headers={"Content-Type": "application/json", "Content-Encoding": "gzip", **FIXED})

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return reply({"method": request.method, "raw_path": request.raw_path, "body_len": len(body),
                      "body_hex": body[:64].hex(), "headers": [[k, v] for k, v in request.headers.items()],
                      "chunked": request.headers.get("Transfer-Encoding") == "chunked"})

    app = web.Application(middlewares=[misbehave], client_max_size=64 * 1024 * 1024)
    app.router.add_get("/api/info", info)
    app.router.add_get("/comments/{link}", comments)
    app.router.add_get("/api/morechildren", morechildren)
    for path in ("/api/comment", "/api/editusertext", "/api/vote"):
        app.router.add_post(path, write)
    app.router.add_get("/raw/error", raw_error)
    app.router.add_get("/raw/gzip", raw_gzip)
    app.router.add_route("*", "/raw/echo{tail:.*}", echo)
    return app
