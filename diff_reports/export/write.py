"""`export_report`: build the report from the store and write it in the asked format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from diff_reports.export.formats import to_json, to_markdown
from diff_reports.export.html_report import to_html
from diff_reports.export.junit import to_junit
from diff_reports.export.report import build_report
from diff_reports.results.queries import Filters

RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "html": to_html, "json": to_json, "md": to_markdown, "junit": to_junit}
FORMATS = tuple(RENDERERS)


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt not in RENDERERS:
        raise ValueError(f"unknown report format {fmt!r} (expected one of {', '.join(FORMATS)})")
    return RENDERERS[fmt](report)


async def export_report(pool: asyncpg.Pool, fmt: str, out: str | Path, filters: Filters = Filters()) -> dict[str, Any]:
    """Write the report to `out`; returns the report dict (e.g. to decide an exit code)."""
    report = await build_report(pool, filters)
    text = render(report, fmt)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return report
