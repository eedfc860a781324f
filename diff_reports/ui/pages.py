"""Page bodies built from query results. Pure (data in, HTML out), shared by the UI handlers and
the self-contained HTML export; `link` callbacks decide where a path or a group points."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from diff_reports.grouping import STATUSES, generalise_path
from diff_reports.store.queries import VERDICTS
from diff_reports.ui.render import badge, esc, ms, num, pct, render_value, table, when

Link = Callable[[str], str]


def summary_cards(view: dict[str, Any]) -> str:
    totals = view["totals"]
    conclusive = sum(totals[v] for v in ("match", "ignored", "mismatch", "shadow_error"))
    rate = (totals["match"] + totals["ignored"]) / conclusive if conclusive else None
    groups = {s: sum(r["groups"][s] for r in view["paths"]) for s in STATUSES}
    cards = [("results", num(view["total"])), ("match rate", pct(rate) if rate is not None else "–"),
             ("mismatches", num(totals["mismatch"])), ("needing review", num(view["unresolved_results"])),
             ("open groups", num(groups["open"])), ("regressed groups", num(groups["regressed"])),
             ("accepted groups", num(groups["accepted"]))]
    return '<div class="cards">' + "".join(
        f'<div class="card" data-card="{esc(label)}"><div class="l">{esc(label)}</div><div class="n">{value}</div></div>'
        for label, value in cards) + "</div>"


def overview_table(view: dict[str, Any], path_link: Link) -> str:
    short = {"shadow_error": "shadow err", "unavailable": "unavail."}
    headers = ["path", "total", *(short.get(v, v) for v in VERDICTS), "match rate", "to review", *STATUSES]
    rows = []
    for r in view["paths"]:
        c, g = r["counts"], r["groups"]
        cells = [f'<td data-v="{esc(r["path"])}"><a href="{esc(path_link(r["path"]))}">{esc(r["path"])}</a></td>',
                 f'<td class="num" data-v="{r["total"]}">{num(r["total"])}</td>']
        cells += [f'<td class="num v-{v}" data-v="{c[v]}">{num(c[v])}</td>' for v in VERDICTS]
        rate = r["match_rate"]
        cells.append(f'<td class="num" data-v="{-1 if rate is None else rate}">{pct(rate)}</td>')
        cells.append(f'<td class="num" data-v="{r["unresolved_results"]}">{num(r["unresolved_results"])}</td>')
        cells += [f'<td class="num" data-v="{g[s]}">{num(g[s])}</td>' for s in STATUSES]
        idle = ' class="idle" title="never exercised"' if r["total"] == 0 else ""
        rows.append(f'<tr data-path="{esc(r["path"])}"{idle}>{"".join(cells)}</tr>')
    spans = (f'<tr><th colspan="2"></th><th colspan="{len(VERDICTS)}" class="span">verdicts</th>'
             f'<th colspan="2"></th><th colspan="{len(STATUSES)}" class="span">groups</th></tr>')
    body = table([esc(h.replace("_", " ")) for h in headers], rows, cls="sortable overview",
                 num_cols=range(1, len(headers)))
    return '<div class="wide">' + body.replace("<thead>", "<thead>" + spans, 1) + "</div>"


def latency_table(lat: list[dict[str, Any]]) -> str:
    if not lat:
        return '<p class="meta">No timings recorded yet.</p>'
    headers = ["endpoint", "samples", "legacy p50", "new p50", "legacy p95", "new p95", "legacy p99", "new p99",
               "SQL/req legacy", "SQL/req new"]
    rows = []
    for r in lat:
        cells = [f"<td>{esc(r['endpoint'])}</td>", f'<td class="num">{num(r["samples"])}</td>']
        for q in ("p50", "p95", "p99"):
            cells += [f'<td class="num">{ms(r["legacy"][q])}</td>', f'<td class="num">{ms(r["new"][q])}</td>']
        sql = [r["legacy_sql"], r["new_sql"]]
        cells += [f'<td class="num">{"–" if s is None else f"{s:.1f}"}</td>' for s in sql]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return table(headers, rows, cls="sortable latency", num_cols=range(1, len(headers))) + \
        '<p class="meta">Latencies in milliseconds.</p>'


def overview_body(view: dict[str, Any], lat: list[dict[str, Any]], path_link: Link, filters: str = "") -> str:
    return (f"<h1>Overview</h1>{filters}{summary_cards(view)}<h2>Validation and response paths</h2>"
            f"{overview_table(view, path_link)}"
            '<p class="meta">Match rate = (match + ignored) / (match + ignored + mismatch + shadow error); '
            "raced, unavailable and skipped verdicts are counted but inconclusive.</p>"
            f"<h2>Latency, legacy vs new</h2>{latency_table(lat)}")


def groups_table(groups: list[dict[str, Any]], group_link: Link, header: Callable[[str, str], str] | None = None) -> str:
    cols = [("status", "status"), ("title", "difference"), ("path", "path"), ("verdict", "verdict"),
            ("occurrences", "occurrences"), ("first_seen", "first seen"), ("last_seen", "last seen")]
    heads = [header(key, label) if header else esc(label) for key, label in cols] + ["version"]
    rows = []
    for g in groups:
        rows.append(
            f'<tr data-group="{esc(g["id"])}"><td>{badge(g["status"])}</td>'
            f'<td><a href="{esc(group_link(g["id"]))}">{esc(g["title"])}</a></td><td>{esc(g["path"])}</td>'
            f'<td class="v-{esc(g["verdict"])}">{esc(g["verdict"])}</td>'
            f'<td class="num" data-v="{g["n"]}">{num(g["n"])}</td><td>{when(g["first_at"])}</td>'
            f'<td>{when(g["last_at"])}</td><td>{esc(g.get("last_version") or "")}</td></tr>')
    if not rows:
        rows.append('<tr><td colspan="8" class="meta">No mismatch groups match these filters.</td></tr>')
    return table(heads, rows, cls="groups", num_cols=(4,))


def _marks(differences: list[dict[str, Any]]) -> set[str]:
    return {d["path"] for d in differences}


def example_block(example: dict[str, Any]) -> str:
    rec = example["record"]
    diffs = rec.get("differences") or []
    marks = _marks(diffs)
    rows = [f'<tr><td><code>{esc(d["path"])}</code></td><td>{esc(d["kind"])}</td>'
            f'<td class="old"><code>{esc(_short(d.get("legacy")))}</code></td>'
            f'<td class="new"><code>{esc(_short(d.get("new")))}</code></td>'
            f'<td>{esc(d.get("ignored_by") or "")}</td></tr>' for d in diffs]
    difftable = table(["field", "kind", "legacy", "new", "ignored by"], rows, cls="diffs") if rows else ""
    reason = f'<p><b>Reason:</b> {esc(rec.get("reason"))}</p>' if rec.get("reason") else ""
    return (f'<div class="example" data-request="{esc(example.get("request_id") or "")}">'
            f'<div class="meta">request <code>{esc(example.get("request_id") or "?")}</code> · entity '
            f'<code>{esc(rec.get("entity") or "?")}</code> · {when(example.get("at"))} · version '
            f'{esc(example.get("version") or "?")}</div>{reason}{difftable}'
            f'<div class="sides"><div class="legacy"><h3>legacy</h3><div class="val">'
            f'{render_value(rec.get("legacy_value"), marks)}</div></div>'
            f'<div class="new"><h3>new</h3><div class="val">{render_value(rec.get("new_value"), marks)}</div></div></div></div>')


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def group_summary(g: dict[str, Any]) -> str:
    fields = "".join(f"<li><code>{esc(generalise_path(f))}</code> {esc(k)}</li>" for f, k in g.get("fields") or [])
    facts = [("status", badge(g["status"])), ("path", f"<code>{esc(g['path'])}</code>"),
             ("verdict", esc(g["verdict"])), ("occurrences", num(g["occurrences"])),
             ("first seen", when(g["first_seen"])), ("last seen", when(g["last_seen"])),
             ("last version", esc(g.get("last_version") or "–"))]
    if g.get("rule_name"):
        facts.append(("ignore rule", f"<code>{esc(g['rule_name'])}</code> by {esc(g.get('accepted_by'))}: "
                                     f"{esc(g.get('reason'))}"))
    if g.get("fixed_version"):
        facts.append(("fixed at", f"{esc(g['fixed_version'])} by {esc(g.get('fixed_by') or '?')} ({when(g.get('fixed_at'))})"))
    if g.get("regressed_version") or g.get("regressed_at"):
        facts.append(("regressed", f"{esc(g.get('regressed_version') or '?')} ({when(g.get('regressed_at'))})"))
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in facts)
    reason = f"<p>Reason pattern: <code>{esc(g['reason_pattern'])}</code></p>" if g.get("reason_pattern") else ""
    return (f'<table class="facts">{rows}</table>' + (f"<h2>Differing fields</h2><ul>{fields}</ul>" if fields else "")
            + reason)


def events_list(events: list[dict[str, Any]]) -> str:
    if not events:
        return ""
    items = "".join(f"<li>{when(e['at'])}: <b>{esc(e['action'])}</b> {esc(e.get('actor') or '')} "
                    f"{esc(e.get('detail') or '')}</li>" for e in events)
    return f"<h2>History</h2><ul class=\"events\">{items}</ul>"


def group_body(g: dict[str, Any], examples: list[dict[str, Any]], events: list[dict[str, Any]], actions: str = "") -> str:
    blocks = "".join(example_block(e) for e in examples) or '<p class="meta">No examples kept.</p>'
    return (f'<h1 data-group="{esc(g["id"])}">{esc(g["title"])}</h1>{group_summary(g)}{actions}'
            f"{events_list(events)}<h2>Examples</h2>{blocks}")
