"""Comment sort keys. Every order is descending by key with ties broken by ascending id.

confidence reproduces r2's Cython `_confidence`: its float locals round to IEEE float32 (struct's
"f" format does exactly that, no numpy needed), its square root and result are doubles.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable
from typing import TypeVar

from new_comments_service.model import Thing

SORTS = ("confidence", "top", "new", "old", "controversial")
_F32 = struct.Struct("<f")
T = TypeVar("T", bound=Thing)


def f32(x: float) -> float:
    return _F32.unpack(_F32.pack(x))[0]


_Z = f32(1.281551565545)


def confidence(ups: int, downs: int) -> float:
    """Wilson score lower bound (80%) with r2's mixed precision: its Cython declares n, z and p as
    C floats, and `left`, `under` and the sum under the square root are float expressions (every
    operation rounds to float32); `sqrt` returns a double, so `right` and the final quotient are
    computed in double."""
    if ups + downs == 0:
        return 0.0
    n = f32(float(ups + downs))
    z = _Z
    p = f32(float(ups) / n)
    zz = f32(z * z)
    # C evaluates left to right: 1/(2*n)*z*z is ((1/(2*n))*z)*z, not (1/(2*n))*(z*z).
    left = f32(p + f32(f32(f32(1.0 / f32(2.0 * n)) * z) * z))
    inner = f32(f32(f32(p * f32(1.0 - p)) / n) + f32(zz / f32(f32(4.0 * n) * n)))
    right = z * math.sqrt(inner)
    under = f32(1.0 + f32(f32(f32(1.0 / n) * z) * z))
    return (left - right) / under


def controversy(ups: int, downs: int) -> float:
    if ups <= 0 or downs <= 0:
        return 0.0
    power = downs / ups if ups > downs else ups / downs
    return float((ups + downs) ** power)


def _key(sort: str) -> Callable[[Thing], tuple]:
    # sorted() is ascending, so negate the key; the id then breaks ties ascending.
    if sort == "confidence":
        return lambda t: (-confidence(t.ups, t.downs), t.thing_id)
    if sort == "top":
        return lambda t: (-(t.ups - t.downs), t.thing_id)
    if sort == "controversial":
        return lambda t: (-controversy(t.ups, t.downs), t.thing_id)
    if sort == "new":
        return lambda t: (-t.thing_id,)
    if sort == "old":
        return lambda t: (t.thing_id,)
    raise ValueError(sort)


sort_key = _key


def sort_things(things: Iterable[T], sort: str) -> list[T]:
    return sorted(things, key=_key(sort))
