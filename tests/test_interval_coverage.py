"""Intervals of proportions: SciPy's numbers, exact coverage, no zero-width intervals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from medtorch.evaluation.bootstrap import bootstrap_cis
from medtorch.evaluation.proportions import exact_coverage, per_class_intervals, proportion_bounds, proportion_interval


@pytest.mark.parametrize("method,scipy_method", [("wilson", "wilson"), ("clopper_pearson", "exact")])
def test_vectorised_bounds_equal_scipy_binomtest(method, scipy_method):
    for n in (1, 2, 7, 32, 150):
        lo, hi = proportion_bounds(np.arange(n + 1), n, 0.9, method)
        for k in range(n + 1):
            ci = stats.binomtest(k, n).proportion_ci(0.9, method=scipy_method)
            assert (lo[k], hi[k]) == pytest.approx((ci.low, ci.high), abs=1e-12), (n, k)
    lo, hi = proportion_bounds(0, 0, 0.95, method)
    assert np.isnan(lo) and np.isnan(hi)  # no rows: no interval, not a point


def test_exact_wilson_and_clopper_pearson_coverage_n_20_to_2000():
    p = np.linspace(0.05, 0.95, 181)
    wilson_mean, wilson_min, cp_min = [], [], []
    for n in range(20, 2001):
        w = exact_coverage(n, p, 0.95, "wilson")
        wilson_mean.append(w.mean())
        wilson_min.append(w.min())
        cp_min.append(exact_coverage(n, p, 0.95, "clopper_pearson").min())
    assert 0.94 <= min(wilson_mean) and max(wilson_mean) <= 0.96
    assert min(wilson_min) >= 0.89
    assert min(cp_min) >= 0.95


def test_exact_coverage_agrees_with_a_direct_sum_over_outcomes():
    n, p = 37, np.array([0.07, 0.31, 0.5, 0.88])
    lo, hi = proportion_bounds(np.arange(n + 1), n, 0.95)
    direct = [(stats.binom.pmf(np.arange(n + 1), n, q) * ((lo <= q) & (q <= hi))).sum() for q in p]
    np.testing.assert_allclose(exact_coverage(n, p, 0.95), direct, atol=1e-12)


def test_all_or_nothing_proportions_get_intervals_of_real_width():
    # the cases: 32/32 and 0/11 gave [1, 1] and [0, 0] under the percentile bootstrap
    full, none = proportion_interval(32, 32, 0.95), proportion_interval(0, 11, 0.95)
    assert full.upper == 1.0 and full.lower == pytest.approx(0.8928, abs=1e-3)
    assert none.lower == 0.0 and none.upper == pytest.approx(0.2588, abs=1e-3)
    one = proportion_interval(1, 1, 0.95, "clopper_pearson")
    assert one.lower == pytest.approx(0.025) and one.n == 1 and one.method == "clopper_pearson"


def test_assessment_per_class_intervals_are_binomial_with_their_n():
    y = np.array([0] * 32 + [1] * 11)
    probs = np.eye(2)[y] * 0.8 + 0.1  # perfect predictions
    got = bootstrap_cis(y, probs, ["a", "b"], n_resamples=200, seed=0)
    sens_a, sens_b = got["per_class"]["a"]["sensitivity"], got["per_class"]["b"]["sensitivity"]
    assert sens_a["lower"] == pytest.approx(stats.binomtest(32, 32).proportion_ci(0.95, "wilson").low)
    assert sens_a["lower"] < 0.9 and sens_b["lower"] < 0.75  # not [1, 1]
    assert sens_a["n"] == 32 and sens_b["n"] == 11 and sens_a["method"] == "wilson"
    spec_a = got["per_class"]["a"]["specificity"]  # specificity of a: the 11 rows of b
    assert spec_a["n"] == 11
    cp = bootstrap_cis(y, probs, ["a", "b"], n_resamples=200, seed=0, proportion_method="clopper_pearson")
    assert cp["per_class"]["b"]["sensitivity"]["lower"] < sens_b["lower"]  # exact is more conservative


def test_per_class_intervals_cover_npv_and_undefined_precision():
    cm = np.array([[5, 0], [3, 0]])  # class 1 never predicted
    out = per_class_intervals(cm, ["a", "b"], 0.95)
    assert np.isnan(out["b"]["precision"]["estimate"]) and np.isnan(out["b"]["precision"]["lower"])
    assert out["b"]["precision"]["n"] == 0
    assert out["a"]["npv"]["n"] == 0 and out["b"]["npv"]["n"] == 8  # NPV of b: 5 of 8 predicted 'not b' are not b
    assert out["b"]["npv"]["estimate"] == pytest.approx(5 / 8)
