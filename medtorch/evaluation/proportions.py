"""Confidence intervals of proportions (sensitivity, specificity, precision, NPV) from their counts.

A proportion k/n is a binomial quantity: its interval comes from the binomial model, not from
a bootstrap. The percentile bootstrap of 32/32 is [1, 1] (every resample is 32/32), so a
criterion on its lower bound would pass with no uncertainty at all; the Wilson score interval
of 32/32 is [0.89, 1.00].

- ``wilson`` (default): the score interval; its coverage averages close to the nominal level
  (tests/test_intervals_coverage.py computes it exactly for n = 20..2000).
- ``clopper_pearson`` ("exact"): never covers less than the nominal level; wider.

These are the intervals of ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson" | "exact")``.
SciPy computes one interval per call (about 50 microseconds each); an assessment needs hundreds
and the exact-coverage check millions, so the same formulas are applied here to whole arrays
with SciPy's distributions (``norm.ppf``, ``beta.ppf``), and a test checks them against
``binomtest`` on a grid of (k, n).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

METHODS = {"wilson": "Wilson score", "clopper_pearson": "Clopper-Pearson (exact)"}


@dataclass
class ProportionInterval:
    estimate: float
    lower: float
    upper: float
    n: int  # the denominator: the interval is only as good as this
    method: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def proportion_bounds(k, n, confidence: float, method: str = "wilson") -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds for ``k`` successes out of ``n`` (arrays broadcast); NaN where n is 0."""
    from scipy.stats import beta, norm

    if method not in METHODS:
        raise ValueError(f"interval method must be one of {tuple(METHODS)}; got {method!r}")
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    k, n = np.broadcast_arrays(k, n)
    lo, hi = np.full(k.shape, np.nan), np.full(k.shape, np.nan)
    ok = n > 0
    kk, nn = k[ok], n[ok]
    alpha = 1.0 - confidence
    if method == "wilson":
        z = norm.ppf(1 - alpha / 2)
        p = kk / nn
        den = 1 + z * z / nn
        centre = (p + z * z / (2 * nn)) / den
        half = z * np.sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / den
        lo[ok], hi[ok] = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    else:
        with np.errstate(invalid="ignore"):
            lo[ok] = np.where(kk > 0, beta.ppf(alpha / 2, kk, nn - kk + 1), 0.0)
            hi[ok] = np.where(kk < nn, beta.ppf(1 - alpha / 2, kk + 1, nn - kk), 1.0)
    return lo, hi


def proportion_interval(k: int, n: int, confidence: float, method: str = "wilson") -> ProportionInterval:
    lo, hi = proportion_bounds(k, n, confidence, method)
    est = float(k) / n if n else float("nan")
    return ProportionInterval(est, float(lo), float(hi), int(n), method)


def wilson_interval(successes: int, n: int, level: float) -> tuple[float, float]:
    """Two-sided ``level`` Wilson interval as a (lower, upper) pair; (NaN, NaN) when ``n`` is 0."""
    lo, hi = proportion_bounds(successes, n, level, "wilson")
    return float(lo), float(hi)


def per_class_counts(cm: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(successes, denominator) per class of each proportion the assessment reports."""
    cm = np.asarray(cm, dtype=np.int64)
    tp = np.diag(cm)
    support, predicted, total = cm.sum(axis=1), cm.sum(axis=0), cm.sum()
    fn, fp = support - tp, predicted - tp
    tn = total - tp - fn - fp
    return {"sensitivity": (tp, tp + fn), "specificity": (tn, tn + fp), "precision": (tp, tp + fp), "npv": (tn, tn + fn)}


def per_class_intervals(cm: np.ndarray, classes, confidence: float, method: str = "wilson") -> dict[str, dict[str, Any]]:
    """{class: {support, sensitivity, specificity, precision, npv}}, each proportion with its interval and n."""
    cm = np.asarray(cm, dtype=np.int64)
    counts = per_class_counts(cm)
    out: dict[str, dict[str, Any]] = {c: {"support": int(cm[j].sum())} for j, c in enumerate(classes)}
    for name, (k, n) in counts.items():
        lo, hi = proportion_bounds(k, n, confidence, method)
        for j, c in enumerate(classes):
            est = float(k[j]) / float(n[j]) if n[j] else float("nan")
            out[c][name] = ProportionInterval(est, float(lo[j]), float(hi[j]), int(n[j]), method).as_dict()
    return out


def exact_coverage(n: int, p: np.ndarray, confidence: float, method: str = "wilson") -> np.ndarray:
    """Exact coverage probability at each true proportion ``p`` for sample size ``n`` (no simulation).

    Coverage(p) = sum over k of P(K = k | n, p) for the k whose interval contains p. The bounds
    increase with k, so those k form one run [first k with upper >= p, last k with lower <= p],
    and the sum is a difference of two binomial CDFs.
    """
    from scipy.stats import binom

    k = np.arange(n + 1)
    lo, hi = proportion_bounds(k, n, confidence, method)
    p = np.asarray(p, dtype=np.float64)
    first = np.searchsorted(hi, p, side="left")  # smallest k with hi[k] >= p
    last = np.searchsorted(lo, p, side="right") - 1  # largest k with lo[k] <= p
    cov = binom.cdf(last, n, p) - binom.cdf(first - 1, n, p)
    return np.where(last >= first, cov, 0.0)
