"""The multivariate leakage probe: does one feature predict as well as all the others together?

A single-feature threshold cannot tell a strong legitimate predictor from a variable measured
after the outcome (follow-up time predicted death at balanced accuracy 0.82 on a registry, below
any sensible stop level). What gives such a variable away is that it carries as much signal as
every other feature together. On at most ``leakage.probe_rows`` sampled training rows, the probe
compares, class by class (one against the rest), the 3-fold cross-validated AUROC of a
histogram gradient-boosted model (scikit-learn's HistGradientBoostingClassifier) on each feature
alone with that of the same model on all the other features. A feature whose solo AUROC reaches
at least ``FLOOR`` and comes within ``leakage.probe_margin`` of (or exceeds) its all-others
AUROC is reported.

Cheap by construction: small models (30 boosting rounds, 64 bins), one thread (no
oversubscription on shared cores), and the all-others model is fitted only for candidates, the
features whose solo AUROC comes within the margin of the best solo AUROC of another feature
(a model of all the others can do about as well as that feature alone), plus 0.05 of slack.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from medtorch.data.leakage_result import CheckResult
from medtorch.data.split import Rows

FLOOR = 0.80  # a feature weaker than this alone is no post-outcome leak worth a warning
SLACK = 0.05  # extra room when choosing which features get an all-others model
FOLDS = 3
MIN_CLASS_ROWS = 10  # classes with fewer sampled rows are left out of the probe
MODEL = dict(max_iter=30, max_leaf_nodes=15, max_bins=64, learning_rate=0.15, early_stopping=False)


def _matrix(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Numbers as floats (NaN kept: the model handles it); categories as codes, rare levels lumped."""
    cols, categorical = [], []
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            cols.append(s.to_numpy(dtype=np.float64, na_value=np.nan))
            categorical.append(False)
            continue
        codes, levels = pd.factorize(s, use_na_sentinel=True)
        if len(levels) > MODEL["max_bins"] - 1:  # keep the most frequent levels, lump the rest
            order = np.argsort(-np.bincount(codes[codes >= 0], minlength=len(levels)), kind="stable")
            rank = np.empty(len(levels), dtype=np.int64)
            rank[order] = np.arange(len(levels))
            codes = np.where(codes >= 0, np.minimum(rank[np.maximum(codes, 0)], MODEL["max_bins"] - 2), -1)
        cols.append(np.where(codes >= 0, codes, np.nan).astype(np.float64))
        categorical.append(True)
    return np.column_stack(cols), np.array(categorical)


def _cv_aurocs(x: np.ndarray, y: np.ndarray, categorical: np.ndarray, n_classes: int, seed: int) -> np.ndarray:
    """Cross-validated one-vs-rest AUROC per class of the model on columns ``x``."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    model = HistGradientBoostingClassifier(**MODEL, categorical_features=categorical if categorical.any() else None,
                                           random_state=seed)
    cv = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    p = cross_val_predict(model, x, y, cv=cv, method="predict_proba")
    return np.array([roc_auc_score(y == k, p[:, k]) for k in range(n_classes)])


def multivariate_probe(train: Rows, max_rows: int, margin: float, seed: int = 0,
                       classes: list[str] | None = None) -> CheckResult:
    from threadpoolctl import threadpool_limits

    if train.frame.shape[1] < 2:
        return CheckResult("multivariate_probe", "skipped", "needs at least two features")
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(train), size=min(max_rows, len(train)), replace=False))
    y0 = train.y[idx]
    counts = np.bincount(y0)
    kept = np.flatnonzero(counts >= MIN_CLASS_ROWS)
    if len(kept) < 2:
        return CheckResult("multivariate_probe", "skipped", f"fewer than two classes with {MIN_CLASS_ROWS} sampled rows")
    rows = np.isin(y0, kept)
    y = np.searchsorted(kept, y0[rows])
    x, categorical = _matrix(train.frame.iloc[idx[rows]])
    names = [str(c) for c in train.frame.columns]
    class_names = [(classes[k] if classes else str(k)) for k in kept]
    with threadpool_limits(1):
        solo = np.array([_cv_aurocs(x[:, [j]], y, categorical[[j]], len(kept), seed) for j in range(len(names))])
        best_other = np.array([np.delete(solo, j, axis=0).max(axis=0) for j in range(len(names))])
        candidates = np.flatnonzero(((solo >= FLOOR) & (solo >= best_other - margin - SLACK)).any(axis=1))
        others = {int(j): _cv_aurocs(np.delete(x, j, axis=1), y, np.delete(categorical, j), len(kept), seed)
                  for j in candidates}
    flagged, compared = [], []
    for j, auc_others in others.items():
        for k, cls in enumerate(class_names):
            row = {"column": names[j], "class": cls, "solo_auroc": round(float(solo[j, k]), 4),
                   "all_others_auroc": round(float(auc_others[k]), 4)}
            compared.append(row)
            if solo[j, k] >= FLOOR and solo[j, k] >= auc_others[k] - margin:
                flagged.append(row)
    top = sorted(({"column": names[j], "solo_auroc": round(float(solo[j].max()), 4),
                   "class": class_names[int(solo[j].argmax())]} for j in range(len(names))),
                 key=lambda d: -d["solo_auroc"])[:5]
    evidence = {"rows_sampled": int(rows.sum()), "folds": FOLDS, "margin": margin, "floor": FLOOR,
                "model": "HistGradientBoostingClassifier " + ", ".join(f"{k}={v}" for k, v in MODEL.items()),
                "top_solo": top, "solo_auroc": {n: dict(zip(class_names, np.round(solo[j], 4).tolist()))
                                                for j, n in enumerate(names)},
                "compared": compared, "flagged": flagged}
    if flagged:
        text = "; ".join(f"{d['column']} for {d['class']}: alone {d['solo_auroc']:.3f} vs all others "
                         f"{d['all_others_auroc']:.3f}" for d in flagged)
        return CheckResult("multivariate_probe", "warn", "feature(s) alone predict as well as all the other features "
                           f"together (cross-validated AUROC): {text}. Measured after the outcome? If so, list it in "
                           "data.drop", evidence)
    return CheckResult("multivariate_probe", "pass", f"no feature alone comes within {margin} AUROC of all the others "
                       f"together ({int(rows.sum())} sampled training rows, {len(others)} compared)", evidence)
