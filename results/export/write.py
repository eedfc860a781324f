"""Render a report (plain data, see results/store/report.py) in the asked format."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from results.export.formats import to_json, to_markdown
from results.export.html_report import to_html
from results.export.junit import to_junit

RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "html": to_html, "json": to_json, "md": to_markdown, "junit": to_junit}
FORMATS = tuple(RENDERERS)


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt not in RENDERERS:
        raise ValueError(f"unknown report format {fmt!r} (expected one of {', '.join(FORMATS)})")
    return RENDERERS[fmt](report)
