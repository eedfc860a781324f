"""Redaction of comment bodies in recorded values: hash and length instead of the text.

Applied to what a record keeps (values and differences), never to what is compared. Redacted:
- string values of keys named `body`, `text`, `selftext` (and their `_html` renderings);
- list values of those keys, element by element (CDC `changes` carry `"body": [old, new]`);
- EAV data rows `(key, value, kind)` (and `{"key": ..., "value": ...}` rows) whose key is one
  of those names: the value;
- JSON-object strings under `changes` (the CDC field), parsed, redacted and re-serialised.
The HTTP envelope's own `body` (`{"status": ..., "body": ...}`) is walked, not redacted, and the
placeholders `[deleted]`, `[removed]` and `""` stay readable: they carry no user text.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

BODY_KEYS = frozenset({"body", "text", "selftext", "body_html", "selftext_html"})
KEEP = frozenset({"[deleted]", "[removed]", ""})
HASH_CHARS = 16
EAV_KINDS = frozenset({"str", "num", "bool", "none", "pickle"})


def redact_text(text: str) -> dict[str, Any]:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return {"redacted": True, "sha256": digest[:HASH_CHARS], "length": len(text)}


def is_redacted(value: Any) -> bool:
    return isinstance(value, dict) and value.get("redacted") is True and "sha256" in value


def _redact_leaf(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, str):
        return value if value in KEEP else redact_text(value)
    if isinstance(value, list):
        return [_redact_leaf(v, keys) for v in value]
    return _walk(value, keys)


def _is_name(value: Any, names: frozenset[str]) -> bool:
    return isinstance(value, str) and value in names


def _is_http(value: dict[str, Any]) -> bool:
    return "status" in value and "body" in value and isinstance(value.get("status"), int)


def _walk(value: Any, keys: frozenset[str], http_root: bool = False) -> Any:
    if isinstance(value, dict):
        if _is_name(value.get("key"), keys) and "value" in value:  # an EAV data row as a mapping
            return {**{k: _walk(v, keys) for k, v in value.items()}, "value": _redact_leaf(value["value"], keys)}
        out = {}
        for k, v in value.items():
            if http_root and k == "body":
                out[k] = _walk(v, keys)
            elif k in keys:
                out[k] = _redact_leaf(v, keys)
            elif k == "changes" and isinstance(v, str) and v.startswith("{"):
                out[k] = _redact_json_text(v, keys)
            else:
                out[k] = _walk(v, keys)
        return out
    if isinstance(value, list):
        if len(value) == 3 and _is_name(value[2], EAV_KINDS) and _is_name(value[0], keys):  # EAV row (key, value, kind)
            return [value[0], _redact_leaf(value[1], keys), value[2]]
        return [_walk(v, keys) for v in value]
    return value


def _redact_json_text(text: str, keys: frozenset[str]) -> str:
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return json.dumps(_walk(parsed, keys), sort_keys=True, separators=(",", ":"))


def redact(value: Any, keys: frozenset[str] = BODY_KEYS) -> Any:
    """A copy of canonical `value` with comment bodies replaced by `{"redacted", "sha256", "length"}`."""
    return _walk(value, keys, http_root=isinstance(value, dict) and _is_http(value))
