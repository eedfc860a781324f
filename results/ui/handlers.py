"""Request handlers: parse filters, run the aggregation queries, render the pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import asyncpg
from aiohttp import web

from diff_reports.grouping import STATUSES
from results.store import queries
from results.store.lifecycle import LifecycleError, accept_group, fix_group, reopen_group
from results.store.queries import VERDICTS, Filters, Thresholds, inconclusive_reason, known_paths
from results.ui.auth import TOKEN_KEY, csrf_value
from results.ui.trends import trends
from results.html.templating import page, qs

THRESHOLDS_KEY = web.AppKey("inconclusive_thresholds", Thresholds)

class Backend:
    """Where handlers find the results pool (set late when the app opens its own store)."""

    def __init__(self, pool: asyncpg.Pool | None = None) -> None:
        self.pool = pool


BACKEND_KEY = web.AppKey("results_backend", Backend)


def _pool(request: web.Request) -> asyncpg.Pool:
    pool = request.app[BACKEND_KEY].pool
    if pool is None:
        raise web.HTTPServiceUnavailable(text="results store not open yet")
    return pool

WINDOWS = {"1h": dt.timedelta(hours=1), "24h": dt.timedelta(days=1), "7d": dt.timedelta(days=7),
           "30d": dt.timedelta(days=30)}
PER_PAGE = 50


def _time(raw: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(raw.strip())
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def parse_filters(request: web.Request) -> tuple[Filters, dict[str, str], str]:
    """Filters from the query string, the params to keep in links, and an error message if any."""
    q = request.query
    params = {k: q.get(k, "") for k in ("path", "verdict", "status", "window", "since", "until")}
    error = ""
    try:
        since = _time(params["since"]) if params["since"] else None
        until = _time(params["until"]) if params["until"] else None
    except ValueError:
        error, since, until = "Times must be ISO dates, e.g. 2026-11-20T13:00.", None, None
    if params["window"] in WINDOWS and since is None:
        since = dt.datetime.now(dt.timezone.utc) - WINDOWS[params["window"]]
    try:
        f = Filters(path=params["path"] or None, verdict=params["verdict"] or None,
                    status=params["status"] or None, since=since, until=until)
    except ValueError as exc:
        error, f = str(exc), Filters(since=since, until=until)
    return f, params, error


def _html(template: str, title: str, status: int = 200, **context: Any) -> web.Response:
    html, csp = page(template, title, **context)
    return web.Response(text=html, status=status, content_type="text/html",
                        headers={"Content-Security-Policy": csp + "; frame-ancestors 'none'",
                                 "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"})


def _form_options() -> dict[str, Any]:
    return {"paths": known_paths(), "verdicts": list(VERDICTS), "statuses": list(STATUSES), "windows": list(WINDOWS)}


def _judged(view: dict[str, Any], thresholds: Thresholds) -> dict[str, Any]:
    """Mark each path row with why it is inconclusive (None when it can be judged)."""
    for row in view["paths"]:
        row["inconclusive"] = inconclusive_reason(row["counts"], thresholds)
    return view


async def overview(request: web.Request) -> web.Response:
    pool = _pool(request)
    f, params, error = parse_filters(request)
    view = await queries.overview(pool, f)
    lat = await queries.latency(pool, f.without(path=None, verdict=None))

    def path_link(path: str) -> str:
        return "/groups?" + qs(params, path=path, verdict="", status="")

    trend = await trends(pool, [r["path"] for r in view["paths"]], f.since)
    return _html("overview.html", "Overview", nav="overview", error=error, view=_judged(view, request.app[THRESHOLDS_KEY]),
                 lat=lat, path_link=path_link, params=params, trends=trend, **_form_options())


def _sort_url(params: dict[str, str], sort: str, descending: bool) -> Callable[[str], str]:
    def url(key: str) -> str:
        flip = "asc" if key == sort and descending else "desc"
        return "/groups?" + qs(params, sort=key, dir=flip, page="")
    return url


async def groups(request: web.Request) -> web.Response:
    pool = _pool(request)
    f, params, error = parse_filters(request)
    sort = request.query.get("sort", "occurrences")
    sort = sort if sort in queries.GROUP_SORTS else "occurrences"
    descending = request.query.get("dir", "desc") != "asc"
    page = max(1, int(request.query.get("page", "1") or 1)) if request.query.get("page", "1").isdigit() else 1
    rows, total = await queries.list_groups(pool, f, sort=sort, descending=descending, page=page, per_page=PER_PAGE)
    keep = {**params, "sort": sort, "dir": "desc" if descending else "asc"}
    pages_n = max(1, -(-total // PER_PAGE))
    return _html("groups.html", "Groups", nav="groups", error=error, rows=rows, total=total, page=page,
                 pages_n=pages_n, keep=keep, params=params, sort=sort, descending=descending,
                 sort_url=_sort_url(keep, sort, descending), group_link=lambda gid: "/groups/" + quote(gid, safe=""),
                 **_form_options())


async def group(request: web.Request) -> web.Response:
    pool = _pool(request)
    gid = request.match_info["group_id"]
    g = await queries.get_group(pool, gid)
    if g is None:
        return _html("message.html", "Not found", 404, heading=f"No group {gid}", text="")
    examples = await queries.group_examples(pool, gid)
    events = await queries.group_events(pool, gid)
    flash = {"accepted": "Accepted as noise: the group is now an ignore rule.", "fixed": "Marked fixed.",
             "reopened": "Reopened."}.get(request.query.get("done", ""), "")
    return _html("group.html", g["title"], nav="groups", flash=flash, error=request.query.get("error", ""),
                 g=g, examples=examples, events=events, csrf=csrf_value(request.app[TOKEN_KEY]))


async def group_action(request: web.Request) -> web.StreamResponse:
    pool = _pool(request)
    gid, action = request.match_info["group_id"], request.match_info["action"]
    form = await request.post()
    try:
        if action == "accept":
            await accept_group(pool, gid, reason=str(form.get("reason", "")), by=str(form.get("by", "")),
                               rule_name=str(form.get("rule_name", "")).strip() or None)
            done = "accepted"
        elif action == "fix":
            await fix_group(pool, gid, version=str(form.get("version", "")), by=str(form.get("by", "")))
            done = "fixed"
        elif action == "reopen":
            await reopen_group(pool, gid, by=str(form.get("by", "")))
            done = "reopened"
        else:
            raise web.HTTPNotFound()
    except LifecycleError as exc:
        raise web.HTTPSeeOther(f"/groups/{quote(gid, safe='')}?{qs({}, error=str(exc))}") from None
    raise web.HTTPSeeOther(f"/groups/{quote(gid, safe='')}?done={done}")


# ---- JSON for scripts and the proxy -------------------------------------------------------------

async def api_overview(request: web.Request) -> web.Response:
    f, _, error = parse_filters(request)
    if error:
        return web.json_response({"error": error}, status=400)
    view = _judged(await queries.overview(_pool(request), f), request.app[THRESHOLDS_KEY])
    return web.json_response(view)


async def api_rules(request: web.Request) -> web.Response:
    """Accepted groups as ignore rules, for the comparator."""
    return web.json_response({"rules": await queries.accepted_rules(_pool(request))})
