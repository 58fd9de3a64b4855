"""Bootstrap CIs against an independent computation: scikit-learn's metric on the same resamples."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, matthews_corrcoef, roc_auc_score

from medtorch.evaluation.bca import bca_levels, interval, jackknife_blocks
from medtorch.evaluation.bootstrap import Resampling, bootstrap_cis, bootstrap_values, jackknife_values, resample_indices


def _data(n, k, seed, signal=1.0):
    rng = np.random.default_rng(seed)
    y = rng.choice(k, size=n, p=np.linspace(1, 2, k) / np.linspace(1, 2, k).sum())
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += signal
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, np.round(probs, 3)  # rounding creates ties, which AUROC must count half


def _reference(y, probs, B, seed, confidence):
    """Percentile bootstrap of scikit-learn's metrics, one resample at a time."""
    k = probs.shape[1]
    pred = probs.argmax(axis=1)
    vals = {"mcc": [], "balanced_accuracy": [], "auroc": []}
    for idx in resample_indices(y, B, seed):
        yt, yp, pr = y[idx], pred[idx], probs[idx]
        vals["mcc"].append(matthews_corrcoef(yt, yp))
        vals["balanced_accuracy"].append(balanced_accuracy_score(yt, yp))
        if k == 2:
            vals["auroc"].append(roc_auc_score(yt, pr[:, 1]))
        else:
            vals["auroc"].append(np.mean([roc_auc_score(yt == j, pr[:, j]) for j in range(k)]))
    tail = 100 * (1 - confidence) / 2
    return {name: np.nanpercentile(np.asarray(v, dtype=float), [tail, 100 - tail]) for name, v in vals.items()}


@pytest.mark.parametrize("k", [2, 3])
def test_intervals_match_sklearn_percentile_bootstrap(k):
    y, probs = _data(400, k, seed=k)
    classes = [f"c{j}" for j in range(k)]
    got = bootstrap_cis(y, probs, classes, n_resamples=100, seed=7, confidence=0.9, method="percentile")
    ref = _reference(y, probs, 100, 7, 0.9)
    for name in ("mcc", "balanced_accuracy", "auroc"):
        np.testing.assert_allclose([got[name]["lower"], got[name]["upper"]], ref[name], atol=1e-10, err_msg=name)
        assert got[name]["method"] == "percentile" and got[name]["n"] == 400
    assert got["mcc"]["estimate"] == pytest.approx(matthews_corrcoef(y, probs.argmax(axis=1)))
    assert got["mcc"]["lower"] <= got["mcc"]["estimate"] <= got["mcc"]["upper"]


