"""The report: everything an export shows, as plain JSON-able data (schema: docs/report.schema.json).

Path status: `fail` when the path has open or regressed groups of a reviewable verdict (mismatch,
shadow_error); `inconclusive` when its raced, unavailable or skipped share is above its threshold
(queries.Thresholds): too little was judged to call it green, and it fails a gate like `fail`;
`not_exercised` when no result was ever recorded for it; `pass` otherwise.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import asyncpg

from results.export.write import render
from diff_reports.grouping import REVIEW_VERDICTS, UNRESOLVED
from results.store import queries
from results.store.queries import CONCLUSIVE, Filters, Thresholds, inconclusive_reason
from diff_reports.types import ALL_WRITE_PATHS

REPORT_SCHEMA_ID = "tapcompare-report/1"
_WRITE_PATHS = {p.name for p in ALL_WRITE_PATHS}


def path_kind(path: str) -> str:
    if path in _WRITE_PATHS:
        return "write_validation"
    return "read_response" if path.startswith("read.") else "write_response"


def iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def _group_entry(g: dict[str, Any], examples: list[dict[str, Any]]) -> dict[str, Any]:
    rule = None
    if g["status"] == "accepted" or g.get("rule_name"):
        rule = {"name": g.get("rule_name"), "reason": g.get("reason"), "accepted_by": g.get("accepted_by"),
                "accepted_at": iso(g.get("accepted_at"))}
    return {
        "id": g["id"], "path": g["path"], "verdict": g["verdict"], "title": g["title"], "status": g["status"],
        "fields": [{"path": f, "kind": k} for f, k in g.get("fields") or []],
        "reason_pattern": g.get("reason_pattern") or "",
        "occurrences": g["occurrences"], "first_seen": iso(g["first_seen"]), "last_seen": iso(g["last_seen"]),
        "last_version": g.get("last_version"), "example_request_ids": list(g.get("example_request_ids") or []),
        "rule": rule, "fixed_version": g.get("fixed_version"), "fixed_by": g.get("fixed_by"),
        "fixed_at": iso(g.get("fixed_at")),
        "regressed_version": g.get("regressed_version"), "regressed_at": iso(g.get("regressed_at")),
        "examples": [{"request_id": e["request_id"], "at": iso(e["at"]), "version": e["version"],
                      "record": e["record"]} for e in examples],
    }


async def build_report(pool: asyncpg.Pool, filters: Filters = Filters(), *, examples_per_group: int = 2,
                       max_groups: int = 500, thresholds: Thresholds = Thresholds()) -> dict[str, Any]:
    """Collect the report. Group occurrences are all-time unless `filters` has a time window."""
    view = await queries.overview(pool, filters)
    lat = await queries.latency(pool, filters.without(path=None, verdict=None))
    listed, total_groups = await queries.list_groups(pool, filters, per_page=max_groups)
    groups = []
    for item in listed:
        g = await queries.get_group(pool, item["id"])
        if g is None:
            continue
        g["occurrences"] = item["n"]
        groups.append(_group_entry(g, await queries.group_examples(pool, g["id"], examples_per_group)))
    paths = []
    for r in view["paths"]:
        failing = [g["id"] for g in groups if g["path"] == r["path"] and g["status"] in UNRESOLVED
                   and g["verdict"] in REVIEW_VERDICTS]
        why = inconclusive_reason(r["counts"], thresholds)
        status = "fail" if failing else ("not_exercised" if r["total"] == 0 else ("inconclusive" if why else "pass"))
        paths.append({"path": r["path"], "kind": path_kind(r["path"]), "endpoint": r["endpoint"],
                      "total": r["total"], "counts": r["counts"], "match_rate": r["match_rate"],
                      "needing_review": r["unresolved_results"], "groups": r["groups"],
                      "status": status, "failing_groups": failing, "inconclusive_reason": why})
    totals = view["totals"]
    conclusive = sum(totals[v] for v in CONCLUSIVE)
    return {
        "schema": REPORT_SCHEMA_ID,
        "generated_at": iso(dt.datetime.now(dt.timezone.utc)),
        "filters": {"path": filters.path, "verdict": filters.verdict, "status": filters.status,
                    "since": iso(filters.since), "until": iso(filters.until)},
        "total": view["total"], "totals": totals,
        "match_rate": (totals["match"] + totals["ignored"]) / conclusive if conclusive else None,
        "needing_review": view["unresolved_results"],
        "thresholds": thresholds.as_dict(),
        "inconclusive_paths": [p["path"] for p in paths if p["status"] == "inconclusive"],
        "paths": paths,
        "latency": lat,
        "groups": groups,
        "groups_total": total_groups,
        "rules": await queries.accepted_rules(pool),
    }


async def export_report(pool: asyncpg.Pool, fmt: str, out: str | Path, filters: Filters = Filters(), *,
                        thresholds: Thresholds = Thresholds()) -> dict[str, Any]:
    """Build the report from the store and write it to `out` in `fmt`; returns the report dict
    (e.g. to decide an exit code)."""
    report = await build_report(pool, filters, thresholds=thresholds)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report, fmt), encoding="utf-8")
    return report


def rejudge(report: dict[str, Any], thresholds: Thresholds) -> dict[str, Any]:
    """The report with its path statuses recomputed for other inconclusive thresholds (pure)."""
    out = dict(report, thresholds=thresholds.as_dict())
    paths = []
    for p in report["paths"]:
        why = inconclusive_reason(p["counts"], thresholds)
        status = p["status"]
        if status in ("pass", "inconclusive"):
            status = "inconclusive" if why else "pass"
        paths.append(dict(p, status=status, inconclusive_reason=why))
    out["paths"] = paths
    out["inconclusive_paths"] = [p["path"] for p in paths if p["status"] == "inconclusive"]
    return out
