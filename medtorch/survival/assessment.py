"""Survival assessment of risk scores on one split: every metric with a subject-level bootstrap
percentile interval, its n and number of events.

Harrell's C; Uno's C (truncated at the largest horizon); the integrated Brier score; and at each
horizon the cumulative/dynamic AUC, the Brier score, calibration per risk decile against Kaplan-Meier,
and the confusion matrix with MCC, sensitivity and specificity among patients of known status at the
horizon (threshold fixed on validation). IPCW weights come from the training split's censoring
distribution. The bootstrap resamples subjects (``data.subject_column``) or rows, with a seeded
generator; a resample in which a metric is undefined (no event, no control) is left out of that
metric's interval and counted.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from medtorch.survival import metrics as SM
from medtorch.survival.baseline import BreslowBaseline
from medtorch.survival.concordance import harrell_c, uno_c
from medtorch.survival.km import StepFunction


def _ci(estimate: float, draws: list[float], confidence: float) -> dict[str, Any]:
    d = np.asarray([v for v in draws if v is not None and np.isfinite(v)], dtype=float)
    a = (1.0 - confidence) / 2.0
    est = None if estimate is None or not np.isfinite(estimate) else float(estimate)
    if len(d) == 0:
        return {"estimate": est, "lower": None, "upper": None, "resamples_used": 0}
    return {"estimate": est, "lower": float(np.quantile(d, a)), "upper": float(np.quantile(d, 1.0 - a)),
            "resamples_used": int(len(d))}


def brier_grid(train_time, train_event, time, horizons_d: list[float], points: int) -> np.ndarray:
    """Times for the integrated Brier score: from the first training event to the largest horizon,
    kept below the split's last follow-up time (where the score is defined)."""
    lo = float(np.min(np.asarray(train_time)[np.asarray(train_event) == 1]))
    hi = min(max(horizons_d), float(np.max(time)) * 0.999)
    return np.linspace(lo, hi, points) if hi > lo else np.array([lo, lo + 1e-9])


def assess(time, event, eta, baseline: BreslowBaseline, censoring: StepFunction, horizons: list[float],
           horizons_d: list[float], thresholds: list[float], grid: np.ndarray, *, resamples: int, confidence: float,
           seed: int, groups: np.ndarray | None = None, bins: int = 10) -> dict[str, Any]:
    time, event, eta = np.asarray(time, float), np.asarray(event).astype(int), np.asarray(eta, float)
    surv_h = baseline.survival(eta, horizons_d)  # rows x horizons
    surv_grid = baseline.survival(eta, grid)
    tau = max(horizons_d)

    def metrics(rows: np.ndarray) -> dict[str, float]:
        t, e, r = time[rows], event[rows], eta[rows]
        out = {"cindex": harrell_c(t, e, r), "uno_cindex": uno_c(t, e, r, censoring, tau),
               "ibs": SM.integrated_brier(t, e, surv_grid[rows], grid, censoring) if e.sum() else float("nan")}
        for k, h in enumerate(horizons_d):
            out[f"td_auc_{k}"] = SM.td_auc(t, e, r, h, censoring)
            out[f"brier_{k}"] = SM.brier(t, e, surv_h[rows, k], h, censoring)
            conf = SM.horizon_confusion(t, e, 1.0 - surv_h[rows, k], h, thresholds[k])
            for m in ("mcc", "sensitivity", "specificity"):
                out[f"{m}_{k}"] = conf[m]
        return out

    everyone = np.arange(len(time))
    point = metrics(everyone)
    draws: dict[str, list[float]] = {k: [] for k in point}
    rng = np.random.default_rng(seed)
    sampler = _subject_sampler(groups, len(time)) if groups is not None else None
    for _ in range(resamples):
        rows = sampler(rng) if sampler else rng.integers(0, len(time), len(time))
        for k, v in metrics(rows).items():
            draws[k].append(v)

    def ci(key: str) -> dict[str, Any]:
        return _ci(point[key], draws[key], confidence)

    out: dict[str, Any] = {
        "n": int(len(time)), "events": int(event.sum()), "censored": int((event == 0).sum()),
        "resamples": resamples, "confidence": confidence,
        "bootstrap_unit": "subject" if groups is not None else "row",
        "overall": {"cindex": ci("cindex"), "uno_cindex": {**ci("uno_cindex"), "tau": tau},
                    "ibs": {**ci("ibs"), "grid": [float(grid[0]), float(grid[-1]), int(len(grid))]}},
        "horizons": [],
    }
    for k, (h, hd) in enumerate(zip(horizons, horizons_d)):
        conf = SM.horizon_confusion(time, event, 1.0 - surv_h[:, k], hd, thresholds[k])
        conf.update({"threshold": thresholds[k], "basis": "patients whose status at the horizon is known "
                     "(event by the horizon, or follow-up beyond it); censored earlier: left out",
                     "ci": {m: ci(f"{m}_{k}") for m in ("mcc", "sensitivity", "specificity")}})
        out["horizons"].append({
            "horizon": h, "horizon_duration": hd,
            "events_by_horizon": int(((time <= hd) & (event == 1)).sum()), "at_risk_after": int((time > hd).sum()),
            "td_auc": ci(f"td_auc_{k}"), "brier": ci(f"brier_{k}"),
            "calibration": SM.calibration(time, event, surv_h[:, k], hd, bins), "confusion": conf,
        })
    return out


def _subject_sampler(groups: np.ndarray, n: int) -> Callable[[np.random.Generator], np.ndarray]:
    """Resample subjects with replacement; each drawn subject brings all its rows."""
    codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)[1]
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])

    def draw(rng: np.random.Generator) -> np.ndarray:
        chosen = rng.integers(0, len(counts), len(counts))
        return np.concatenate([order[starts[c]:starts[c] + counts[c]] for c in chosen])

    return draw


def thresholds_on(time, event, eta, baseline: BreslowBaseline, horizons_d: list[float]) -> list[float]:
    """The risk threshold 1 - S(t) of highest MCC at each horizon, fixed on these (validation) rows."""
    surv = baseline.survival(eta, horizons_d)
    return [SM.best_threshold(time, event, 1.0 - surv[:, k], h) for k, h in enumerate(horizons_d)]
