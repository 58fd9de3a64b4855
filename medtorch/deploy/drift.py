"""Drift of new data from the training reference: PSI, Kolmogorov-Smirnov, chi-square, missingness.

Pure functions on counts and arrays. A column drifts when its population stability index
reaches the plan's ``psi_threshold``, or when its test (KS for numbers, chi-square for
categories) is significant after Bonferroni correction over the columns tested *and* its
effect size (KS D, Cramer's V) reaches ``min_effect``: with many rows every tiny shift is
significant, so significance alone is not drift. Missingness is flagged separately, when
a column's fraction missing changes by ``missingness_change`` or more.
"""

from __future__ import annotations

from typing import Any

import numpy as np

EPS = 1e-4  # floor for empty bins, so PSI stays finite


def psi(ref_counts, new_counts, eps: float = EPS) -> float:
    """Population stability index: sum over bins of (q - p) * ln(q / p)."""
    p = np.asarray(ref_counts, dtype=np.float64)
    q = np.asarray(new_counts, dtype=np.float64)
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    p = np.maximum(p / p.sum(), eps)
    q = np.maximum(q / q.sum(), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def _missing(ref: dict[str, Any], missing_new: float, plan) -> dict[str, Any]:
    change = missing_new - ref["missing_fraction"]
    return {"missing_reference": ref["missing_fraction"], "missing_new": missing_new, "missing_change": change,
            "missingness_alarm": bool(abs(change) >= plan.missingness_change)}


def numeric_drift(ref: dict[str, Any], x: np.ndarray, alpha: float, plan) -> dict[str, Any]:
    from scipy.stats import ks_2samp

    from medtorch.deploy.reference import bin_counts

    x = np.asarray(x, dtype=np.float64)
    present = x[~np.isnan(x)]
    out: dict[str, Any] = {"column": ref["column"], "kind": "numeric", "test": "ks", "n": int(len(present))}
    out.update(_missing(ref, float(np.isnan(x).mean()) if len(x) else 0.0, plan))
    if len(present) == 0:
        return {**out, "psi": None, "statistic": None, "pvalue": None, "drift": False, "note": "no values"}
    new_counts = bin_counts(present, ref["edges"])
    ks = ks_2samp(np.asarray(ref["sample"]), present)
    out.update(psi=psi(ref["counts"], new_counts), statistic=float(ks.statistic), pvalue=float(ks.pvalue),
               reference_counts=ref["counts"], new_counts=new_counts.tolist())
    out["drift"] = bool(out["psi"] >= plan.psi_threshold or (out["pvalue"] < alpha and out["statistic"] >= plan.min_effect))
    return out


def level_counts(values) -> dict[str, int]:
    """Count of each category level among ``values`` (missing values not counted)."""
    import pandas as pd

    from medtorch.data.levels import level_text

    return {str(k): int(v) for k, v in level_text(pd.Series(values)).dropna().value_counts().items()}


def categorical_counts(ref_counts: dict[str, int], new: dict[str, int]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Levels (training levels, then any unseen), reference counts, new counts, from two count tables."""
    levels = list(ref_counts) + sorted(k for k, n in new.items() if n and k not in ref_counts)
    r = np.array([ref_counts.get(k, 0) for k in levels], dtype=np.float64)
    q = np.array([new.get(k, 0) for k in levels], dtype=np.float64)
    return levels, r, q


def table_test(r: np.ndarray, q: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity of two count vectors: (p-value, Cramer's V)."""
    from scipy.stats import chi2_contingency

    keep = (r + q) > 0
    table = np.vstack([r[keep], q[keep]])
    if table.shape[1] < 2 or table[1].sum() == 0:
        return 1.0, 0.0
    chi2, p, _, _ = chi2_contingency(table, correction=False)
    v = np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1)))
    return float(p), float(v)


def categorical_drift(ref: dict[str, Any], values, alpha: float, plan) -> dict[str, Any]:
    import pandas as pd

    s = pd.Series(values)
    return categorical_drift_counts(ref, level_counts(s), int(s.isna().sum()), alpha, plan)


def categorical_drift_counts(ref: dict[str, Any], new: dict[str, int], n_missing: int, alpha: float, plan) -> dict[str, Any]:
    """Drift of a categorical column given the count of each level and of missing values in the new rows."""
    n = int(sum(new.values()))
    out: dict[str, Any] = {"column": ref["column"], "kind": "categorical", "test": "chi-square", "n": n}
    out.update(_missing(ref, n_missing / (n + n_missing) if n + n_missing else 0.0, plan))
    levels, r, q = categorical_counts(ref["counts"], new)
    if q.sum() == 0:
        return {**out, "psi": None, "statistic": None, "pvalue": None, "drift": False, "note": "no values"}
    p, v = table_test(r, q)
    out.update(psi=psi(r, q), statistic=v, pvalue=p, levels=levels, reference_counts=r.astype(int).tolist(),
               new_counts=q.astype(int).tolist(), unseen_levels=[k for k in levels if k not in ref["counts"]])
    out["drift"] = bool(out["psi"] >= plan.psi_threshold or (p < alpha and v >= plan.min_effect))
    return out


def prediction_drift(ref_counts: dict[str, int], predicted: dict[str, int], alpha: float, plan) -> dict[str, Any]:
    """Drift of the predicted-class distribution, given the count of each predicted class."""
    levels, r, q = categorical_counts(ref_counts, predicted)
    if q.sum() == 0:
        return {"psi": None, "pvalue": None, "statistic": None, "drift": False, "note": "no predictions"}
    p, v = table_test(r, q)
    value = psi(r, q)
    return {"classes": levels, "reference_counts": r.astype(int).tolist(), "new_counts": q.astype(int).tolist(),
            "psi": value, "pvalue": p, "statistic": v,
            "drift": bool(value >= plan.psi_threshold or (p < alpha and v >= plan.min_effect))}
