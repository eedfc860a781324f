"""Normalisation: a pipeline of small processors (structlog-style), applied to each side's value.

A processor is `processor(value, ctx) -> value`. The first one is normally `canonicalise`, which
turns anything the harness captures into a canonical JSON-able value:

- tuples -> lists, sets/frozensets -> sorted lists, dataclasses and mappings (asyncpg records
  included) -> dicts with string keys;
- datetimes -> epoch float seconds (naive ones are taken as UTC), dates/times -> ISO strings,
  timedeltas -> seconds, Decimals -> int when integral else float, enums -> their value;
- bytes -> the string when they are UTF-8, else `{"$bytes": <base64>}`; pickles (protocol >= 2
  bytes, and the protocol-0 text of EAV `(key, value, "pickle")` rows) are decoded structurally
  with a class allowlist (datetimes, sets) to `{"$pickle": {"protocol": n, "value": ...}}`,
  keeping the protocol so a codec change still shows; what does not decode stays raw;
- non-finite floats -> `{"$float": "nan" | "inf" | "-inf"}` (JSON has none; NaN != NaN would
  make equal values differ), -0.0 -> 0.0;
- anything else -> `{"$object": <type name>, "repr": repr(value)}`.

Declared processors run after it: `drop_fields`, `rewrite_fields`, `round_floats`.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import math
import pickle
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from fnmatch import fnmatchcase
from typing import Any

import orjson

from diff_reports.paths import Token, compile_glob, format_path
from diff_reports.pickles import restricted_load


@dataclass(frozen=True)
class NormaliseContext:
    path: str  # the comparison path: a validation path name or `<endpoint>.response`
    side: str  # "legacy" or "new"


Processor = Callable[[Any, NormaliseContext], Any]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _float(value: float) -> Any:
    if math.isfinite(value):
        return value + 0.0 if value == 0 else value  # -0.0 -> 0.0
    return {"$float": "nan" if value != value else ("inf" if value > 0 else "-inf")}


def _key(key: Any) -> str:
    if type(key) is str:
        return key
    out = canonical(key)
    return out if isinstance(out, str) else orjson.dumps(out, option=orjson.OPT_SORT_KEYS).decode()


def _sort_key(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return repr(value).encode()


def canonical(value: Any) -> Any:
    """The canonical JSON-able form of `value` (see the module docstring)."""
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is float:
        return _float(value)
    if t is dict:
        return {k if type(k) is str else _key(k): canonical(v) for k, v in value.items()}
    if t is list or t is tuple:
        if len(value) == 3 and value[2] == "pickle" and type(value[1]) is str:
            # An EAV data row (key, value, kind): decode the protocol-0 pickle structurally.
            return [canonical(value[0]), _decode_text_pickle(value[1]), "pickle"]
        return [canonical(v) for v in value]
    return _canonical_other(value)


def _canonical_other(value: Any) -> Any:
    if isinstance(value, Enum):
        return canonical(value.value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _float(float(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if raw[:1] == b"\x80":  # a pickle (protocol >= 2), e.g. a cache value: decode structurally
            try:
                return decode_pickle(raw)
            except pickle.UnpicklingError:
                pass
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return {"$bytes": base64.b64encode(raw).decode("ascii")}
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return _float((value - _EPOCH).total_seconds())
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _float(value.total_seconds())
    if isinstance(value, Decimal):
        if not value.is_finite():
            return _float(float(value))
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted((canonical(v) for v in value), key=_sort_key)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping) or (hasattr(value, "items") and hasattr(value, "keys")):
        return {_key(k): canonical(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [canonical(v) for v in value]
    return {"$object": type(value).__qualname__, "repr": repr(value)}


def canonicalise(value: Any, ctx: NormaliseContext) -> Any:
    return canonical(value)


def drop_http_headers(value: Any, ctx: NormaliseContext) -> Any:
    """HTTP observations are `{"status", "body"[, "headers"]}`; headers are not compared by default."""
    if isinstance(value, dict) and "status" in value and "body" in value and "headers" in value:
        return {k: v for k, v in value.items() if k != "headers"}
    return value


# --- path-directed processors -------------------------------------------------------------------

def _scoped(applies_to: Sequence[str], ctx: NormaliseContext) -> bool:
    return not applies_to or any(fnmatchcase(ctx.path, p) for p in applies_to)


def _map_fields(value: Any, patterns: Sequence[str], fn: Callable[[Any], Any], drop: bool) -> Any:
    """Rebuild `value`, applying `fn` to (or dropping) every field whose path matches a pattern."""
    regexes = [compile_glob(p) for p in patterns]

    def hit(tokens: list[Token]) -> bool:
        path = format_path(tokens)
        return any(r.match(path) for r in regexes)

    def walk(node: Any, tokens: list[Token]) -> Any:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                tokens.append(k)
                if hit(tokens):
                    if not drop:
                        out[k] = fn(v)
                else:
                    out[k] = walk(v, tokens)
                tokens.pop()
            return out
        if isinstance(node, list):
            out_list = []
            for i, v in enumerate(node):
                tokens.append(i)
                if hit(tokens):
                    if not drop:
                        out_list.append(fn(v))
                else:
                    out_list.append(walk(v, tokens))
                tokens.pop()
            return out_list
        return node

    return walk(value, [])


def drop_fields(patterns: Iterable[str], applies_to: Iterable[str] = ()) -> Processor:
    """Remove matching fields before comparison (uncounted: prefer an ignore rule when in doubt)."""
    pats, scope = tuple(patterns), tuple(applies_to)
    for p in pats:
        compile_glob(p)

    def process(value: Any, ctx: NormaliseContext) -> Any:
        return _map_fields(value, pats, lambda v: v, drop=True) if _scoped(scope, ctx) else value

    return process


def rewrite_fields(patterns: Iterable[str], fn: Callable[[Any], Any], applies_to: Iterable[str] = ()) -> Processor:
    """Replace each matching field's value by `fn(value)`."""
    pats, scope = tuple(patterns), tuple(applies_to)
    for p in pats:
        compile_glob(p)

    def process(value: Any, ctx: NormaliseContext) -> Any:
        return _map_fields(value, pats, fn, drop=False) if _scoped(scope, ctx) else value

    return process


