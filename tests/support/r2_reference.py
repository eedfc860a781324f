"""Reference models of r2 computations, independent of both services' code (the tests' oracle)."""

from __future__ import annotations

import ctypes
import math


def c_confidence(ups: int, downs: int) -> float:
    """r2's Cython `_confidence`: C floats (ctypes.c_float rounds) for n, z, p, left, under and
    sqrt's argument; doubles for sqrt's result and the rest."""
    def f(x: float) -> float:
        return ctypes.c_float(x).value
    n = f(ups + downs)
    if n == 0:
        return 0.0
    z, p = f(1.281551565545), f(float(ups) / n)
    left = f(p + f(f(f(1 / f(2 * n)) * z) * z))
    arg = f(f(f(p * f(1 - p)) / n) + f(f(z * z) / f(f(4 * n) * n)))
    return (left - z * math.sqrt(arg)) / f(1 + f(f(f(1 / n) * z) * z))
