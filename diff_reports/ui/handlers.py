"""Request handlers: parse filters, run the aggregation queries, render the pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
from aiohttp import web

from diff_reports.grouping import STATUSES
from diff_reports.store import queries
from diff_reports.store.lifecycle import LifecycleError, accept_group, fix_group, reopen_group
from diff_reports.store.queries import VERDICTS, Filters, known_paths
from diff_reports.ui import pages
from diff_reports.ui.auth import TOKEN_KEY, csrf_value
from diff_reports.ui.render import esc, layout, qs

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


def _select(name: str, options: list[str], current: str, label: str) -> str:
    opts = "".join(f'<option value="{esc(o)}"{" selected" if o == current else ""}>{esc(o or "all")}</option>'
                   for o in ["", *options])
    return f'<label>{esc(label)}<select name="{name}">{opts}</select></label>'


def filters_form(action: str, params: dict[str, str], *, statuses: bool) -> str:
    parts = [_select("path", known_paths(), params["path"], "path"),
             _select("verdict", list(VERDICTS), params["verdict"], "verdict")]
    if statuses:
        parts.append(_select("status", list(STATUSES), params["status"], "status"))
    parts.append(_select("window", list(WINDOWS), params["window"], "last"))
    parts += [f'<label>since<input type="datetime-local" name="since" value="{esc(params["since"])}"></label>',
              f'<label>until<input type="datetime-local" name="until" value="{esc(params["until"])}"></label>',
              '<button type="submit">Apply</button>', f'<a href="{action}">reset</a>']
    return f'<form class="filters" method="get" action="{action}">{"".join(parts)}</form>'


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html")


async def overview(request: web.Request) -> web.Response:
    pool = _pool(request)
    f, params, error = parse_filters(request)
    view = await queries.overview(pool, f)
    lat = await queries.latency(pool, f.without(path=None, verdict=None))

    def path_link(path: str) -> str:
        return "/groups?" + qs(params, path=path, verdict="", status="")

    body = pages.overview_body(view, lat, path_link, filters_form("/", params, statuses=False))
    return _html(layout("Overview", body, nav="overview", error=error))


def _sort_header(params: dict[str, str], sort: str, descending: bool):
    def header(key: str, label: str) -> str:
        flip = "asc" if key == sort and descending else "desc"
        arrow = (" ▼" if descending else " ▲") if key == sort else ""
        return f'<a href="/groups?{esc(qs(params, sort=key, dir=flip, page=""))}" data-sort="{key}">{esc(label)}{arrow}</a>'
    return header


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
    pager = (f'<div class="pager"><span class="meta">{total:,} group{"" if total == 1 else "s"} · page {page} of {pages_n}</span>'
             + (f'<a href="/groups?{esc(qs(keep, page=page - 1))}">‹ previous</a>' if page > 1 else "")
             + (f'<a href="/groups?{esc(qs(keep, page=page + 1))}">next ›</a>' if page < pages_n else "") + "</div>")
    body = (f"<h1>Mismatch groups</h1>{filters_form('/groups', params, statuses=True)}{pager}"
            f"{pages.groups_table(rows, lambda gid: f'/groups/{gid}', _sort_header(keep, sort, descending))}{pager}")
    return _html(layout("Groups", body, nav="groups", error=error))


def _actions(g: dict[str, Any], csrf: str) -> str:
    gid = esc(g["id"])
    accept = (f'<form class="action" method="post" action="/groups/{gid}/accept" id="accept-form">'
              f'<input type="hidden" name="csrf" value="{csrf}"><b>Accept as noise</b>'
              f'<label>reason<input name="reason" required size="36" placeholder="why this difference is fine"></label>'
              f'<label>by<input name="by" required size="12" placeholder="your name"></label>'
              f'<label>rule name<input name="rule_name" size="18" placeholder="accepted-{gid}"></label>'
              f'<button type="submit">Accept</button></form>')
    fix = (f'<form class="action" method="post" action="/groups/{gid}/fix" id="fix-form">'
           f'<input type="hidden" name="csrf" value="{csrf}"><b>Mark fixed</b>'
           f'<label>new-service version<input name="version" required size="10" placeholder="1.4.0"></label>'
           f'<label>by<input name="by" size="12"></label><button type="submit" class="secondary">Mark fixed</button></form>')
    reopen = ""
    if g["status"] != "open":
        reopen = (f'<form class="action" method="post" action="/groups/{gid}/reopen"><input type="hidden" name="csrf" '
                  f'value="{csrf}"><button type="submit" class="secondary">Reopen</button></form>')
    return f'<h2>Review</h2><div class="actions">{accept}{fix}{reopen}</div>'


async def group(request: web.Request) -> web.Response:
    pool = _pool(request)
    gid = request.match_info["group_id"]
    g = await queries.get_group(pool, gid)
    if g is None:
        return _html(layout("Not found", f"<h1>No group {esc(gid)}</h1>"), 404)
    examples = await queries.group_examples(pool, gid)
    events = await queries.group_events(pool, gid)
    body = pages.group_body(g, examples, events, _actions(g, csrf_value(request.app[TOKEN_KEY])))
    flash = {"accepted": "Accepted as noise: the group is now an ignore rule.", "fixed": "Marked fixed.",
             "reopened": "Reopened."}.get(request.query.get("done", ""), "")
    return _html(layout(g["title"], body, nav="groups", flash=flash, error=request.query.get("error", "")))


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
        raise web.HTTPSeeOther(f"/groups/{gid}?{qs({}, error=str(exc))}") from None
    raise web.HTTPSeeOther(f"/groups/{gid}?done={done}")


# ---- JSON for scripts and the proxy -------------------------------------------------------------

async def api_overview(request: web.Request) -> web.Response:
    f, _, error = parse_filters(request)
    if error:
        return web.json_response({"error": error}, status=400)
    view = await queries.overview(_pool(request), f)
    return web.json_response(view)


async def api_rules(request: web.Request) -> web.Response:
    """Accepted groups as ignore rules, for the comparator."""
    return web.json_response({"rules": await queries.accepted_rules(_pool(request))})
