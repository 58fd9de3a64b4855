"""Calibration: reliability curve and expected calibration error (ECE) per class.

For each class, one-vs-rest: the predicted probability of that class is put into equal-width
bins on [0, 1] (a value on an inner edge goes to the lower bin, as in scikit-learn's
``calibration_curve``); each bin holds n, the mean predicted probability and the observed
share of the class. ECE is the n-weighted mean of |observed - predicted| over the bins.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def reliability(hit: np.ndarray, prob: np.ndarray, n_bins: int) -> dict[str, Any]:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], prob)
    total = np.bincount(ids, minlength=n_bins)
    pred_sum = np.bincount(ids, weights=prob, minlength=n_bins)
    hit_sum = np.bincount(ids, weights=hit.astype(np.float64), minlength=n_bins)
    nz = total > 0
    mean_pred = np.full(n_bins, np.nan)
    observed = np.full(n_bins, np.nan)
    mean_pred[nz], observed[nz] = pred_sum[nz] / total[nz], hit_sum[nz] / total[nz]
    ece = float((total[nz] * np.abs(observed[nz] - mean_pred[nz])).sum() / total.sum()) if total.sum() else float("nan")
    return {"edges": edges, "n": total, "mean_predicted": mean_pred, "observed": observed, "ece": ece}


def calibration(y: np.ndarray, probs: np.ndarray, classes: Sequence[str], n_bins: int = 10) -> dict[str, Any]:
    y, probs = np.asarray(y), np.asarray(probs, dtype=np.float64)
    per = {c: reliability(y == j, probs[:, j], n_bins) for j, c in enumerate(classes)}
    top = reliability(probs.argmax(axis=1) == y, probs.max(axis=1), n_bins)
    return {"bins": n_bins, "per_class": per, "top_label": top}
