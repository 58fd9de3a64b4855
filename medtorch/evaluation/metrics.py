"""Classification metrics from the confusion matrix, by their standard definitions.

Pure NumPy functions; the torchmetrics shell in ``epoch.py`` only accumulates the counts.
Every number here is checked against scikit-learn in the tests, degenerate cases included.

Conventions (match scikit-learn with ``zero_division=np.nan``):
- MCC is the multi-class (Gorodkin) form; it is 0 when its denominator is 0, so a constant
  predictor scores 0 (torchmetrics' binary MCC does not: ~0.27 on 90/10 data).
- A per-class ratio whose denominator is 0 (sensitivity of a class absent from the split,
  precision of a class never predicted) is undefined: NaN here, ``null`` in JSON.
- Balanced accuracy averages sensitivity over the classes present in the split.
- AUROC is one-vs-rest per class from the scores (ties counted half), undefined for a class
  that is absent or alone in the split; the macro AUROC averages the defined ones. For two
  classes, ``auroc`` is the AUROC of class 1.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """K x K counts; rows are true classes, columns predicted classes."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def mcc(cm: np.ndarray) -> float:
    cm = np.asarray(cm, dtype=np.float64)
    t, p = cm.sum(axis=1), cm.sum(axis=0)
    c, s = np.trace(cm), cm.sum()
    cov_ytyp = c * s - t @ p
    cov_ypyp = s * s - p @ p
    cov_ytyt = s * s - t @ t
    den = cov_ytyt * cov_ypyp
    return 0.0 if den == 0 else float(cov_ytyp / np.sqrt(den))


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    fn, fp = support - tp, predicted - tp
    tn = cm.sum() - tp - fn - fp
    return {
        "support": support.astype(np.int64),
        "tp": tp.astype(np.int64), "fp": fp.astype(np.int64), "fn": fn.astype(np.int64), "tn": tn.astype(np.int64),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "precision": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def balanced_accuracy(cm: np.ndarray) -> float:
    sens = per_class(cm)["sensitivity"]
    present = ~np.isnan(sens)
    return float(sens[present].mean()) if present.any() else float("nan")


def auroc_per_class(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """One-vs-rest AUROC of each class (Mann-Whitney U with mid-ranks for ties)."""
    from scipy.stats import rankdata

    y_true = np.asarray(y_true, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    k = scores.shape[1]
    out = np.full(k, np.nan)
    for j in range(k):
        pos = y_true == j
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        if n_pos == 0 or n_neg == 0:
            continue
        ranks = rankdata(scores[:, j])
        out[j] = (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return out


def auroc(y_true: np.ndarray, scores: np.ndarray) -> float:
    per = auroc_per_class(y_true, scores)
    if scores.shape[1] == 2:
        return float(per[1])
    defined = ~np.isnan(per)
    return float(per[defined].mean()) if defined.any() else float("nan")


def classification_metrics(
    y_true: np.ndarray, probs: np.ndarray, class_names: Sequence[str], y_pred: np.ndarray | None = None
) -> dict[str, Any]:
    """Everything medtorch reports about one split's predictions."""
    probs = np.asarray(probs)
    k = len(class_names)
    if y_pred is None:
        y_pred = probs.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred, k)
    pc = per_class(cm)
    auc = auroc_per_class(y_true, probs)
    return {
        "n": int(cm.sum()),
        "mcc": mcc(cm),
        "accuracy": float(np.trace(cm) / cm.sum()) if cm.sum() else float("nan"),
        "balanced_accuracy": balanced_accuracy(cm),
        "auroc": auroc(y_true, probs),
        "classes": list(class_names),
        "confusion_matrix": cm.tolist(),
        "per_class": {
            name: {
                "support": int(pc["support"][j]),
                "sensitivity": float(pc["sensitivity"][j]),
                "specificity": float(pc["specificity"][j]),
                "precision": float(pc["precision"][j]),
                "npv": float(pc["npv"][j]),
                "f1": float(pc["f1"][j]),
                "auroc": float(auc[j]),
            }
            for j, name in enumerate(class_names)
        },
    }
