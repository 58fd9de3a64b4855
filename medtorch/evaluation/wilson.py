"""The Wilson score interval of a binomial proportion (e.g. a sensitivity from its counts).

Unlike the normal-approximation interval it stays inside [0, 1] and does not collapse to a
point at 0 or n successes, which matters for the small per-class counts of a monitoring window.
"""

from __future__ import annotations

import numpy as np


def wilson_interval(successes: int, n: int, level: float) -> tuple[float, float]:
    """Two-sided ``level`` interval for ``successes`` out of ``n``; (NaN, NaN) when ``n`` is 0."""
    from scipy.stats import norm

    if n == 0:
        return float("nan"), float("nan")
    z = norm.ppf(1 - (1 - level) / 2)
    phat = successes / n
    den = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / den
    half = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / den
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))
