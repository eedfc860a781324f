"""HTML building blocks: escaping, the page layout, number/time formats, and the value renderer
that prints a legacy or new value as indented JSON with the differing fields highlighted."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from diff_reports.ui.assets import CSS, JS


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def qs(params: dict[str, Any], **changes: Any) -> str:
    """A query string from `params` with `changes` applied; empty values are left out."""
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def layout(title: str, body: str, *, nav: str = "", links: bool = True, flash: str = "", error: str = "") -> str:
    menu = ""
    if links:
        menu = "".join(f'<a href="{href}" class="{"on" if nav == key else ""}">{label}</a>'
                       for key, href, label in (("overview", "/", "Overview"), ("groups", "/groups", "Groups")))
    notes = (f'<div class="flash">{esc(flash)}</div>' if flash else "") + (f'<div class="error">{esc(error)}</div>' if error else "")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)} · tapcompare</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
            f'<body><header><span class="brand">tapcompare</span>{menu}</header>'
            f'<main>{notes}{body}</main><script>{JS}</script></body></html>')


def num(n: Any) -> str:
    if n is None:
        return '<span class="zero">–</span>'
    if n == 0:
        return '<span class="zero">0</span>'
    return f"{n:,}"


def pct(rate: float | None) -> str:
    if rate is None:
        return '<span class="zero">–</span>'
    return f'<span class="rate"><i style="width:{rate * 100:.1f}%"></i></span>{rate * 100:.2f}%'


def ms(value: float | None) -> str:
    return '<span class="zero">–</span>' if value is None else f"{value:.1f}"


def when(value: dt.datetime | float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        value = dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return esc(value)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def badge(status: str) -> str:
    return f'<span class="badge {esc(status)}">{esc(status)}</span>'


def table(headers: Iterable[str], rows: Iterable[str], *, cls: str = "", num_cols: Iterable[int] = ()) -> str:
    numeric = set(num_cols)
    head = "".join(f'<th class="{"num" if i in numeric else ""}">{h}</th>' for i, h in enumerate(headers))
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


# ---- values with highlighted differences ---------------------------------------------------------

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$:@-]+\Z")
ROOT = "$"  # the whole value, as diff_reports.paths writes it


def _child(path: str, key: Any) -> str:
    """Field paths as the comparator formats them: `a.b[0]`, odd keys as `["a.b"]`."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path}[{key}]"
    text = str(key)
    if not _PLAIN_KEY.match(text) or text == ROOT:
        return f"{path}[{json.dumps(text)}]"
    return f"{path}.{text}" if path else text


def _scalar(value: Any) -> str:
    return esc(json.dumps(value, default=str, ensure_ascii=False))


def render_value(value: Any, marks: set[str], path: str = "", indent: int = 0) -> str:
    """Indented JSON; the node at each path in `marks` is wrapped in <span class="hl">."""
    pad = "  " * indent
    if isinstance(value, dict) and value:
        inner = []
        for k, v in value.items():
            p = _child(path, k)
            line = f'{pad}  {_scalar(str(k))}: {render_value(v, marks, p, indent + 1).lstrip()}'
            inner.append(f'<span class="hl" data-path="{esc(p)}">{line}</span>' if p in marks else line)
        text = "{\n" + ",\n".join(inner) + f"\n{pad}}}"
    elif isinstance(value, (list, tuple)) and value:
        inner = []
        for i, v in enumerate(value):
            p = _child(path, i)
            line = pad + "  " + render_value(v, marks, p, indent + 1).lstrip()
            inner.append(f'<span class="hl" data-path="{esc(p)}">{line}</span>' if p in marks else line)
        text = "[\n" + ",\n".join(inner) + f"\n{pad}]"
    else:
        text = _scalar(value if not isinstance(value, (dict, list, tuple)) else value)
    if not path and (ROOT in marks or "" in marks):
        return f'<span class="hl" data-path="{ROOT}">{text}</span>'
    return pad + text if indent else text
