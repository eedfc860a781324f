"""The advisor's statistics against hand-computed values (no scipy: the formulas are ours)."""

from __future__ import annotations

import math

import pytest

from results.advice.stats import (
    binom_cdf,
    clopper_pearson_lower,
    clopper_pearson_upper,
    mann_whitney_greater,
    percentile,
    wilson_lower,
    wilson_upper,
)


def test_zero_of_n_upper_bound_is_the_closed_form() -> None:
    # 0 of n: P(X = 0) = (1 - p)^n = 0.05  =>  p = 1 - 0.05^(1/n) ("rule of three": about 3/n)
    assert clopper_pearson_upper(0, 12_400) == pytest.approx(1 - 0.05 ** (1 / 12_400), rel=1e-12)
    assert clopper_pearson_upper(0, 12_400) == pytest.approx(2.4156e-4, rel=1e-4)  # 0.024%
    assert clopper_pearson_upper(0, 100) == pytest.approx(0.029513, rel=1e-4)
    assert clopper_pearson_lower(0, 100) == 0.0


def test_k_of_n_upper_bound_solves_the_binomial_tail() -> None:
    # 1 of 10: (1 - p)^10 + 10 p (1 - p)^9 = 0.05 at p = 0.39416 (textbook one-sided 95% value)
    upper = clopper_pearson_upper(1, 10)
    assert upper == pytest.approx(0.39416, abs=1e-5)
    assert (1 - upper) ** 10 + 10 * upper * (1 - upper) ** 9 == pytest.approx(0.05, abs=1e-12)
    # lower bound of 1 of 10: P(X >= 1) = 1 - (1 - p)^10 = 0.05  =>  p = 1 - 0.95^(1/10)
    assert clopper_pearson_lower(1, 10) == pytest.approx(1 - 0.95 ** 0.1, rel=1e-9)
    # 5 of 100: the tail summed term by term at the bound is 0.05
    upper = clopper_pearson_upper(5, 100)
    tail = sum(math.comb(100, i) * upper ** i * (1 - upper) ** (100 - i) for i in range(6))
    assert tail == pytest.approx(0.05, abs=1e-10)
    assert upper == pytest.approx(0.10225, abs=1e-4)


def test_all_of_n_and_no_samples() -> None:
    assert clopper_pearson_upper(10, 10) == 1.0
    assert clopper_pearson_lower(10, 10) == pytest.approx(0.05 ** 0.1, rel=1e-12)
    assert clopper_pearson_upper(0, 0) == 1.0  # nothing seen: nothing is bounded
    with pytest.raises(ValueError):
        clopper_pearson_upper(3, 2)


def test_binomial_cdf_matches_the_sum() -> None:
    for k, n, p in ((0, 5, 0.3), (2, 7, 0.25), (40, 100, 0.5), (3, 1000, 0.001)):
        direct = sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k + 1))
        assert binom_cdf(k, n, p) == pytest.approx(direct, rel=1e-10)


def test_wilson_one_sided() -> None:
    # 1 of 10, z = 1.6449: (0.1 + z²/20 + z sqrt(0.009 + z²/400)) / (1 + z²/10) = 0.34772
    assert wilson_upper(1, 10) == pytest.approx(0.34772, abs=1e-5)
    assert wilson_lower(1, 10) == pytest.approx(0.022635, abs=1e-5)  # (0.235277 - 0.206521) / 1.270554
    # 0 of n: z² / (n + z²)
    z2 = 1.6448536269514722 ** 2
    assert wilson_upper(0, 12_400) == pytest.approx(z2 / (12_400 + z2), rel=1e-9)


def test_mann_whitney_with_a_tie_by_hand() -> None:
    # x = 3 4 5, y = 1 2 3. Ranks: y 1 2 3.5, x 3.5 5 6; R_x = 14.5, U_x = 14.5 - 6 = 8.5.
    # mu = 4.5; ties: one pair, t³ - t = 6; var = 9/12 (7 - 6/30) = 5.1; z = (8.5 - 4.5 - 0.5)/sqrt(5.1)
    test = mann_whitney_greater([3, 4, 5], [1, 2, 3])
    assert test.u == 8.5
    assert test.z == pytest.approx(3.5 / math.sqrt(5.1), rel=1e-12)
    assert test.p == pytest.approx(0.060592, abs=1e-6)
    assert test.effect == pytest.approx(8.5 / 9)


def test_mann_whitney_significant_versus_not() -> None:
    legacy = [10.0 + (i % 7) * 0.5 for i in range(60)]
    slower = [v * 2 for v in legacy]
    same = list(reversed(legacy))
    assert mann_whitney_greater(slower, legacy).p < 1e-10
    alike = mann_whitney_greater(same, legacy)
    assert alike.u == pytest.approx(60 * 60 / 2) and alike.p > 0.4
    # faster rewrite: the one-sided test says nothing is slower
    assert mann_whitney_greater([v / 2 for v in legacy], legacy).p > 0.999
    # every value equal: no evidence either way
    assert mann_whitney_greater([1.0, 1.0], [1.0, 1.0]).p == 1.0


def test_percentile_interpolates() -> None:
    assert percentile([], 0.5) is None
    assert percentile([4, 1, 3, 2], 0.5) == 2.5
    assert percentile(list(range(1, 101)), 0.99) == pytest.approx(99.01)
