"""The real rewrite (new_comments_service.create_app) with an optional fault, for the isolation runs.

`python new_service.py CONFIG PORT FAULT [STALL_S]`; `GET /__fault/<FAULT>` switches the fault at run
time (so one proxy process sees every fault in turn). FAULT one of:
- `none`: the service as `tapcompare new serve` runs it;
- `stall`: every API request sleeps STALL_S (default 2) seconds before being handled;
- `error`: every API request is answered at once with a 500 JSON error.
/health, /metrics and /__fault are never faulted (readiness checks use them). Loopback only.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiohttp import web  # noqa: E402

from config import load_settings  # noqa: E402
from new_comments_service.app import create_app  # noqa: E402
from sister_stores.resolve import resolve_store_sets  # noqa: E402


def main() -> None:
    config, port = sys.argv[1], int(sys.argv[2])
    state = {"fault": sys.argv[3]}
    stall_s = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
    settings = load_settings(config)
    production, sister = resolve_store_sets(settings)
    app = create_app(settings, production, sister if settings.new_service.mode == "tap" else None)

    @web.middleware
    async def inject(request: web.Request, handler):  # type: ignore[no-untyped-def]
        if request.path in ("/health", "/metrics") or request.path.startswith("/__fault/"):
            return await handler(request)
        if state["fault"] == "stall":
            await asyncio.sleep(stall_s)
        elif state["fault"] == "error":
            return web.json_response({"json": {"errors": [["INTERNAL", "injected", None]]}}, status=500)
        return await handler(request)

    async def switch(request: web.Request) -> web.Response:
        mode = request.match_info["mode"]
        if mode not in ("none", "stall", "error"):
            return web.json_response({"error": "unknown fault"}, status=400)
        state["fault"] = mode
        return web.json_response(state)

    app.middlewares.insert(0, inject)
    app.router.add_get("/__fault/{mode}", switch)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