def test_resamples_are_seeded_and_keep_class_counts():
    y = np.array([0] * 30 + [1] * 5 + [2] * 2)
    a, b, c = resample_indices(y, 50, 1), resample_indices(y, 50, 1), resample_indices(y, 50, 2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    for row in a:
        assert np.array_equal(np.bincount(y[row], minlength=3), [30, 5, 2])  # stratified: no class is ever lost


def test_degenerate_constant_predictor_and_never_predicted_class():
    y = np.array([0] * 90 + [1] * 10)
    probs = np.tile([0.8, 0.2], (100, 1))  # always predicts class 0, all scores tied
    got = bootstrap_cis(y, probs, ["a", "b"], n_resamples=100, seed=0)
    assert (got["mcc"]["estimate"], got["mcc"]["lower"], got["mcc"]["upper"]) == (0.0, 0.0, 0.0)
    assert got["mcc"]["method"] == "percentile" and "not certainty" in got["mcc"]["note"]  # BCa impossible, and said so
    assert got["auroc"]["lower"] == got["auroc"]["upper"] == 0.5 == roc_auc_score(y, probs[:, 1])
    sens = got["per_class"]["b"]["sensitivity"]  # 0 of 10: a binomial interval, not [0, 0]
    assert sens["estimate"] == 0.0 and sens["upper"] > 0.2 and sens["n"] == 10
    prec = got["per_class"]["b"]["precision"]  # class b is never predicted: precision undefined (n = 0)
    assert prec["n"] == 0 and np.isnan(prec["lower"]) and np.isnan(prec["estimate"])


def test_perfect_predictor_has_degenerate_interval_at_one():
    y = np.array([0, 1] * 50)
    probs = np.eye(2)[y]
    got = bootstrap_cis(y, probs, ["a", "b"], n_resamples=100, seed=0)
    for name in ("mcc", "balanced_accuracy", "auroc"):
        assert got[name]["lower"] == got[name]["upper"] == 1.0


def _clustered(subjects, per_subject, seed, signal=1.5):
    """Rows grouped by subject: labels share a subject propensity and scores a subject offset, so a subject's
    rows are right or wrong together (the situation the subject-level bootstrap is for)."""
    rng = np.random.default_rng(seed)
    u, offset = rng.normal(0, 1.5, subjects), rng.normal(0, 1.0, subjects)
    sid = np.repeat(np.arange(subjects), per_subject)
    y = (u[sid] + rng.normal(0, 0.5, len(sid)) > 0).astype(int)
    score = signal * y - signal / 2 + offset[sid] + rng.normal(0, 0.4, len(sid))
    p = 1 / (1 + np.exp(-score))
    return y, np.c_[1 - p, p], sid


def test_subject_resamples_match_scikit_learn_on_the_rebuilt_rows():
    y, probs, sid = _clustered(30, 5, seed=3)
    res = Resampling(y, 40, seed=5, subjects=sid)
    got = bootstrap_values(y, probs, res)
    for b in range(40):
        # res.unit numbers the subjects (sorted ids); draws[b, g] is how often subject g was drawn
        rows = np.concatenate([np.tile(np.flatnonzero(res.unit == g), c) for g, c in enumerate(res.draws[b])])
        assert len(rows) == res.draws[b].sum() * 5  # whole subjects, all their rows
        assert got["mcc"][b] == pytest.approx(matthews_corrcoef(y[rows], probs[rows].argmax(1)), abs=1e-12)
        assert got["balanced_accuracy"][b] == pytest.approx(balanced_accuracy_score(y[rows], probs[rows].argmax(1)))
        assert got["auroc"][b] == pytest.approx(roc_auc_score(y[rows], probs[rows, 1]), abs=1e-12)


def test_jackknife_leaves_out_one_subject_or_one_block():
    y, probs, sid = _clustered(30, 5, seed=4)
    res = Resampling(y, 10, seed=0, subjects=sid)
    assert res.blocks == 30
    jack = jackknife_values(y, probs, res)
    for g in (0, 17):
        keep = res.unit != g
        assert jack["auroc"][g] == pytest.approx(roc_auc_score(y[keep], probs[keep, 1]), abs=1e-12)
        assert jack["mcc"][g] == pytest.approx(matthews_corrcoef(y[keep], probs[keep].argmax(1)), abs=1e-12)
    block, count = jackknife_blocks(np.arange(1000), 1000, seed=0)
    assert count == 200 and np.bincount(block).min() == 5  # rows dealt evenly into 200 blocks


def test_subject_bootstrap_is_wider_than_the_row_bootstrap_with_five_rows_per_subject():
    y, probs, sid = _clustered(120, 5, seed=0)
    rows = bootstrap_cis(y, probs, ["a", "b"], n_resamples=400, seed=1)
    subj = bootstrap_cis(y, probs, ["a", "b"], n_resamples=400, seed=1, subjects=sid)
    assert subj["resampled"] == "subjects" and subj["subjects"] == 120 and rows["resampled"] == "rows"
    for name in ("mcc", "balanced_accuracy", "auroc"):
        w_rows = rows[name]["upper"] - rows[name]["lower"]
        w_subj = subj[name]["upper"] - subj[name]["lower"]
        assert w_subj > 1.3 * w_rows, name  # ignoring the clustering understates the uncertainty
        assert subj[name]["subjects"] == 120 and subj[name]["n"] == 600


def test_subject_bootstrap_covers_where_the_row_bootstrap_does_not():
    """A small deterministic version of scripts/coverage_intervals.py --clustered."""
    big_y, big_p, _ = _clustered(200_000, 1, seed=99)
    truth = roc_auc_score(big_y, big_p[:, 1])  # the population AUROC (one row per subject: same distribution)
    hits = {"rows": 0, "subjects": 0}
    sims = 60
    for s in range(sims):
        y, probs, sid = _clustered(60, 5, seed=1000 + s)
        for kind, subjects in (("rows", None), ("subjects", sid)):
            ci = bootstrap_cis(y, probs, ["a", "b"], n_resamples=300, seed=s, subjects=subjects, method="percentile")["auroc"]
            hits[kind] += ci["lower"] <= truth <= ci["upper"]
    assert hits["subjects"] / sims >= 0.85  # nominal 95%: within Monte Carlo error of 60 simulations
    assert hits["rows"] < hits["subjects"] and hits["rows"] / sims <= 0.85


def test_bca_formula_agrees_with_scipy_bootstrap():
    from scipy.stats import bootstrap

    rng = np.random.default_rng(0)
    x = rng.exponential(size=150)  # skewed: BCa and percentile differ
    ref = bootstrap((x,), np.mean, n_resamples=20000, method="BCa", confidence_level=0.95, random_state=1).confidence_interval
    draws = rng.integers(0, len(x), size=(20000, len(x)))
    values = x[draws].mean(axis=1)
    jack = (x.sum() - x) / (len(x) - 1)  # leave-one-out means
    got = interval(float(x.mean()), values, jack, 0.95)
    assert got.method == "bca"
    assert got.lower == pytest.approx(ref.low, abs=0.01) and got.upper == pytest.approx(ref.high, abs=0.01)
    pct = interval(float(x.mean()), values, jack, 0.95, method="percentile")
    assert got.upper - pct.upper > 0.005  # the acceleration moved the upper bound out, as it should for a right skew


def test_bca_falls_back_to_percentile_with_the_reason():
    values = np.linspace(0.5, 0.9, 1000)
    levels, why = bca_levels(1.0, values, np.linspace(0.9, 1.0, 50), 0.95)
    assert levels is None and "one side" in why
    got = interval(1.0, values, np.linspace(0.9, 1.0, 50), 0.95)
    assert got.method == "percentile" and "one side" in got.note
    got = interval(0.7, values, np.full(5, 0.7), 0.95)
    assert got.method == "percentile" and "jackknife" in got.note
