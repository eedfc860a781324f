"""Sort keys of comment listings (descending key, ties by ascending id)."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

SORTS = ("confidence", "top", "new", "old", "controversial")
PROJECTED_SORTS = ("top", "confidence", "controversial")
Z = 1.281551565545


def f32(x: float) -> float:
    """Round to the nearest IEEE float32 (r2 computed confidence in float32)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def confidence(ups: int, downs: int) -> float:
    """Wilson lower bound as r2's Cython `_confidence` computed it: `n`, `z`, `p`, `left`, `under`
    and the argument of `sqrt` are C floats (each operation rounded to float32); `sqrt` returns a
    double, so `right` and the final `(left - right) / under` are doubles:
    n = ups + downs; p = ups / n
    (p + 1/(2n)*z*z - z*sqrt(p*(1-p)/n + z*z/(4*n*n))) / (1 + 1/n*z*z)
    """
    n = f32(ups + downs)
    if n == 0:
        return 0.0
    z = f32(Z)
    p = f32(float(ups) / n)
    left = f32(p + f32(f32(f32(1.0 / f32(2.0 * n)) * z) * z))
    var = f32(f32(p * f32(1.0 - p)) / n)
    zz4 = f32(f32(z * z) / f32(f32(4.0 * n) * n))
    right = z * math.sqrt(f32(var + zz4))
    under = f32(1.0 + f32(f32(f32(1.0 / n) * z) * z))
    return (left - right) / under


def top(ups: int, downs: int) -> float:
    return float(ups - downs)


def controversial(ups: int, downs: int) -> float:
    if ups <= 0 or downs <= 0:
        return 0.0
    return float((ups + downs) ** (downs / ups if ups > downs else ups / downs))


SCORE_FUNCS: dict[str, Callable[[int, int], float]] = {
    "confidence": confidence, "top": top, "controversial": controversial,
}


def sort_key(sort: str) -> Callable[[dict], tuple]:
    """A key for `sorted` over comment objects (cache dicts) giving the listing order."""
    if sort == "new":
        return lambda o: (-o["_id"],)
    if sort == "old":
        return lambda o: (o["_id"],)
    fn = SCORE_FUNCS[sort]
    return lambda o: (-fn(o["_ups"], o["_downs"]), o["_id"])
