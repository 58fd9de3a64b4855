"""Bootstrap CIs against an independent computation: scikit-learn's metric on the same resamples."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (balanced_accuracy_score, matthews_corrcoef, multilabel_confusion_matrix,
                             precision_recall_fscore_support, roc_auc_score)

from medtorch.evaluation.bootstrap import bootstrap_cis, resample_indices


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
    for j in range(k):
        for m in ("sensitivity", "specificity", "precision"):
            vals[f"{m}{j}"] = []
    for idx in resample_indices(y, B, seed):
        yt, yp, pr = y[idx], pred[idx], probs[idx]
        vals["mcc"].append(matthews_corrcoef(yt, yp))
        vals["balanced_accuracy"].append(balanced_accuracy_score(yt, yp))
        if k == 2:
            vals["auroc"].append(roc_auc_score(yt, pr[:, 1]))
        else:
            vals["auroc"].append(np.mean([roc_auc_score(yt == j, pr[:, j]) for j in range(k)]))
        prec, rec, _, _ = precision_recall_fscore_support(yt, yp, labels=range(k), zero_division=np.nan)
        mcm = multilabel_confusion_matrix(yt, yp, labels=range(k))  # [[tn, fp], [fn, tp]] per class
        for j in range(k):
            vals[f"sensitivity{j}"].append(rec[j])
            vals[f"specificity{j}"].append(mcm[j, 0, 0] / mcm[j, 0].sum())
            vals[f"precision{j}"].append(prec[j])
    tail = 100 * (1 - confidence) / 2
    return {name: np.nanpercentile(np.asarray(v, dtype=float), [tail, 100 - tail]) for name, v in vals.items()}


@pytest.mark.parametrize("k", [2, 3])
def test_intervals_match_sklearn_percentile_bootstrap(k):
    y, probs = _data(400, k, seed=k)
    classes = [f"c{j}" for j in range(k)]
    got = bootstrap_cis(y, probs, classes, n_resamples=100, seed=7, confidence=0.9)
    ref = _reference(y, probs, 100, 7, 0.9)
    for name in ("mcc", "balanced_accuracy", "auroc"):
        np.testing.assert_allclose([got[name]["lower"], got[name]["upper"]], ref[name], atol=1e-10, err_msg=name)
    for j, c in enumerate(classes):
        for m in ("sensitivity", "specificity", "precision"):
            np.testing.assert_allclose([got["per_class"][c][m]["lower"], got["per_class"][c][m]["upper"]], ref[f"{m}{j}"],
                                       atol=1e-10, err_msg=f"{m} {c}")
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
    assert got["mcc"] == {"estimate": 0.0, "lower": 0.0, "upper": 0.0, "undefined_resamples": 0}
    assert got["auroc"]["lower"] == got["auroc"]["upper"] == 0.5 == roc_auc_score(y, probs[:, 1])
    assert got["per_class"]["b"]["sensitivity"]["upper"] == 0.0
    prec = got["per_class"]["b"]["precision"]  # class b is never predicted: precision undefined in every resample
    assert prec["undefined_resamples"] == 100 and np.isnan(prec["lower"]) and np.isnan(prec["estimate"])


def test_perfect_predictor_has_degenerate_interval_at_one():
    y = np.array([0, 1] * 50)
    probs = np.eye(2)[y]
    got = bootstrap_cis(y, probs, ["a", "b"], n_resamples=100, seed=0)
    for name in ("mcc", "balanced_accuracy", "auroc"):
        assert got[name]["lower"] == got[name]["upper"] == 1.0
