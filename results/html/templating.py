"""The Jinja2 environment of the reviewer UI and the HTML export: autoescaped templates, no HTML
built in Python strings, so a body, author or path carrying markup is shown as text.

Every page also carries a Content-Security-Policy whose script source is a per-page nonce: even
if markup slipped through, no script or event handler without that nonce would run.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from diff_reports.grouping import STATUSES, generalise_path
from diff_reports.types import VerdictKind
from results.html.assets import CSS, JS
from results.html.render import ROOT, child_path, when

CSP = ("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src 'none'; "
       "form-action 'self'; base-uri 'none'")


def qs(params: dict[str, Any], **changes: Any) -> str:
    """A query string from `params` with `changes` applied; empty values are left out."""
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def anchor(kind: str, name: str) -> str:
    return f"#{kind}-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


def scalar(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def cards(view: dict[str, Any]) -> list[tuple[str, str, Any]]:
    totals = view["totals"]
    conclusive = sum(totals[v] for v in ("match", "ignored", "mismatch", "shadow_error"))
    rate = (totals["match"] + totals["ignored"]) / conclusive if conclusive else None
    groups = {s: sum(r["groups"][s] for r in view["paths"]) for s in STATUSES}
    inconclusive = sum(1 for r in view["paths"] if r.get("inconclusive"))
    return [("results", "num", view["total"]), ("match rate", "pct", rate), ("mismatches", "num", totals["mismatch"]),
            ("needing review", "num", view["unresolved_results"]), ("inconclusive paths", "num", inconclusive),
            ("open groups", "num", groups["open"]), ("regressed groups", "num", groups["regressed"]),
            ("accepted groups", "num", groups["accepted"])]


ENV = Environment(loader=PackageLoader("results.html", "templates"), autoescape=select_autoescape(default=True),
                  undefined=StrictUndefined, keep_trailing_newline=False)
ENV.globals.update(VERDICTS=[v.value for v in VerdictKind], STATUSES=list(STATUSES), ROOT=ROOT, child=child_path, scalar=scalar,
                   short=short, cards=cards, qs=qs, anchor=anchor, generalise=generalise_path,
                   csp=lambda nonce: CSP.format(nonce=nonce))
ENV.filters["when"] = when
ENV.tests["dictlike"] = lambda v: isinstance(v, dict)
ENV.tests["listlike"] = lambda v: isinstance(v, (list, tuple))


def page(template: str, title: str, *, nav: str = "", links: bool = True, flash: str = "", error: str = "",
         **context: Any) -> tuple[str, str]:
    """(HTML, its Content-Security-Policy) of a full page."""
    nonce = secrets.token_urlsafe(16)
    html = ENV.get_template(template).render(title=title, nav=nav, links=links, flash=flash, error=error, nonce=nonce,
                                             css=Markup(CSS), js=Markup(JS), **context)
    return html, CSP.format(nonce=nonce)
