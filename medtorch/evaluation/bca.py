"""Bootstrap intervals from resampled values: BCa where it is stable, percentile otherwise.

BCa (bias-corrected and accelerated, Efron 1987) shifts the percentile levels by the
bootstrap's median bias (z0, from the share of resamples below the estimate) and by the
skewness of the statistic (the acceleration a, from a jackknife). The jackknife leaves out one
subject at a time (one row when there is no subject column); with more than ``MAX_BLOCKS``
subjects or rows they are dealt into ``MAX_BLOCKS`` seeded blocks and one block is left out
at a time (a grouped jackknife), which keeps it cheap for any n.

BCa is not used, and the percentile interval is given instead with the reason recorded, when:
- fewer than ``MIN_BLOCKS`` jackknife blocks exist, or the jackknife values are constant or
  undefined (no acceleration can be estimated);
- every resample lies on one side of the estimate (z0 is infinite, e.g. an AUROC of 1);
- |a| >= ``MAX_ACCELERATION`` (the skewness estimate is unreliable);
- the adjusted levels fall within 1/B of 0 or 1 (the bound would be an extreme resample).

``scipy.stats.bootstrap(method="BCa")`` computes the same interval, but it resamples rows
itself (no subjects, no class stratification) and jackknifes every row; the formula is
applied here to resamples that medtorch draws, and a test checks it against SciPy's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

MAX_BLOCKS = 200
MIN_BLOCKS = 10
MAX_ACCELERATION = 0.2


@dataclass
class Interval:
    estimate: float
    lower: float
    upper: float
    undefined_resamples: int = 0
    method: str = "percentile"
    note: str = ""  # why percentile was used instead of BCa

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def jackknife_blocks(unit: np.ndarray, units: int, seed: int) -> tuple[np.ndarray, int]:
    """Jackknife block of each row: its unit (subject or row), or one of MAX_BLOCKS seeded blocks of units."""
    if units <= MAX_BLOCKS:
        return np.asarray(unit, dtype=np.intp), int(units)
    deal = np.random.default_rng(seed + 1).permutation(units) % MAX_BLOCKS
    return deal[unit].astype(np.intp), MAX_BLOCKS


def percentile_interval(estimate: float, values: np.ndarray, confidence: float, note: str = "") -> Interval:
    finite = values[~np.isnan(values)]
    if finite.size == 0 or estimate is None or np.isnan(estimate):
        return Interval(float(estimate) if estimate is not None else float("nan"), float("nan"), float("nan"),
                        int(values.size - finite.size), "percentile", note or "undefined")
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    if lo == hi:
        note = (note + "; " if note else "") + ("every resample gives the same value: a zero-width bootstrap interval "
                                                "is a limit of the bootstrap, not certainty")
    return Interval(float(estimate), float(lo), float(hi), int(values.size - finite.size), "percentile", note)


def bca_levels(estimate: float, values: np.ndarray, jack: np.ndarray, confidence: float) -> tuple[np.ndarray | None, str]:
    """The BCa-adjusted percentile levels, or (None, why BCa is not stable here)."""
    from scipy.stats import norm

    jack = jack[~np.isnan(jack)] if jack is not None else np.array([])
    if jack.size < MIN_BLOCKS:
        return None, f"fewer than {MIN_BLOCKS} jackknife blocks with a defined value"
    d = jack.mean() - jack
    ss = float((d * d).sum())
    if ss <= 1e-24 * max(1.0, float(np.abs(jack).max()) ** 2):
        return None, "jackknife values constant: no acceleration can be estimated"
    a = float((d**3).sum() / (6.0 * ss**1.5))
    if abs(a) >= MAX_ACCELERATION:
        return None, f"acceleration |a| = {abs(a):.2f} >= {MAX_ACCELERATION}: skewness estimate unreliable"
    b = values.size
    share = (np.sum(values < estimate) + 0.5 * np.sum(values == estimate)) / b
    if share <= 0.0 or share >= 1.0:
        return None, "every resample on one side of the estimate (bias correction infinite)"
    z0 = norm.ppf(share)
    z = norm.ppf([(1 - confidence) / 2, (1 + confidence) / 2])
    levels = norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
    if not np.all(np.isfinite(levels)) or levels[0] < 1.0 / b or levels[1] > 1.0 - 1.0 / b:
        return None, "BCa levels within 1/B of 0 or 1: the bound would be an extreme resample"
    return levels, ""


def interval(estimate: float, values: np.ndarray, jack: np.ndarray | None, confidence: float, method: str = "bca") -> Interval:
    """BCa interval where stable (``method="bca"``), else the percentile interval with the reason."""
    finite = values[~np.isnan(values)]
    if method != "bca" or estimate is None or np.isnan(estimate) or finite.size == 0:
        return percentile_interval(estimate, values, confidence, "" if method != "bca" else "undefined")
    levels, why = bca_levels(float(estimate), finite, jack, confidence)
    if levels is None:
        return percentile_interval(estimate, values, confidence, why)
    lo, hi = np.quantile(finite, levels)
    return Interval(float(estimate), float(lo), float(hi), int(values.size - finite.size), "bca", "")
