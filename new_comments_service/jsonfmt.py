"""JSON bytes exactly as r2's simplejson wrote them, and the compact form of CDC payloads.

The stdlib encoder with ensure_ascii=True is already C-accelerated and matches simplejson's
output (", " / ": " separators, surrogate pairs outside the BMP, repr floats). orjson is faster
but cannot escape non-ASCII, and post-escaping its output costs more than it saves on our sizes.
"""

from __future__ import annotations

import json
from typing import Any

_API = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": "), allow_nan=False)
_CDC = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), sort_keys=True, allow_nan=False)

CONTENT_TYPE = "application/json; charset=UTF-8"


# r2 served JSON through websafe_json (&, <, > as HTML entities) unless raw_json=1 asked for
# scriptsafe_dumps (the same three characters as uppercase \u escapes).
_HTML_ENTITIES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;"}
_SCRIPT_ESCAPES = {ord("&"): "\\u0026", ord("<"): "\\u003C", ord(">"): "\\u003E"}


def api_bytes(obj: Any, raw_json: bool = False) -> bytes:
    text = _API.encode(obj)
    return text.translate(_SCRIPT_ESCAPES if raw_json else _HTML_ENTITIES).encode("ascii")


def cdc_text(obj: Any) -> str:
    return _CDC.encode(obj)
