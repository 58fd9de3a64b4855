"""Performance on labelled new data, with confidence intervals, against the plan's thresholds.

MCC (the multi-class form of ``medtorch.evaluation.metrics``) with a percentile bootstrap
interval (``medtorch.evaluation.bootstrap``), and per-class sensitivity with a Wilson score
interval (``medtorch.evaluation.proportions``, from SciPy). Unlike the assessment's class-stratified bootstrap,
new data has no fixed class counts, so rows are resampled without stratification. Resampling rows with
replacement is the same as drawing the confusion-matrix cells from a multinomial with the
observed cell proportions, so the bootstrap draws counts, not rows: fast for any n.

A threshold is breached when the estimate is below it (``alarm_on: estimate``) or, more
conservatively, only when the whole interval is below it (``alarm_on: upper_bound``).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from medtorch.evaluation.bootstrap import mcc_many, percentile_interval
from medtorch.evaluation.metrics import confusion_matrix, mcc
from medtorch.evaluation.proportions import wilson_interval


def mcc_interval(cm: np.ndarray, level: float, resamples: int, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of MCC over ``resamples`` multinomial draws of the confusion-matrix cells."""
    cm = np.asarray(cm)
    k, n = cm.shape[0], int(cm.sum())
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, cm.ravel() / n, size=resamples)
    ci = percentile_interval(mcc(cm), mcc_many(draws.reshape(-1, k, k)), level)
    return ci.lower, ci.upper


def _check(estimate: float, high: float, threshold: Optional[float], alarm_on: str) -> Optional[bool]:
    if threshold is None or np.isnan(estimate):
        return None
    value = high if alarm_on == "upper_bound" else estimate
    return bool(value < threshold)


def degradation(y: np.ndarray, pred: np.ndarray, classes: list[str], plan, seed: int = 0) -> dict[str, Any]:
    """MCC and per-class sensitivity with intervals, and which thresholds they breach."""
    k = len(classes)
    cm = confusion_matrix(y, pred, k)
    est = mcc(cm)
    lo, hi = mcc_interval(cm, plan.ci_level, plan.bootstrap, seed)
    out: dict[str, Any] = {"n": int(cm.sum()), "ci_level": plan.ci_level, "alarm_on": plan.alarm_on,
                           "confusion_matrix": cm.tolist(), "breaches": []}
    out["mcc"] = {"estimate": est, "low": lo, "high": hi, "threshold": plan.min_mcc,
                  "breach": _check(est, hi, plan.min_mcc, plan.alarm_on)}
    if out["mcc"]["breach"]:
        out["breaches"].append(f"MCC {est:.3f} (CI {lo:.3f} to {hi:.3f}) is below the threshold {plan.min_mcc}")
    sens = {}
    for j, name in enumerate(classes):
        n, tp = int(cm[j].sum()), int(cm[j, j])
        e = tp / n if n else float("nan")
        slo, shi = wilson_interval(tp, n, plan.ci_level)
        thr = plan.min_sensitivity.get(name, plan.min_sensitivity.get("*"))
        breach = _check(e, shi, thr, plan.alarm_on)
        sens[name] = {"n": n, "estimate": e, "low": slo, "high": shi, "threshold": thr, "breach": breach}
        if breach:
            out["breaches"].append(f"sensitivity of class {name} {e:.3f} (CI {slo:.3f} to {shi:.3f}, n={n}) "
                                   f"is below the threshold {thr}")
    out["sensitivity"] = sens
    return out
