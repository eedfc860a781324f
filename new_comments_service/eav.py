"""EAV value encoding (python value <-> (value text, kind)) and the comment attribute defaults."""

from __future__ import annotations

import io
import pickle
from datetime import datetime, timezone
from typing import Any

COMMENT_DEFAULTS: dict[str, Any] = {
    "parent_id": None, "editted": False, "distinguished": None, "gilded": 0, "stickied": False,
}
_MISSING = object()


def encode(value: Any) -> tuple[str | None, str]:
    """(value, kind) for a data row. bool before int: bool is an int subclass."""
    if value is True or value is False:
        return ("t" if value else "f"), "bool"
    if isinstance(value, str):
        return value, "str"
    if isinstance(value, (int, float)):  # floats are numbers too: their shortest repr, kind num
        return repr(value) if isinstance(value, float) else str(value), "num"
    if value is None:
        return None, "none"
    return pickle.dumps(value, protocol=0).decode("latin-1"), "pickle"


class _SafeUnpickler(pickle.Unpickler):
    """Stored pickles are the legacy's; still, only rebuild plain data and datetimes."""

    _ALLOWED = {
        ("datetime", "datetime"), ("datetime", "timezone"), ("datetime", "timedelta"), ("datetime", "date"),
        ("_codecs", "encode"), ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
        ("__builtin__", "object"), ("builtins", "object"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return super().find_class(module, name)


def decode(value: str | None, kind: str | None) -> Any:
    if kind == "bool":
        return value == "t"
    if kind == "num":
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:  # "0.96", "1e+20", "inf": a float
            return float(value)
    if kind == "none" or value is None:
        return None
    if kind == "pickle":
        obj = _SafeUnpickler(io.BytesIO(value.encode("latin-1"))).load()
        if isinstance(obj, datetime) and obj.tzinfo is None:
            obj = obj.replace(tzinfo=timezone.utc)
        return obj
    return value


def decode_rows(keys: list[str] | None, values: list[str | None] | None, kinds: list[str | None] | None) -> dict[str, Any]:
    """Attributes from the parallel arrays a query aggregates (all None when there are no rows)."""
    if not keys:
        return {}
    return {k: decode(v, kd) for k, v, kd in zip(keys, values or (), kinds or ())}


def ordered_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes sorted by key: the order rows load in (ORDER BY key), and the order the legacy's
    cache objects show (observed: their pickles match ours byte for byte with this order)."""
    return {k: attrs[k] for k in sorted(attrs)}


def stored_comment_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """Only attributes that differ from the defaults get data rows."""
    return ordered_attrs({k: v for k, v in attrs.items() if not _is_default(k, v)})


def _is_default(key: str, value: Any) -> bool:
    default = COMMENT_DEFAULTS.get(key, _MISSING)
    # Compare types too: False == 0 in Python, but a stickied=0 is not the default False.
    return default is not _MISSING and type(default) is type(value) and default == value


def row_arrays(attrs: dict[str, Any]) -> tuple[list[str], list[str | None], list[str]]:
    keys, values, kinds = [], [], []
    for k, v in attrs.items():
        text, kind = encode(v)
        keys.append(k)
        values.append(text)
        kinds.append(kind)
    return keys, values, kinds
