"""Intervals of proportions: SciPy's numbers, exact coverage, no zero-width intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from medtorch.errors import MedtorchError
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


EV = {"bootstrap_resamples": 200, "confidence": 0.95, "min_group_n": 10, "period": "year", "period_days": 365,
      "calibration_bins": 5}


def test_a_lower_bound_criterion_no_longer_passes_on_32_of_32():
    from medtorch.evaluation.acceptance import judge, observed_quantities, parse_criterion
    from medtorch.evaluation.assessment import assess

    y = np.array([0] * 32 + [1] * 54)
    probs = np.eye(2)[y] * 0.9 + 0.05  # every row right: 32/32 and 54/54
    a = assess(y, probs, ["malignant", "benign"], pd.DataFrame(index=range(86)), {}, EV, seed=0)
    q = observed_quantities(a)
    assert q["min_class_sensitivity"] == 1.0
    assert q["min_class_sensitivity_lower_ci"] == pytest.approx(0.8928, abs=1e-3)  # the percentile bootstrap gave 1.0
    assert not judge([parse_criterion("min_class_sensitivity_lower_ci >= 0.9")], q)[0]["passed"]


def test_subgroup_and_period_cells_resample_subjects_with_n_beside_every_interval():
    from medtorch.evaluation.assessment import assess, summary_lines

    rng = np.random.default_rng(0)
    subjects = np.repeat(np.arange(40), 5)
    y = rng.integers(0, 2, 200)
    p1 = np.clip(0.7 * y + 0.15 + rng.normal(0, 0.2, 200), 0.01, 0.99)
    probs = np.c_[1 - p1, p1]
    extra = pd.DataFrame({"pid": subjects, "sex": np.where(subjects % 2, "F", "M"),
                          "visit": np.where(subjects < 20, "2020-03-01", "2021-03-01")})
    data = {"subject_column": "pid", "subgroup_columns": ["sex"], "time_column": "visit"}
    a = assess(y, probs, ["a", "b"], extra, data, {**EV, "proportion_interval": "clopper_pearson"}, seed=0)
    assert a["ci"]["resampled"] == "subjects" and a["ci"]["subjects"] == 40
    labels = {"sex": extra["sex"].to_numpy(), "period": extra["visit"].str[:4].to_numpy()}
    for table, cells in (("sex", a["subgroups"]["sex"]["cells"]), ("period", a["periods"]["cells"])):
        for cell in cells:
            assert cell["mcc"]["subjects"] == 20 and cell["mcc"]["n"] == 100  # each cell's own subjects
            sens = cell["per_class"]["a"]["sensitivity"]
            assert sens["method"] == "clopper_pearson"
            assert sens["n"] == int((y[labels[table] == cell["group"]] == 0).sum())  # class a rows of this cell
    text = "\n".join(summary_lines(a))
    assert "(n=200, " in text and "n=" in text.splitlines()[2] and "Clopper-Pearson" in text
    extra.loc[3, "pid"] = None
    with pytest.raises(MedtorchError, match="row 3 of the evaluated rows has no subject id"):
        assess(y, probs, ["a", "b"], extra, data, EV, seed=0)
