"""Survival metrics at a horizon or over time, in numpy: time-dependent AUC, Brier score, integrated
Brier score, calibration per risk decile against Kaplan-Meier, and the confusion matrix with MCC at a
horizon. Conventions follow scikit-survival (checked against it in tests/test_survival_numbers.py).
Written here rather than called from scikit-survival: the bootstrap calls them thousands of times on
small arrays, where its per-call input validation and structured arrays dominate, and scikit-survival
stays a test-only reference (it pins scikit-learn below 1.10, which a runtime dependency would impose).

Inverse-probability-of-censoring weights use G, the censoring survival estimated on the TRAINING split
(``km.censoring_km``), evaluated at the patient's own time for events and at the horizon for patients
still at risk.

The confusion matrix at a horizon t is counted among patients whose status at t is known: an event
at or before t (positive), or follow-up beyond t (negative). Patients censored before t are left out
and counted as ``unknown``. A predicted positive is a predicted risk 1 - S(t | x) at or above the
threshold fixed on validation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medtorch.evaluation.metrics import mcc as _mcc_of_matrix
from medtorch.survival.km import StepFunction, kaplan_meier


def _weights_at(censoring: StepFunction, t: np.ndarray) -> np.ndarray:
    g = censoring(t)
    return np.where(g > 0, 1.0 / np.where(g > 0, g, 1.0), 0.0)


def td_auc(time, event, risk, horizon: float, censoring: StepFunction) -> float:
    """Cumulative/dynamic AUC at ``horizon``: cases T <= t with an event (IPCW-weighted), controls T > t."""
    time, risk = np.asarray(time, float), np.asarray(risk, float)
    event = np.asarray(event).astype(bool)
    cases = event & (time <= horizon)
    controls = time > horizon
    if not cases.any() or not controls.any():
        return float("nan")
    w = _weights_at(censoring, time[cases])
    if np.any(w == 0):
        return float("nan")  # G(t) = 0 at a case's time: no weight exists (scikit-survival refuses these data)
    ctrl = np.sort(risk[controls])
    lower = np.searchsorted(ctrl, risk[cases], side="left")
    equal = np.searchsorted(ctrl, risk[cases], side="right") - lower
    return float((w * (lower + 0.5 * equal)).sum() / (w.sum() * len(ctrl)))


def brier(time, event, surv_at_t: np.ndarray, horizon: float, censoring: StepFunction) -> float:
    """IPCW Brier score at ``horizon`` of predicted survival probabilities S(t | x_i)."""
    time = np.asarray(time, float)
    event = np.asarray(event).astype(bool)
    s = np.asarray(surv_at_t, float)
    died = event & (time <= horizon)
    alive = time > horizon
    w_died = _weights_at(censoring, time)
    w_alive = _weights_at(censoring, np.array([horizon]))[0]
    if (alive.any() and w_alive == 0) or np.any(w_died[died] == 0):
        return float("nan")  # the training censoring distribution reaches 0 before these times: undefined
    score = np.where(died, s ** 2 * w_died, 0.0) + np.where(alive, (1.0 - s) ** 2 * w_alive, 0.0)
    return float(score.mean())


def integrated_brier(time, event, surv_grid: np.ndarray, grid: np.ndarray, censoring: StepFunction) -> float:
    """Brier score integrated over ``grid`` by the trapezoid rule, divided by the grid's span."""
    scores = np.array([brier(time, event, surv_grid[:, k], t, censoring) for k, t in enumerate(grid)])
    return float(np.trapezoid(scores, grid) / (grid[-1] - grid[0]))


def calibration(time, event, surv_at_t: np.ndarray, horizon: float, bins: int = 10) -> list[dict[str, Any]]:
    """Per risk decile: mean predicted risk 1 - S(t) against the Kaplan-Meier observed risk 1 - KM(t)."""
    risk = 1.0 - np.asarray(surv_at_t, float)
    time, event = np.asarray(time, float), np.asarray(event).astype(int)
    order = np.argsort(risk, kind="stable")
    out = []
    for k, rows in enumerate(np.array_split(order, min(bins, len(order)))):
        if len(rows) == 0:
            continue
        km = kaplan_meier(time[rows], event[rows])
        out.append({"group": k + 1, "n": int(len(rows)), "events": int(event[rows].sum()),
                    "predicted": float(risk[rows].mean()), "observed": float(1.0 - km(horizon))})
    return out


def known_status(time, event, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """(known, positive): status at ``horizon`` is known for an event by t or follow-up beyond t."""
    time = np.asarray(time, float)
    event = np.asarray(event).astype(bool)
    positive = event & (time <= horizon)
    return positive | (time > horizon), positive


def horizon_confusion(time, event, predicted_risk, horizon: float, threshold: float) -> dict[str, Any]:
    """Confusion matrix [[TN, FP], [FN, TP]] at ``horizon`` among patients of known status, with MCC."""
    known, positive = known_status(time, event, horizon)
    pred = np.asarray(predicted_risk, float) >= threshold
    y, p = positive[known].astype(int), pred[known].astype(int)
    cm = np.bincount(y * 2 + p, minlength=4).reshape(2, 2)
    tn, fp, fn, tp = (int(v) for v in cm.ravel())
    sens = tp / (tp + fn) if tp + fn else float("nan")
    spec = tn / (tn + fp) if tn + fp else float("nan")
    return {"confusion_matrix": cm.tolist(), "mcc": float(_mcc_of_matrix(cm)), "sensitivity": sens,
            "specificity": spec, "n_known": int(known.sum()), "unknown": int((~known).sum()),
            "positives": int(y.sum())}


def best_threshold(time, event, predicted_risk, horizon: float) -> float:
    """The risk threshold with the highest MCC at ``horizon`` (validation rows of known status)."""
    known, _ = known_status(time, event, horizon)
    candidates = np.unique(np.asarray(predicted_risk, float)[known])
    if len(candidates) == 0:
        return 0.5
    if len(candidates) > 200:
        candidates = np.quantile(candidates, np.linspace(0.0, 1.0, 201))
    scores = [horizon_confusion(time, event, predicted_risk, horizon, c)["mcc"] for c in candidates]
    return float(candidates[int(np.nanargmax(scores))]) if not np.all(np.isnan(scores)) else 0.5
