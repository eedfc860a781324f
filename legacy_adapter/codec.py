"""Names and encodings of the legacy: base36 ids, fullnames, EAV value kinds, r2-style JSON.

Everything here is pure (no I/O) so the readers can run it over any store's bytes.
"""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timedelta, timezone
from typing import Any

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
MAX_ID = 2**63 - 1
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
PREFIXES = {"t1": "comment", "t2": "account", "t3": "link", "t5": "subreddit"}
TYPE_PREFIX = {v: k for k, v in PREFIXES.items()}


class MalformedName(ValueError):
    """A fullname or base36 id that the spec calls malformed."""


def to36(n: int) -> str:
    if n < 0:
        raise ValueError("negative id")
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = ALPHABET[r] + out
        if n == 0:
            return out


def from36(s: str) -> int:
    """Parse a lowercase base36 id; empty, non-[0-9a-z], 0 and > 2^63-1 are malformed."""
    if not s or any(c not in ALPHABET for c in s):
        raise MalformedName(s)
    n = int(s, 36)
    if n == 0 or n > MAX_ID:
        raise MalformedName(s)
    return n


def fullname(type_name: str, thing_id: int) -> str:
    return f"{TYPE_PREFIX[type_name]}_{to36(thing_id)}"


def parse_fullname(name: str) -> tuple[str, int]:
    """`t1_abc` -> ("comment", id). Raises MalformedName."""
    prefix, sep, rest = name.partition("_")
    if not sep or prefix not in PREFIXES:
        raise MalformedName(name)
    return PREFIXES[prefix], from36(rest)


# --- time -------------------------------------------------------------------------------------

def dt_from_epoch(t: float) -> datetime:
    """A tz-aware UTC datetime, rounded to the microsecond (what PostgreSQL keeps)."""
    return EPOCH + timedelta(microseconds=round(t * 1_000_000))


def epoch(dt: datetime) -> float:
    return (dt - EPOCH) / timedelta(seconds=1)


def ts6(dt: datetime) -> str:
    """Epoch seconds with 6 decimals, exact (no float rounding): the CDC `ts` and X-Request-Time."""
    us = (dt - EPOCH) // timedelta(microseconds=1)
    sign = "-" if us < 0 else ""
    s, frac = divmod(abs(us), 1_000_000)
    return f"{sign}{s}.{frac:06d}"


def whole_seconds(dt: datetime) -> float:
    """r2's float(int(timestamp)): floats of whole seconds in API output."""
    return float(int(epoch(dt)))


# --- EAV value kinds --------------------------------------------------------------------------

def encode_value(value: Any) -> tuple[str | None, str]:
    """Python value -> (value text, kind) for a data row."""
    if value is True or value is False:
        return ("t" if value else "f"), "bool"
    if isinstance(value, str):
        return value, "str"
    if isinstance(value, int):
        return str(value), "num"
    if isinstance(value, float):  # r2's py2db: floats are numbers too (shortest repr), never pickled
        return repr(value), "num"
    if value is None:
        return None, "none"
    return pickle.dumps(value, protocol=0).decode("latin-1"), "pickle"


def decode_value(value: str | None, kind: str | None) -> Any:
    if kind == "bool":
        return value == "t"
    if kind == "str":
        return value
    if kind == "num":  # r2's db2py: int first, float when that fails
        try:
            return int(value)  # type: ignore[arg-type]
        except ValueError:
            return float(value)  # type: ignore[arg-type]
    if kind == "none":
        return None
    if kind == "pickle":
        return pickle.loads(value.encode("latin-1"))  # type: ignore[union-attr]
    raise ValueError(f"unknown data kind {kind!r}")


# --- r2-style JSON ----------------------------------------------------------------------------

def r2_dumps(obj: Any) -> bytes:
    """simplejson as r2 used it: ASCII only (astral chars as surrogate pairs), `, ` and `: `."""
    return json.dumps(obj, ensure_ascii=True, separators=(", ", ": ")).encode("ascii")


_WEBSAFE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_SCRIPTSAFE = str.maketrans({"&": "\\u0026", "<": "\\u003C", ">": "\\u003E"})


def api_body(obj: Any, raw_json: bool) -> bytes:
    """An API response body as r2 sent it: the JSON text HTML-escaped (`&amp;`, `&lt;`, `&gt;`)
    unless the request asked for `raw_json=1`, which gets script-safe `\\u0026`/`\\u003C`/`\\u003E`."""
    text = r2_dumps(obj).decode("ascii")
    return text.translate(_SCRIPTSAFE if raw_json else _WEBSAFE).encode("ascii")


def changes_json(changes: dict[str, list[Any]]) -> str:
    """The CDC `changes` field: sorted keys, compact separators, datetimes as epoch floats."""
    def conv(v: Any) -> Any:
        return epoch(v) if isinstance(v, datetime) else v
    return json.dumps({k: [conv(a), conv(b)] for k, (a, b) in changes.items()},
                      sort_keys=True, separators=(",", ":"))
