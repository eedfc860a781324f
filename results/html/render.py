"""Formatting helpers shared by the templates (results/html/templates): times as text and the
field paths the value renderer marks, spelled as the comparator writes them. No HTML here: the
templates build every tag and autoescape every value."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$:@-]+\Z")
ROOT = "$"  # the whole value, as diff_reports.paths writes it


def when(value: dt.datetime | float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        value = dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        value = parsed
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def child_path(path: str, key: Any) -> str:
    """Field paths as the comparator formats them: `a.b[0]`, odd keys as `["a.b"]`."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path}[{key}]"
    text = str(key)
    if not _PLAIN_KEY.match(text) or text == ROOT:
        return f"{path}[{json.dumps(text)}]"
    return f"{path}.{text}" if path else text
