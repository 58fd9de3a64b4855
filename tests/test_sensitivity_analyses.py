"""Sensitivity tables (class, subgroup, calendar period) and calibration on hand-built cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import matthews_corrcoef

from medtorch.errors import MedtorchError
from medtorch.evaluation.acceptance import observed_quantities
from medtorch.evaluation.assessment import assess
from medtorch.evaluation.calibration import calibration
from medtorch.evaluation.subgroups import MISSING, group_labels, group_table, period_labels

EV = {"bootstrap_resamples": 200, "confidence": 0.95, "min_group_n": 10, "period": "year", "period_days": 365,
      "calibration_bins": 5}


def _hand_built():
    """F: 40 rows predicted perfectly. M: 40 rows, confusion [[15, 5], [10, 10]]. X: 5 rows. 3 rows without sex."""
    y, pred, sex = [], [], []
    y += [0] * 20 + [1] * 20; pred += [0] * 20 + [1] * 20; sex += ["F"] * 40
    y += [0] * 20 + [1] * 20; pred += [0] * 15 + [1] * 5 + [1] * 10 + [0] * 10; sex += ["M"] * 40
    y += [0, 1, 0, 1, 1]; pred += [1, 0, 0, 1, 1]; sex += ["X"] * 5
    y += [0, 1, 1]; pred += [0, 1, 0]; sex += [None] * 3
    y, pred = np.array(y), np.array(pred)
    probs = np.where(pred[:, None] == np.arange(2), 0.8, 0.2)
    return y, probs, pd.Series(sex, dtype=object)


def test_subgroup_table_on_hand_built_case():
    y, probs, sex = _hand_built()
    overall = matthews_corrcoef(y, probs.argmax(axis=1))
    t = group_table(y, probs, ["neg", "pos"], group_labels(sex), overall, min_n=10, n_resamples=200, seed=0, confidence=0.95)
    cells = {c["group"]: c for c in t["cells"]}
    assert list(cells) == ["F", "M", "X", MISSING]
    assert [cells[g]["n"] for g in cells] == [40, 40, 5, 3]
    assert [cells[g]["small_n"] for g in cells] == [False, False, True, True]
    m_mcc = (15 * 10 - 5 * 10) / np.sqrt(20 * 20 * 25 * 15)  # by hand from [[15, 5], [10, 10]]
    assert cells["F"]["mcc"]["estimate"] == pytest.approx(1.0)
    assert cells["M"]["mcc"]["estimate"] == pytest.approx(m_mcc)
    assert cells["M"]["mcc_vs_overall"] == pytest.approx(m_mcc - overall)
    assert cells["M"]["per_class"]["pos"]["sensitivity"]["estimate"] == pytest.approx(0.5)
    assert cells["M"]["per_class"]["pos"]["specificity"]["estimate"] == pytest.approx(0.75)
    assert cells["M"]["per_class"]["neg"]["sensitivity"]["estimate"] == pytest.approx(0.75)
    lo, hi = cells["M"]["mcc"]["lower"], cells["M"]["mcc"]["upper"]
    assert lo < m_mcc < hi
    assert cells["F"]["mcc"]["lower"] == cells["F"]["mcc"]["upper"] == 1.0
    g = t["gaps"]
    assert g["mcc_range"] == pytest.approx(1.0 - m_mcc)  # small groups X and (missing) are not judged
    assert g["sensitivity_range"]["pos"] == pytest.approx(0.5)
    assert g["groups_judged"] == 2 and g["groups_too_small"] == ["X", MISSING]


def test_period_labels():
    dates = pd.Series(["2020-03-01", "2020-11-30", "2021-01-15", None])
    assert period_labels(dates, "visit", "year").tolist() == ["2020", "2020", "2021", MISSING]
    assert period_labels(dates, "visit", "quarter").tolist() == ["2020-Q1", "2020-Q4", "2021-Q1", MISSING]
    assert period_labels(dates, "visit", "month").tolist() == ["2020-03", "2020-11", "2021-01", MISSING]
    fixed = period_labels(dates, "visit", "days", width_days=300).tolist()
    assert fixed == ["2020-03-01..2020-12-25", "2020-03-01..2020-12-25", "2020-12-26..2021-10-21", MISSING]
    assert period_labels(pd.Series([2019, 2021, None]), "year", "year").tolist() == ["2019", "2021", MISSING]
    with pytest.raises(MedtorchError, match=r"time column 'visit': value 'soon' \(row 2"):
        period_labels(pd.Series(["2020-01-01", "soon"]), "visit", "year")


def test_calibration_matches_sklearn_and_hand_ece():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([1, 1, 1], size=500)
    y = np.array([rng.choice(3, p=p) for p in probs])
    cal = calibration(y, probs, ["a", "b", "c"], n_bins=10)
    for j, c in enumerate("abc"):
        obs, pred = calibration_curve(y == j, probs[:, j], n_bins=10, strategy="uniform")
        r = cal["per_class"][c]
        ok = r["n"] > 0
        np.testing.assert_allclose(r["observed"][ok], obs, atol=1e-12)
        np.testing.assert_allclose(r["mean_predicted"][ok], pred, atol=1e-12)
    two = calibration(np.array([0, 1, 1, 1]), np.array([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.1, 0.9]]), ["n", "p"], n_bins=2)
    # class p: bin [0, .5): predicted .1, observed .5; bin [.5, 1]: predicted .9, observed 1 -> (2*.4 + 2*.1) / 4
    assert two["per_class"]["p"]["ece"] == pytest.approx(0.25)


def test_assessment_tables_and_acceptance_quantities():
    y, probs, sex = _hand_built()
    extra = pd.DataFrame({"sex": sex, "visit": ["2020-06-01"] * 40 + ["2021-06-01"] * 48})
    a = assess(y, probs, ["neg", "pos"], extra, {"subgroup_columns": ["sex"], "time_column": "visit"}, EV, seed=0)
    assert a["classes"]["neg"]["support"] == int((y == 0).sum()) and not a["classes"]["neg"]["small_n"]
    assert [c["group"] for c in a["periods"]["cells"]] == ["2020", "2021"]
    q = observed_quantities(a)
    assert q["max_subgroup_mcc_gap"] == pytest.approx(a["subgroups"]["sex"]["gaps"]["mcc_range"])
    assert q["max_period_mcc_gap"] == pytest.approx(a["periods"]["gaps"]["mcc_range"])
    assert q["mcc"] == pytest.approx(matthews_corrcoef(y, probs.argmax(axis=1)))
    assert q["min_class_sensitivity"] == pytest.approx(min(a["metrics"]["per_class"][c]["sensitivity"] for c in ("neg", "pos")))
    with pytest.raises(MedtorchError, match="subgroup column 'site'"):
        assess(y, probs, ["neg", "pos"], extra, {"subgroup_columns": ["site"]}, EV, seed=0)
