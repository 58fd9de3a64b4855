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


MIN_BIN_ROWS = 10


def quantile_bins(hit: np.ndarray, prob: np.ndarray, max_bins: int, min_rows: int = MIN_BIN_ROWS,
                  confidence: float = 0.95) -> dict[str, Any]:
    """Bins for the reliability diagram chosen by n: equal-count (quantile) bins of at least
    ``min_rows`` rows each (at most ``max_bins``), each with its n, mean predicted probability,
    observed share and a Wilson interval for that share. Rows with equal probability stay in one bin."""
    from medtorch.evaluation.proportions import wilson_interval

    order = np.argsort(prob, kind="stable")
    p, h = prob[order], hit[order].astype(np.int64)
    k = int(max(1, min(max_bins, len(p) // min_rows)))
    cuts = [int(round(i * len(p) / k)) for i in range(1, k)]
    cuts = [c for c in cuts if 0 < c < len(p)]
    groups = [g for g in np.split(np.arange(len(p)), cuts) if len(g)]
    merged: list[np.ndarray] = []
    for g in groups:  # a tie across a cut would split equal probabilities: keep them in the earlier bin
        if merged and p[g[0]] == p[merged[-1][-1]]:
            merged[-1] = np.concatenate([merged[-1], g])
        else:
            merged.append(g)
    out = {"n": [], "mean_predicted": [], "observed": [], "lower": [], "upper": [], "confidence": confidence}
    for g in merged:
        lo, hi = wilson_interval(int(h[g].sum()), len(g), confidence)
        out["n"].append(int(len(g)))
        out["mean_predicted"].append(float(p[g].mean()))
        out["observed"].append(float(h[g].mean()))
        out["lower"].append(float(lo))
        out["upper"].append(float(hi))
    return out


def calibration(y: np.ndarray, probs: np.ndarray, classes: Sequence[str], n_bins: int = 10) -> dict[str, Any]:
    y, probs = np.asarray(y), np.asarray(probs, dtype=np.float64)
    per = {c: reliability(y == j, probs[:, j], n_bins) for j, c in enumerate(classes)}
    top = reliability(probs.argmax(axis=1) == y, probs.max(axis=1), n_bins)
    diagram = {c: quantile_bins(y == j, probs[:, j], n_bins) for j, c in enumerate(classes)} if len(y) else {}
    return {"bins": n_bins, "per_class": per, "top_label": top, "diagram_bins": diagram}
