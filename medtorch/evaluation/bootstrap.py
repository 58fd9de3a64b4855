"""Seeded, class-stratified percentile bootstrap confidence intervals, vectorised.

Each resample draws, within every class, as many rows as that class has (with replacement),
so every resample keeps the split's class counts and no class ever disappears from it.
Nothing is recomputed per resample in Python: the resampled rows are turned into one
``bincount`` of confusion-matrix cells (B x K x K counts) and of score-level counts for
AUROC, and every metric is computed on whole arrays of resamples at once. The interval is
the percentile interval of the resampled values (resamples where a ratio is undefined are
left out and counted).

``resample_indices`` is public so that tests can recompute every resample with an
independent library (scikit-learn) and compare.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from medtorch.evaluation import metrics as M

CHUNK = 128  # resamples per vectorised block: bounds memory at ~CHUNK x n x 8 bytes


@dataclass
class Interval:
    estimate: float
    lower: float
    upper: float
    undefined_resamples: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resample_indices(y: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """(n_resamples, n) row indices; each row is one class-stratified resample of ``y``."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    dtype = np.int32 if len(y) < 2**31 else np.int64  # half the memory and time of int64 for any realistic n
    out = np.empty((n_resamples, len(y)), dtype=dtype)
    col = 0
    for c in np.unique(y):
        rows = np.flatnonzero(y == c).astype(dtype)
        out[:, col : col + len(rows)] = rows[rng.integers(0, len(rows), size=(n_resamples, len(rows)), dtype=dtype)]
        col += len(rows)
    return out


def _counts(codes: np.ndarray, idx: np.ndarray, width: int) -> np.ndarray:
    """Per resample, how often each code in [0, width) occurs: (B, width)."""
    b = idx.shape[0]
    flat = codes[idx] + (np.arange(b, dtype=np.intp) * width)[:, None]
    return np.bincount(flat.ravel(), minlength=b * width).reshape(b, width)


def mcc_many(cm: np.ndarray) -> np.ndarray:
    """Multi-class MCC of each of B confusion matrices (B, K, K); 0 where undefined."""
    cm = cm.astype(np.float64)
    t, p = cm.sum(axis=2), cm.sum(axis=1)
    c = np.trace(cm, axis1=1, axis2=2)
    s = cm.sum(axis=(1, 2))
    cov_ytyp = c * s - (t * p).sum(axis=1)
    den = (s * s - (t * t).sum(axis=1)) * (s * s - (p * p).sum(axis=1))
    out = np.zeros(len(cm))
    ok = den > 0
    out[ok] = cov_ytyp[ok] / np.sqrt(den[ok])
    return out


def per_class_many(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class sensitivity, specificity, precision of B confusion matrices: (B, K) each."""
    cm = cm.astype(np.float64)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    support, predicted, total = cm.sum(axis=2), cm.sum(axis=1), cm.sum(axis=(1, 2))[:, None]
    fn, fp = support - tp, predicted - tp
    tn = total - tp - fn - fp
    return {"sensitivity": M._ratio(tp, tp + fn), "specificity": M._ratio(tn, tn + fp),
            "precision": M._ratio(tp, tp + fp)}


def _auroc_many(pos: np.ndarray, score: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """One-vs-rest AUROC (ties count half) of each resample, from counts per score level."""
    levels, inv = np.unique(score, return_inverse=True)
    m = len(levels)
    w = _counts(inv * 2 + pos.astype(np.intp), idx, 2 * m).reshape(len(idx), m, 2).astype(np.float64)
    wn, wp = w[:, :, 0], w[:, :, 1]
    below = np.cumsum(wn, axis=1) - wn
    n_pos, n_neg = wp.sum(axis=1), wn.sum(axis=1)
    return M._ratio((wp * (below + 0.5 * wn)).sum(axis=1), n_pos * n_neg)


def bootstrap_values(y: np.ndarray, probs: np.ndarray, idx: np.ndarray, with_auroc: bool = True) -> dict[str, np.ndarray]:
    """Every reported metric on every resample given by ``idx`` (B, n)."""
    y = np.asarray(y, dtype=np.intp)
    probs = np.asarray(probs, dtype=np.float64)
    k = probs.shape[1]
    codes = y * k + probs.argmax(axis=1)
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(idx), CHUNK):
        block = idx[start : start + CHUNK]
        cm = _counts(codes, block, k * k).reshape(len(block), k, k)
        pc = per_class_many(cm)
        sens = pc["sensitivity"]
        present = ~np.isnan(sens)
        vals = {"mcc": mcc_many(cm),
                "balanced_accuracy": np.where(present.any(axis=1), np.nansum(sens, axis=1) / np.maximum(present.sum(axis=1), 1), np.nan),
                **pc}
        if with_auroc:
            per = np.stack([_auroc_many(y == j, probs[:, j], block) for j in (range(k) if k > 2 else [1])], axis=1)
            defined = ~np.isnan(per)
            vals["auroc"] = np.where(defined.any(axis=1), np.nansum(per, axis=1) / np.maximum(defined.sum(axis=1), 1), np.nan)
        for name, v in vals.items():
            parts.setdefault(name, []).append(v)
    return {name: np.concatenate(v) for name, v in parts.items()}


def percentile_interval(estimate: float, values: np.ndarray, confidence: float) -> Interval:
    finite = values[~np.isnan(values)]
    if finite.size == 0 or estimate is None or np.isnan(estimate):
        return Interval(float(estimate) if estimate is not None else float("nan"), float("nan"), float("nan"), int(values.size - finite.size))
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return Interval(float(estimate), float(lo), float(hi), int(values.size - finite.size))


def bootstrap_cis(
    y: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    with_auroc: bool = True,
) -> dict[str, Any]:
    """Estimate and percentile CI for MCC, balanced accuracy, AUROC and per-class metrics."""
    point = M.classification_metrics(y, probs, class_names)
    idx = resample_indices(y, n_resamples, seed)
    vals = bootstrap_values(y, probs, idx, with_auroc=with_auroc)
    out: dict[str, Any] = {
        "method": "class-stratified percentile bootstrap", "resamples": n_resamples, "seed": seed,
        "confidence": confidence, "n": point["n"],
    }
    for name in ("mcc", "balanced_accuracy") + (("auroc",) if with_auroc else ()):
        out[name] = percentile_interval(point[name], vals[name], confidence).as_dict()
    out["per_class"] = {
        c: {"support": point["per_class"][c]["support"],
            **{m: percentile_interval(point["per_class"][c][m], vals[m][:, j], confidence).as_dict()
               for m in ("sensitivity", "specificity", "precision")}}
        for j, c in enumerate(class_names)
    }
    return out
