"""The ramp pages and JSON: the advisor per endpoint, an endpoint's plots over time, and the
overview's trend lines. The ramp trail (Redis audit) comes from the composition root; without
one, percentages and time at a step are unknown and every result counts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from config.settings import RampPolicySettings
from results.advice.decision import pct
from results.advice.endpoints import RAMP_ENDPOINTS
from results.advice.gather import advise_all, advise_endpoint
from results.advice.timeline import timeline
from results.advice.trail import RampTrail
from results.html.templating import page
from results.ui.handlers import _html, _pool
from results.ui.plots import ramp_plots


@dataclass
class RampContext:
    trail: RampTrail | None = None
    policy: RampPolicySettings = RampPolicySettings()


RAMP_KEY = web.AppKey("ramp_context", RampContext)


def ramp_link(endpoint: str) -> str:
    return f"/ramp/{endpoint}"


def _endpoint(request: web.Request) -> str:
    endpoint = request.match_info["endpoint"]
    if endpoint not in RAMP_ENDPOINTS:
        raise web.HTTPNotFound(text=f"unknown endpoint; expected one of {', '.join(RAMP_ENDPOINTS)}")
    return endpoint


def _bucket_text(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else (f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s")


async def ramp_view(pool: asyncpg.Pool, ctx: RampContext, endpoint: str) -> dict[str, Any]:
    """Everything the ramp page of `endpoint` shows (also for the HTML export)."""
    now = time.time()
    advice = await advise_endpoint(pool, endpoint, ctx.policy, ctx.trail, now=now)
    tl = await timeline(pool, endpoint, ctx.trail, policy=ctx.policy, until=now)
    return {"endpoint": endpoint, "advice": advice, "plots": ramp_plots(tl), "bucket": _bucket_text(tl.width_s),
            "start": tl.start, "end": tl.end}


async def ramp_page(request: web.Request) -> web.Response:
    endpoint = _endpoint(request)
    view = await ramp_view(_pool(request), request.app[RAMP_KEY], endpoint)
    return _html("ramp.html", f"Ramp {endpoint}", nav="ramp", endpoints=RAMP_ENDPOINTS, ramp_link=ramp_link,
                 rate_text=pct, **view)


async def ramps_page(request: web.Request) -> web.Response:
    ctx = request.app[RAMP_KEY]
    advices = await advise_all(_pool(request), ctx.policy, ctx.trail)
    return _html("ramps.html", "Ramp", nav="ramp", advices=advices, ramp_link=ramp_link, rate_text=pct)


async def api_advice(request: web.Request) -> web.Response:
    """GET /api/ramp/advice[/ENDPOINT]: the advisor's decisions as JSON."""
    ctx = request.app[RAMP_KEY]
    endpoints = [_endpoint(request)] if "endpoint" in request.match_info else list(RAMP_ENDPOINTS)
    advices = await advise_all(_pool(request), ctx.policy, ctx.trail, endpoints)
    return web.json_response({"advice": [a.to_dict() for a in advices]}, dumps=_dumps)


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, default=str)


def export_html(views: list[dict[str, Any]]) -> str:
    """One self-contained HTML file of ramp views (no external URL, no script but the page's own)."""
    html, _ = page("ramp_export.html", "Ramp report", links=False, views=views, generated=time.time(), rate_text=pct)
    return html


def mount(app: web.Application, ctx: RampContext) -> None:
    app[RAMP_KEY] = ctx
    app.router.add_get("/ramp", ramps_page)
    app.router.add_get("/ramp/{endpoint}", ramp_page)
    app.router.add_get("/api/ramp/advice", api_advice)
    app.router.add_get("/api/ramp/advice/{endpoint}", api_advice)
