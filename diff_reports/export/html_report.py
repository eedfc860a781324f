"""One self-contained HTML file: inline CSS and JS, in-page anchors, no external URL."""

from __future__ import annotations

import re
from typing import Any

from diff_reports.ui import pages
from diff_reports.ui.render import esc, layout


def anchor(kind: str, name: str) -> str:
    return f"#{kind}-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


def _view(report: dict[str, Any]) -> dict[str, Any]:
    """The report in the shape the UI pages take."""
    rows = [{"path": p["path"], "counts": p["counts"], "groups": p["groups"], "total": p["total"],
             "match_rate": p["match_rate"], "unresolved_results": p["needing_review"]} for p in report["paths"]]
    return {"paths": rows, "totals": report["totals"], "total": report["total"],
            "unresolved_results": report["needing_review"]}


def _group(g: dict[str, Any]) -> dict[str, Any]:
    out = dict(g)
    out["fields"] = [(f["path"], f["kind"]) for f in g["fields"]]
    if g.get("rule"):
        out.update(rule_name=g["rule"]["name"], reason=g["rule"]["reason"], accepted_by=g["rule"]["accepted_by"])
    out.update(n=g["occurrences"], first_at=g["first_seen"], last_at=g["last_seen"])
    return out


def to_html(report: dict[str, Any]) -> str:
    view = _view(report)
    groups = [_group(g) for g in report["groups"]]
    filters = {k: v for k, v in report["filters"].items() if v}
    scope = ", ".join(f"{k}={v}" for k, v in filters.items()) or "all results"
    head = f'<p class="meta">Generated {esc(report["generated_at"])} · {esc(scope)}</p>'
    with_groups = {g["path"] for g in groups}
    body = pages.overview_body(view, report["latency"],
                               lambda path: anchor("path", path) if path in with_groups else "#groups", head)
    body += '<h2 id="groups">Mismatch groups</h2>' + pages.groups_table(groups, lambda gid: anchor("group", gid))
    if report["groups_total"] > len(groups):
        body += f'<p class="meta">{report["groups_total"] - len(groups)} more groups not included.</p>'
    order = {p["path"]: i for i, p in enumerate(report["paths"])}
    current = None
    for g in sorted(groups, key=lambda g: (order.get(g["path"], len(order)), -g["occurrences"])):
        if g["path"] != current:
            current = g["path"]
            body += f'<h2 id="{anchor("path", current)[1:]}" class="path-head">Groups on {esc(current)}</h2>'
        body += (f'<section id="{anchor("group", g["id"])[1:]}" class="example">'
                 + pages.group_body(g, g["examples"], []).replace("<h1", "<h3", 1).replace("</h1>", "</h3>", 1)
                 + "</section>")
    return layout("Report", body, links=False)
