"""One self-contained HTML file: inline CSS and JS, in-page anchors, no external URL (templates:
results/html/templates/report.html, shared with the reviewer UI)."""

from __future__ import annotations

from typing import Any

from results.html.templating import anchor, page


def _view(report: dict[str, Any]) -> dict[str, Any]:
    """The report in the shape the UI pages take."""
    rows = [{"path": p["path"], "counts": p["counts"], "groups": p["groups"], "total": p["total"],
             "match_rate": p["match_rate"], "unresolved_results": p["needing_review"],
             "inconclusive": p.get("inconclusive_reason") if p["status"] == "inconclusive" else None}
            for p in report["paths"]]
    return {"paths": rows, "totals": report["totals"], "total": report["total"],
            "unresolved_results": report["needing_review"]}


def _group(g: dict[str, Any]) -> dict[str, Any]:
    out = dict(g)
    out["fields"] = [(f["path"], f["kind"]) for f in g["fields"]]
    out.update(rule_name=None, reason=None, accepted_by=None)
    if g.get("rule"):
        out.update(rule_name=g["rule"]["name"], reason=g["rule"]["reason"], accepted_by=g["rule"]["accepted_by"])
    out.update(n=g["occurrences"], first_at=g["first_seen"], last_at=g["last_seen"])
    return out


def to_html(report: dict[str, Any]) -> str:
    groups = [_group(g) for g in report["groups"]]
    filters = {k: v for k, v in report["filters"].items() if v}
    scope = ", ".join(f"{k}={v}" for k, v in filters.items()) or "all results"
    with_groups = {g["path"] for g in groups}
    order = {p["path"]: i for i, p in enumerate(report["paths"])}
    by_path: dict[str, list[dict[str, Any]]] = {}
    for g in sorted(groups, key=lambda g: (order.get(g["path"], len(order)), -g["occurrences"])):
        by_path.setdefault(g["path"], []).append(g)
    html, _ = page("report.html", "Report", links=False, report=report, view=_view(report), scope=scope,
                   groups=groups, by_path=list(by_path.items()),
                   path_link=lambda path: anchor("path", path) if path in with_groups else "#groups",
                   group_link=lambda gid: anchor("group", gid))
    return html