def _round(value: Any, digits: int) -> Any:
    if type(value) is float:
        return _float(round(value, digits))
    if isinstance(value, list):
        return [_round(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: _round(v, digits) for k, v in value.items()}
    return value


def round_floats(patterns: Iterable[str], digits: int, applies_to: Iterable[str] = ()) -> Processor:
    """Round floats at (and beneath) matching fields to `digits` decimals."""
    return rewrite_fields(patterns, lambda v: _round(v, digits), applies_to)


# --- safe structural decoding of pickles --------------------------------------------------------

def _protocol(raw: bytes) -> int:
    return raw[1] if len(raw) > 1 and raw[0] == 0x80 else 0


def decode_pickle(raw: bytes) -> Any:
    """`{"$pickle": {"protocol": n, "value": <canonical>}}`, or raise pickle.UnpicklingError."""
    try:
        obj = restricted_load(raw, encoding="latin-1")
    except pickle.UnpicklingError:
        raise
    except Exception as exc:  # noqa: BLE001 - any malformed input is "not a pickle"
        raise pickle.UnpicklingError(str(exc)) from exc
    return {"$pickle": {"protocol": _protocol(raw), "value": canonical(obj)}}


def _decode_text_pickle(text: str) -> Any:
    try:
        return decode_pickle(text.encode("latin-1"))
    except (pickle.UnpicklingError, UnicodeEncodeError):
        return text


class Normaliser:
    """Runs processors in order: `Normaliser([canonicalise, drop_fields([...])])(value, ctx)`."""

    def __init__(self, processors: Sequence[Processor] = ()) -> None:
        self.processors = tuple(processors) or DEFAULT_PROCESSORS

    def __call__(self, value: Any, ctx: NormaliseContext) -> Any:
        for processor in self.processors:
            value = processor(value, ctx)
        return value


DEFAULT_PROCESSORS: tuple[Processor, ...] = (canonicalise, drop_http_headers)
