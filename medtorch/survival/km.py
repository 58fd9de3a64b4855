"""Kaplan-Meier estimates in numpy: of survival, and of the censoring distribution (reverse KM).

Hand-written (a few vectorised lines) because the bootstrap calls them hundreds of times; tests
check them against lifelines' KaplanMeierFitter and scikit-survival's CensoringDistributionEstimator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StepFunction:
    """A right-continuous step function: value[k] holds on [times[k], times[k+1]); 1 before times[0]."""

    times: np.ndarray
    values: np.ndarray

    def __call__(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        idx = np.searchsorted(self.times, t, side="right") - 1
        out = np.where(idx >= 0, self.values[np.clip(idx, 0, None)] if len(self.values) else 1.0, 1.0)
        return out

    def median(self) -> float:
        """First time the function falls to 0.5 or below (NaN if it never does)."""
        below = np.flatnonzero(self.values <= 0.5)
        return float(self.times[below[0]]) if len(below) else float("nan")


def kaplan_meier(time: np.ndarray, event: np.ndarray) -> StepFunction:
    """Product-limit estimate of S(t) = P(T > t)."""
    time, event = np.asarray(time, float), np.asarray(event).astype(bool)
    uniq, inv = np.unique(time, return_inverse=True)
    d = np.bincount(inv, weights=event, minlength=len(uniq))
    n_t = np.bincount(inv, minlength=len(uniq))
    at_risk = n_t[::-1].cumsum()[::-1]
    return StepFunction(uniq, np.cumprod(1.0 - d / at_risk))


def censoring_km(time: np.ndarray, event: np.ndarray) -> StepFunction:
    """G(t) = P(C > t), the reverse Kaplan-Meier: censorings are the 'events'.

    At a time with both events and censorings the events are taken to come first (they leave the
    censoring risk set), as scikit-survival's ``kaplan_meier_estimator(reverse=True)`` does.
    """
    time, event = np.asarray(time, float), np.asarray(event).astype(bool)
    uniq, inv = np.unique(time, return_inverse=True)
    c = np.bincount(inv, weights=~event, minlength=len(uniq))
    d = np.bincount(inv, weights=event, minlength=len(uniq))
    n_t = np.bincount(inv, minlength=len(uniq))
    at_risk = n_t[::-1].cumsum()[::-1] - d
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(at_risk > 0, 1.0 - c / np.where(at_risk > 0, at_risk, 1), 1.0)
    return StepFunction(uniq, np.cumprod(step))


def median_follow_up(time: np.ndarray, event: np.ndarray) -> float:
    """Median follow-up by the reverse Kaplan-Meier method (Schemper & Smith 1996)."""
    return kaplan_meier(time, 1 - np.asarray(event).astype(int)).median()
