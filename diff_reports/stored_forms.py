"""Decode raw stored forms (pickled cache bytes, EAV values, CDC fields) into comparable structures.

Parity compares *how* a value was stored, not just what it means: the pickle protocol, the globals
it references, naive versus aware datetimes, the kind column. So decoding keeps those facts
visible instead of collapsing them into plain Python values. Pure stdlib: the comparison core
imports no store clients.
"""

from __future__ import annotations

import datetime as dt
import json
import pickletools
from typing import Any

from diff_reports.pickles import restricted_load

def typed_form(value: Any) -> Any:
    """A JSON-able form that keeps the type facts parity compares: a datetime says whether it is
    aware. Not `normalise.canonical`, which serves response comparison and renders datetimes as
    the legacy's API does; a naive-for-aware datetime in a stored pickle is a bug parity must see."""
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat(), "aware": value.tzinfo is not None}
    if isinstance(value, dict):
        return {str(k): typed_form(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [typed_form(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((typed_form(v) for v in value), key=repr)
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    return value


def pickle_facts(raw: bytes) -> dict[str, Any]:
    """Protocol, referenced globals and the decoded object (or the error) of pickled bytes."""
    protocol = 0
    found: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(raw):
            if op.name == "PROTO" and isinstance(arg, int):
                protocol = arg
            elif op.name in ("GLOBAL", "INST"):
                found.append(str(arg).replace(" ", "."))
    except Exception as exc:  # malformed stream: report what is wrong, do not raise
        return {"protocol": None, "globals": found, "error": f"{type(exc).__name__}: {exc}"}
    facts: dict[str, Any] = {"protocol": protocol, "globals": sorted(set(found))}
    try:
        facts["object"] = typed_form(restricted_load(raw))
    except Exception as exc:
        facts["error"] = f"{type(exc).__name__}: {exc}"
    return facts


def decode_cache_entry(present: bool, value: bytes, flags: int | None, ttl: int | None) -> dict[str, Any]:
    """A memcached entry as parity compares it. `ttl` is kept raw; tolerance is a rule's job."""
    if not present:
        return {"present": False}
    return {"present": True, "flags": flags, "ttl": ttl, "pickle": pickle_facts(value)}


def decode_data_value(value: str | None, kind: str | None) -> Any:
    """An EAV (value, kind) pair, with pickled values opened structurally."""
    if kind == "pickle" and value is not None:
        return {"kind": kind, "raw": value, "pickle": pickle_facts(value.encode("latin-1"))}
    return {"kind": kind, "raw": value}


def decode_data_rows(rows: tuple[tuple[str, str | None, str | None], ...]) -> dict[str, Any]:
    return {key: decode_data_value(value, kind) for key, value, kind in rows}


def decode_cdc_fields(fields: dict[str, str]) -> dict[str, Any]:
    """Envelope fields as stored, with `changes` parsed (and its raw text kept: encoding matters)."""
    out: dict[str, Any] = dict(fields)
    if "changes" in fields:
        try:
            out["changes"] = json.loads(fields["changes"])
        except ValueError as exc:
            out["changes"] = {"$error": f"changes is not JSON: {exc}"}
        out["changes_raw"] = fields["changes"]
    return out
