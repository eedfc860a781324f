"""JSON and Markdown renderings of a report dict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "report.schema.json"


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n"


def _rate(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.2f}%"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(report: dict[str, Any]) -> str:
    """A compact summary for CI logs and pull requests."""
    failing = [p for p in report["paths"] if p["status"] == "fail"]
    inconclusive = [p for p in report["paths"] if p["status"] == "inconclusive"]
    t = report["totals"]
    lines = [
        "# tapcompare report",
        "",
        f"Generated {report['generated_at']}. **{report['total']:,}** results, match rate "
        f"**{_rate(report['match_rate'])}**, **{report['needing_review']:,}** needing review, "
        f"**{len(failing)}** failing path(s), **{len(inconclusive)}** inconclusive (not a pass).",
        "",
        "Verdicts: " + ", ".join(f"{k} {v:,}" for k, v in t.items()),
        "",
        "| path | status | total | match | mismatch | ignored | raced | shadow_error | match rate | open | regressed |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    icon = {"pass": "✅ pass", "fail": "❌ fail", "inconclusive": "⚠️ inconclusive", "not_exercised": "⚪ not exercised"}
    for p in report["paths"]:
        c, g = p["counts"], p["groups"]
        lines.append(f"| `{p['path']}` | {icon[p['status']]} | {p['total']:,} | {c['match']:,} | {c['mismatch']:,} | "
                     f"{c['ignored']:,} | {c['raced']:,} | {c['shadow_error']:,} | {_rate(p['match_rate'])} | "
                     f"{g['open']} | {g['regressed']} |")
    if inconclusive:
        lines += ["", "## Inconclusive paths", "",
                  "Too much of what these paths saw was raced, unavailable or skipped to call them green:", ""]
        lines += [f"- `{p['path']}`: {_cell(p['inconclusive_reason'])}" for p in inconclusive]
    coverage = report.get("behaviour_coverage")
    if coverage:
        lines += ["", "## Behaviour coverage", "", "Legacy branches exercised, counted from the legacy's answers.", "",
                  "| branch | count | what |", "|---|--:|---|"]
        for row in coverage:
            mark = " ❌" if row.get("required") and not row["count"] else ""
            lines.append(f"| `{row['branch']}`{mark} | {row['count']:,} | {_cell(row['what'])} |")
    unresolved = [g for g in report["groups"] if g["status"] in ("open", "regressed")]
    if unresolved:
        lines += ["", "## Unresolved groups", "", "| status | path | difference | occurrences | last seen |",
                  "|---|---|---|--:|---|"]
        for g in unresolved[:50]:
            lines.append(f"| {g['status']} | `{g['path']}` | {_cell(g['title'])} | {g['occurrences']:,} | "
                         f"{g['last_seen']} |")
        if len(unresolved) > 50:
            lines.append(f"| … | | {len(unresolved) - 50} more | | |")
    if report["latency"]:
        lines += ["", "## Latency (ms)", "", "| endpoint | samples | legacy p50 / p95 / p99 | new p50 / p95 / p99 |",
                  "|---|--:|---|---|"]
        def fmt(d: dict[str, Any]) -> str:
            return " / ".join("–" if d[q] is None else f"{d[q]:.1f}" for q in ("p50", "p95", "p99"))

        for r in report["latency"]:
            lines.append(f"| {r['endpoint']} | {r['samples']:,} | {fmt(r['legacy'])} | {fmt(r['new'])} |")
    return "\n".join(lines) + "\n"
