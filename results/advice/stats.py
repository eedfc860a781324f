"""Small exact statistics for the ramp advisor, standard library only (no scipy in the deps).

- one-sided bounds on a binomial rate: Clopper-Pearson (exact, from the regularized incomplete
  beta function) and the Wilson score bound;
- the Mann-Whitney U test with the normal approximation, tie correction and continuity
  correction (the same statistic and z as scipy.stats.mannwhitneyu(method="asymptotic"));
- percentiles by linear interpolation (PostgreSQL's percentile_cont, numpy's default).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

_NORMAL = NormalDist()


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    # The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return betainc(n - k, k + 1, 1.0 - p)


def _solve(f: Callable[[float], float], target: float) -> float:
    """p in [0, 1] with f(p) = target, f decreasing in p (bisection: 200 halvings is exact in floats)."""
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if f(mid) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _check(k: int, n: int, confidence: float) -> None:
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")


def clopper_pearson_upper(k: int, n: int, confidence: float = 0.95) -> float:
    """The exact one-sided upper bound on a rate with k events in n trials: the p at which seeing
    k or fewer events has probability 1 - confidence. 0 of n: 1 - (1 - confidence)^(1/n)."""
    _check(k, n, confidence)
    if n == 0 or k == n:
        return 1.0
    alpha = 1.0 - confidence
    if k == 0:
        return -math.expm1(math.log(alpha) / n)  # closed form, exact where bisection would round
    return _solve(lambda p: binom_cdf(k, n, p), alpha)


def clopper_pearson_lower(k: int, n: int, confidence: float = 0.95) -> float:
    """The exact one-sided lower bound: the p at which seeing k or more events has probability
    1 - confidence. 0 events: 0."""
    _check(k, n, confidence)
    if k == 0 or n == 0:
        return 0.0
    alpha = 1.0 - confidence
    if k == n:
        return math.exp(math.log(alpha) / n)
    # P(X >= k) = 1 - P(X <= k-1) rises with p; solve P(X <= k-1) = 1 - alpha.
    return _solve(lambda p: binom_cdf(k - 1, n, p), 1.0 - alpha)


def _wilson(k: int, n: int, confidence: float, sign: int) -> float:
    _check(k, n, confidence)
    if n == 0:
        return 1.0 if sign > 0 else 0.0
    z = _NORMAL.inv_cdf(confidence)  # one-sided
    phat = k / n
    centre = phat + z * z / (2 * n)
    spread = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n))
    return min(1.0, max(0.0, (centre + sign * spread) / (1 + z * z / n)))


def wilson_upper(k: int, n: int, confidence: float = 0.95) -> float:
    """The Wilson score one-sided upper bound (z of `confidence`, e.g. 1.645 at 95%)."""
    return _wilson(k, n, confidence, +1)


def wilson_lower(k: int, n: int, confidence: float = 0.95) -> float:
    return _wilson(k, n, confidence, -1)


Bound = Literal["clopper_pearson", "wilson"]


def rate_bounds(k: int, n: int, confidence: float = 0.95, method: Bound = "clopper_pearson") -> tuple[float, float]:
    """(lower, upper) one-sided bounds at `confidence` each."""
    if method == "wilson":
        return wilson_lower(k, n, confidence), wilson_upper(k, n, confidence)
    return clopper_pearson_lower(k, n, confidence), clopper_pearson_upper(k, n, confidence)


@dataclass(frozen=True)
class MannWhitney:
    u: float          # U of the first sample: how often one of its values beats one of the second's
    z: float
    p: float          # one-sided: the first sample tends to be greater
    n1: int
    n2: int

    @property
    def effect(self) -> float:
        """U / (n1 n2): the probability that a value of the first sample exceeds one of the second
        (ties count a half); 0.5 is no difference."""
        return self.u / (self.n1 * self.n2) if self.n1 and self.n2 else 0.5


def mann_whitney_greater(x: Sequence[float], y: Sequence[float]) -> MannWhitney:
    """One-sided Mann-Whitney U test that `x` tends to be greater than `y`: average ranks for ties,
    the tie-corrected variance, and a continuity correction of 0.5. Both samples non-empty."""
    n1, n2 = len(x), len(y)
    if not n1 or not n2:
        raise ValueError("both samples need at least one value")
    combined = sorted([(float(v), 0) for v in x] + [(float(v), 1) for v in y])
    n = n1 + n2
    rank_sum_x = 0.0
    tie_term = 0.0
    i = 0
    while i < n:
        j = i
        while j + 1 < n and combined[j + 1][0] == combined[i][0]:
            j += 1
        average_rank = (i + j) / 2 + 1  # ranks are 1-based
        t = j - i + 1
        tie_term += t ** 3 - t
        rank_sum_x += average_rank * sum(1 for m in range(i, j + 1) if combined[m][1] == 0)
        i = j + 1
    u = rank_sum_x - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:  # every value equal: nothing tells the samples apart
        return MannWhitney(u, 0.0, 1.0, n1, n2)
    z = (u - mu - 0.5) / math.sqrt(variance)
    return MannWhitney(u, z, 1.0 - _NORMAL.cdf(z), n1, n2)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation between order statistics; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
